"""The SS 12000 connector against the sandbox API: page tokens, incremental reads, deletes."""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from connectors.base import Rejected, Removed, RetryPolicy, bookmark_text
from connectors.errors import ConfigError, PartialReadError
from connectors.identity.ss12000 import SS12000
from hub.settings import SettingsError, parse_settings
from hub.sources import build_source, entity_types_of, source_domain
from schemas.entities import Entity, Membership, Person
from schemas.ss12000 import Duty, Placement
from tests.fixtures.ss12000 import SS12000Sandbox, SS12000SandboxFactory


def read(connector: SS12000, *, full: bool = True) -> list[object]:
    """Everything one read yields; `full=False` reads incrementally from its bookmarks."""
    connector.full_snapshot = full
    with connector:
        return list(connector.read())


def test_paging_follows_the_page_token_to_the_end_sending_it_alone(ss12000_sandbox: SS12000Sandbox):
    """Pages of 20 persons are fetched until the token runs out; later pages send only the token."""
    persons = ss12000_sandbox.data.count("persons")
    items = read(ss12000_sandbox.connector(page_size=20))
    queries = ss12000_sandbox.queries("/persons")
    assert persons == len({i.key for i in items if isinstance(i, Person)})
    assert math.ceil(persons / 20) == len(queries)
    assert {"limit": ["20"], "expand": ["duties", "placements"]} == queries[0]
    assert [["pageToken"]] * (len(queries) - 1) == [sorted(q) for q in queries[1:]]


def test_an_incremental_read_filters_the_first_page_only_and_is_never_refused(
    ss12000_sandbox: SS12000Sandbox,
):
    """With a bookmark, `meta.modified.after` goes on the first page; no request gets a 400."""
    sandbox = ss12000_sandbox
    first_run = sandbox.connector()
    read(first_run)
    connector = sandbox.connector(page_size=3)
    connector.bookmarks = dict(first_run.bookmarks)
    bookmark = connector.bookmarks["persons"]
    for n in range(7):
        sandbox.data.modify("persons", sandbox.data.id_of("persons", n), {"familyName": "Ändrad"})
    sandbox.app.queries.clear()

    items = read(connector, full=False)

    first, *later = sandbox.queries("/persons")
    overlap = datetime.fromisoformat(bookmark.replace("Z", "+00:00")) - timedelta(seconds=60)
    people = [i for i in items if isinstance(i, Person)]
    assert [bookmark_text(overlap)] == first["meta.modified.after"]
    assert [{"pageToken"}] * (math.ceil(len(people) / 3) - 1) == [set(q) for q in later]
    assert 0 == sandbox.server.count(status=400)
    assert 7 == sum(1 for p in people if p.family_name == "Ändrad")
    # Besides the changes, only what the overlap before the bookmark covers is read again.
    assert all(p.source_modified >= overlap for p in people if p.family_name != "Ändrad")


def test_an_incremental_read_turns_deleted_entities_into_removes(ss12000_sandbox: SS12000Sandbox):
    """Ids deleted since the last run come back as `Removed` of their entity type."""
    sandbox = ss12000_sandbox
    connector = sandbox.connector()
    read(connector)
    started = connector.bookmarks["deletedEntities"]
    person, duty = sandbox.data.id_of("persons", 3), sandbox.data.id_of("duties", 1)
    placement = sandbox.data.id_of("placements", 0)
    for collection, object_id in (("persons", person), ("duties", duty), ("placements", placement)):
        sandbox.data.delete(collection, object_id)

    items = read(connector, full=False)

    assert {
        Removed(Person, person),
        Removed(Duty, duty),
        Removed(Placement, placement),
    } == {i for i in items if isinstance(i, Removed)}
    (query,) = sandbox.queries("/deletedEntities")
    since = datetime.fromisoformat(started.replace("Z", "+00:00")) - timedelta(seconds=60)
    assert [bookmark_text(since)] == query["after"]


def test_a_full_read_does_not_ask_for_deletions_but_starts_their_bookmark(
    ss12000_sandbox: SS12000Sandbox,
):
    """Reconciliation covers deletes on a full run; the next incremental run starts from it."""
    before = datetime.now(UTC)
    connector = ss12000_sandbox.connector()
    read(connector)
    mark = datetime.fromisoformat(connector.bookmarks["deletedEntities"].replace("Z", "+00:00"))
    assert [] == ss12000_sandbox.queries("/deletedEntities")
    assert before - timedelta(seconds=1) <= mark <= datetime.now(UTC)


def test_a_read_yields_every_entity_type_the_register_holds(ss12000_sandbox: SS12000Sandbox):
    """Organisations, persons, duties, placements, groups and memberships, as many as served."""
    data = ss12000_sandbox.data
    owner = data.owner
    items = read(ss12000_sandbox.connector())
    counts = Counter(i.entity for i in items if isinstance(i, Entity))
    teachers = sum(len(a.groups) * len(a.duties) for a in owner.activities)
    assignments = sum(len(d.assignments) for d in owner.duties)
    assert {
        "organisation": data.count("organisations"),
        "person": data.count("persons"),
        "duty": data.count("duties"),
        "placement": data.count("placements"),
        "group": data.count("groups"),
        "membership": sum(len(g.members) for g in owner.groups) + teachers + assignments,
    } == dict(counts)


