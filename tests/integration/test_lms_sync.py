"""The LMS end to end: the sandbox OneRoster provider, the connector, the runner, real Kafka."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from connectors.base import RetryPolicy
from connectors.lms.oneroster import OneRoster
from hub.kafka_io import dead_letter_topic, entity_topic
from schemas import ENTITY_TYPES
from tests.fixtures.lms import LmsSandbox, LmsSandboxFactory
from tests.support import Record, SandboxHub, ldap_source

pytestmark = pytest.mark.integration

USERS_PATH = "/ims/oneroster/rostering/v1p2/users"


class LmsHub(SandboxHub):
    """One tenant's hub wired to a sandbox LMS (and any extra sources) and Kafka."""

    def __init__(
        self,
        sandbox: LmsSandbox,
        bootstrap: str,
        tmp_path: Path,
        *,
        extra_sources: list[dict[str, Any]] | None = None,
    ) -> None:
        self.sandbox = sandbox
        extra = extra_sources or []
        super().__init__(
            sandbox.tenant,
            bootstrap,
            tmp_path,
            entity_types=[*OneRoster.entity_types, *ENTITY_TYPES],
            sources=lambda **source: [sandbox.source_entry(page_size=100, **source), *extra],
            source_id="oneroster",
        )


def changes(records: list[Record]) -> list[tuple[str, str]]:
    """(op, record key) of every change event; tombstones and dead letters left out."""
    return [
        (json.loads(r.value)["op"], r.key)
        for r in records
        if r.value is not None and "dlq" not in r.topic
    ]


def tombstones(records: list[Record]) -> list[str]:
    return [r.key for r in records if r.value is None]


@pytest.fixture
def lms(lms_sandbox: LmsSandbox, kafka_bootstrap: str, tmp_path: Path) -> Iterator[LmsHub]:
    hub = LmsHub(lms_sandbox, kafka_bootstrap, tmp_path)
    yield hub
    hub.close()


def test_first_run_publishes_everything_and_no_national_id(lms: LmsHub):
    """A first (full) run publishes every record once as a create, with no NIN anywhere."""
    data = lms.sandbox.data
    report = lms.sync()
    expected = sum(data.count(kind) for kind in data.tables if kind != "lineItems")
    assert ("success", True, expected) == (report.status, report.full, report.created)
    events = changes(lms.records())
    assert expected == len(events) == len(set(events))
    assert {"c"} == {op for op, _ in events}
    nins = {p.nin for p in data.owner.people(include_children=False)}
    published = b"".join(r.value or b"" for r in lms.records()).decode()
    assert [] == [n for n in nins if n in published]


def test_an_incremental_run_publishes_exactly_the_changes(lms: LmsHub):
    """After 3 changes and 1 `tobedeleted`, the next run publishes 3 `u`, 1 `d` and a tombstone."""
    data = lms.sandbox.data
    lms.sync()
    before = {r.position for r in lms.records()}
    user, klass = data.sourced_id("users", 5), data.sourced_id("classes", 2)
    enrollment, leaving = data.sourced_id("enrollments", 10), data.sourced_id("enrollments", 20)
    data.modify("users", user, {"givenName": "Endra"})
    data.modify("classes", klass, {"title": "Klasse 1A (flyttet)"})
    data.modify("enrollments", enrollment, {"endDate": "2026-01-31"})
    data.mark_tobedeleted("enrollments", leaving)

    report = lms.sync()

    new = [r for r in lms.records() if r.position not in before]
    t = lms.tenant
    assert ("success", False) == (report.status, report.full)
    assert sorted(
        [
            ("u", f"{t}:oneroster:person:{user}"),
            ("u", f"{t}:oneroster:class:{klass}"),
            ("u", f"{t}:oneroster:enrollment:{enrollment}"),
            ("d", f"{t}:oneroster:enrollment:{leaving}"),
        ]
    ) == sorted(changes(new))
    assert [f"{t}:oneroster:enrollment:{leaving}"] == tombstones(new)
    updated = {r.key: json.loads(r.value)["changed"] for r in new if r.value is not None}
    assert ["display_name", "given_name"] == updated[f"{t}:oneroster:person:{user}"]
    assert ["end_date"] == updated[f"{t}:oneroster:enrollment:{enrollment}"]
    assert report.unchanged < 50  # only the overlap is read again, not the whole source


def test_records_sharing_the_bookmark_timestamp_are_both_picked_up(lms: LmsHub):
    """A record changed in the same second as the bookmark, after the run, is not lost."""
    data = lms.sandbox.data
    lms.sync()
    tie = datetime.now(UTC).replace(microsecond=0)
    first, second = data.sourced_id("users", 7), data.sourced_id("users", 8)
    data.modify("users", first, {"familyName": "Først"}, at=tie)
    lms.sync()
    assert (
        tie.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        == lms.store.bookmarks(lms.tenant, "oneroster")["users"]
    )
    before = {r.position for r in lms.records()}
    data.modify("users", second, {"familyName": "Andre"}, at=tie)  # committed late, same second

    report = lms.sync()

    new = [r for r in lms.records() if r.position not in before]
    assert [("u", f"{lms.tenant}:oneroster:person:{second}")] == changes(new)
    assert (False, 1) == (report.full, report.updated)