def test_a_source_without_activities_is_read_without_them(ss12000_sandbox: SS12000Sandbox):
    """A 404 on `/activities` skips the stream with a log line; `activities: false` never asks."""
    sandbox = ss12000_sandbox
    sandbox.server.add_fault(kind="status", status=404, path="/activities", times=-1)
    with capture_logs() as logs:
        items = read(sandbox.connector())
    teachers = [i for i in items if isinstance(i, Membership) and "|activity:" in i.key]
    assert ([], 1) == (teachers, sandbox.server.count("/activities"))
    assert {
        "event": "stream_not_offered",
        "log_level": "info",
        "stream": "activities",
        "status": 404,
    } in logs
    read(sandbox.connector(activities=False))
    assert 1 == sandbox.server.count("/activities")


def test_a_404_on_a_later_page_of_activities_fails_the_read(ss12000_sandbox: SS12000Sandbox):
    """Only a 404 on the first page means `no activities`; on page two the read fails."""
    sandbox = ss12000_sandbox
    sandbox.server.add_fault(kind="status", status=404, path="/activities", after=1)
    with pytest.raises(PartialReadError) as caught:
        read(sandbox.connector(page_size=5))
    assert ("activities", 404, 5) == (
        caught.value.stream,
        caught.value.status,
        caught.value.read,
    )


def test_an_empty_page_that_carries_a_page_token_does_not_end_the_read(
    ss12000_sandbox: SS12000Sandbox,
):
    """An empty `/persons` page with a `pageToken` is read past: every person is read."""
    sandbox = ss12000_sandbox
    sandbox.server.add_fault(kind="empty_page", path="/persons", after=1)
    items = read(sandbox.connector(page_size=20))
    assert sandbox.data.count("persons") == len({i.key for i in items if isinstance(i, Person)})


def test_faulty_records_are_rejected_and_the_rest_is_read(
    ss12000_sandbox_factory: SS12000SandboxFactory,
):
    """Each planted fault is a dead letter, but a bad civic number keeps its person (flagged)."""
    sandbox = ss12000_sandbox_factory(faults=True)
    items = read(sandbox.connector())
    rejected = sorted(i.entity for i in items if isinstance(i, Rejected))
    assert ["duty", "organisation", "person", "placement"] == rejected
    flagged = [i for i in items if isinstance(i, Person) and i.nin_invalid]
    assert 2 == len(flagged)


def test_the_token_request_and_every_api_call_present_the_client_certificate(
    ss12000_sandbox: SS12000Sandbox, tmp_path: Path
):
    """Configured `client_cert` and `client_key` become the session's certificate pair."""
    cert, key = tmp_path / "client.pem", tmp_path / "client.key"
    cert.write_text("cert")
    key.write_text("key")
    connector = ss12000_sandbox.connector(client_cert=str(cert), client_key=str(key))
    assert (str(cert), str(key)) == connector.session.cert


def test_a_missing_client_certificate_file_is_a_configuration_error(
    ss12000_sandbox: SS12000Sandbox, tmp_path: Path
):
    """A `client_cert` path that does not exist fails at once, naming the setting."""
    with pytest.raises(ConfigError) as caught:
        ss12000_sandbox.connector(client_cert=str(tmp_path / "missing.pem"))
    assert f"client_cert {tmp_path / 'missing.pem'} is not a readable file" == caught.value.message


def test_an_ss12000_source_is_an_identity_source_built_from_its_settings(
    ss12000_sandbox: SS12000Sandbox,
):
    """`source_domain` says identity, so the identity DAG covers it; `build_source` builds it."""
    settings = parse_settings({"tenants": [ss12000_sandbox.tenant_entry()]})
    tenant = settings.tenant(ss12000_sandbox.tenant)
    source = tenant.sources[0]
    built = build_source(tenant, source)
    assert ("identity", SS12000.entity_types, SS12000) == (
        source_domain(source),
        entity_types_of(source),
        type(built),
    )
    with built:
        assert None is built.check()


def test_retries_of_a_throttled_follow_up_page_resend_the_same_token(
    ss12000_sandbox: SS12000Sandbox,
):
    """A 429 on page 2 is retried with the same token alone, and the read completes."""
    sandbox = ss12000_sandbox
    waits: list[float] = []
    sandbox.server.add_fault(kind="status", status=429, retry_after=1, path="/persons", after=1)
    items = read(sandbox.connector(page_size=50, retry=RetryPolicy(sleep=waits.append)))
    pages = math.ceil(sandbox.data.count("persons") / 50)
    assert ([1.0], 1, pages + 1) == (
        waits,
        sandbox.server.count("/persons", status=429),
        sandbox.server.count("/persons"),
    )
    assert [{"pageToken"}] * (pages - 1) == [set(q) for q in sandbox.queries("/persons")[1:]]
    assert sandbox.data.count("persons") == len({i.key for i in items if isinstance(i, Person)})


def test_a_client_key_without_its_certificate_fails_at_load_naming_the_source():
    """The configuration names the source and what is missing."""
    entry = {
        "type": "ss12000",
        "id": "sis",
        "base_url": "https://sis.example",
        "auth": {"kind": "bearer", "secret": {"env": "UNUSED"}},
        "client_key": "/etc/skolehub/client.key",
    }
    with pytest.raises(SettingsError) as caught:
        parse_settings({"tenants": [{"id": "ekby", "name": "Ekby", "sources": [entry]}]})
    assert (
        "hub.yaml is invalid:\n  tenants.0.sources.0.ss12000: "
        "Value error, client_key is set, so client_cert must be set too"
    ) == str(caught.value)