def test_a_scheduled_full_run_deletes_what_vanished_without_a_trace(lms: LmsHub):
    """A record gone without `tobedeleted` survives incremental runs; the full run deletes it."""
    data = lms.sandbox.data
    lms.sync()
    gone = data.sourced_id("enrollments", 3)
    data.vanish("enrollments", gone)
    incremental = lms.sync()
    before = {r.position for r in lms.records()}
    assert (False, 0) == (incremental.full, incremental.deleted)

    lms.configure(full_sync_every=timedelta(0))  # the full run is due
    report = lms.sync()

    new = [r for r in lms.records() if r.position not in before]
    key = f"{lms.tenant}:oneroster:enrollment:{gone}"
    assert ("success", True, 1) == (report.status, report.full, report.deleted)
    assert ([("d", key)], [key]) == (changes(new), tombstones(new))


def test_a_429_with_retry_after_2_is_waited_out(lms: LmsHub):
    """The sync really waits the 2 s the server asks for, then succeeds."""
    lms.sandbox.server.add_fault(kind="status", status=429, retry_after=2, path=USERS_PATH)
    started = time.monotonic()
    report = lms.sync()
    elapsed = time.monotonic() - started
    assert "success" == report.status
    assert 2.0 <= elapsed
    assert 1 == lms.sandbox.server.count(USERS_PATH, status=429)


def test_a_malformed_record_goes_to_the_dlq_and_the_rest_is_published(lms: LmsHub):
    """One corrupt user is dead-lettered with its reason; every other record is published."""
    data = lms.sandbox.data
    lms.sandbox.server.add_fault(kind="malformed", path=USERS_PATH, index=3)
    report = lms.sync()
    records = lms.records()
    letters = [r for r in records if r.topic == dead_letter_topic(lms.prefix)]
    people = [r for r in records if r.topic == entity_topic(lms.prefix, OneRoster.entity_types[1])]
    assert ("success", 1) == (report.status, report.dead_lettered)
    (letter,) = letters
    assert data.sourced_id("users", 3).encode() == letter.headers["dlq_record_ref"]
    assert b"dateLastModified" in letter.headers["dlq_error"]
    assert data.count("users") - 1 == len(people)


def test_five_503s_fail_the_lms_while_the_directory_still_syncs(
    lms_sandbox_factory: LmsSandboxFactory,
    directory_factory: Any,
    slapd_server: Any,
    kafka_bootstrap: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
):
    """The LMS source fails with a clear message after five 503s; the tenant's LDAP syncs."""
    loaded = directory_factory(scale=60)
    monkeypatch.setenv("TEST_LDAP_PASSWORD", slapd_server.reader_password)
    sandbox = lms_sandbox_factory(60, tenant=loaded.owner.tenant)
    hub = LmsHub(sandbox, kafka_bootstrap, tmp_path, extra_sources=[ldap_source(loaded)])
    try:
        sandbox.server.add_fault(kind="status", status=503, path=USERS_PATH, times=5)
        waits: list[float] = []
        lms_report = hub.sync(source=sandbox.connector(retry=RetryPolicy(sleep=waits.append)))
        identity_report = hub.sync("feide")
        records = hub.records()
    finally:
        hub.close()
    assert "failed" == lms_report.status
    assert (
        f"lms.oneroster /{sandbox.tenant}/oneroster{USERS_PATH} (HTTP 503): "
        "gave up after 5 attempts: server error: Service Unavailable"
    ) == lms_report.error
    assert 4 == len(waits)
    assert ("success", True) == (identity_report.status, identity_report.created > 0)
    assert {r.topic for r in records if r.value is not None} <= {
        entity_topic(hub.prefix, t) for t in ENTITY_TYPES
    }
    assert identity_report.created == len(changes(records))


def test_a_gradebook_that_stops_answering_keeps_its_results(lms: LmsHub):
    """The gradebook answers 404 at a full run: success, a note, and no result deleted."""
    first = lms.sync()
    results = lms.sandbox.data.count("results")
    assert "success" == first.status and results
    lms.sandbox.data.gradebook = False

    report = lms.sync(full=True)

    assert ("success", True, 0) == (report.status, report.full, report.deleted)
    assert results == report.deletes_withheld
    assert any("lineItems not offered (HTTP 404)" in n for n in report.notes)
    assert [] == [k for op, k in changes(lms.records()) if op == "d" and ":result:" in k]
