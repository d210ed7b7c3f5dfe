"""A Swedish tenant end to end: the sandbox SS 12000 API, the connector, the runner, real Kafka."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from connectors.identity.ss12000 import SS12000
from hub.dev.sandbox.swedish import PersonKind, civic_no_formats
from hub.kafka_io import dead_letter_topic
from tests.conftest import TEST_HMAC_KEY
from tests.fixtures.ss12000 import SS12000Sandbox, SS12000SandboxFactory
from tests.support import Record, SandboxHub

pytestmark = pytest.mark.integration


class SwedishHub(SandboxHub):
    """One Swedish tenant's hub wired to its sandbox SS 12000 API, Kafka and a SQLite store."""

    def __init__(self, sandbox: SS12000Sandbox, bootstrap: str, tmp_path: Path) -> None:
        self.sandbox = sandbox
        super().__init__(
            sandbox.tenant,
            bootstrap,
            tmp_path,
            entity_types=SS12000.entity_types,
            sources=lambda **source: [sandbox.source_entry(page_size=100, **source)],
            source_id="ss12000",
            country="SE",
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
def hub(
    ss12000_sandbox: SS12000Sandbox, kafka_bootstrap: str, tmp_path: Path
) -> Iterator[SwedishHub]:
    h = SwedishHub(ss12000_sandbox, kafka_bootstrap, tmp_path)
    yield h
    h.close()


def expected_counts(sandbox: SS12000Sandbox) -> dict[str, int]:
    """Entity counts from the generator's own model of the tenant."""
    data, owner = sandbox.data, sandbox.data.owner
    teachers = sum(len(a.groups) * len(a.duties) for a in owner.activities)
    assignments = sum(len(d.assignments) for d in owner.duties)
    return {
        "organisation": data.count("organisations"),
        "person": data.count("persons"),
        "duty": data.count("duties"),
        "placement": data.count("placements"),
        "group": data.count("groups"),
        "membership": sum(len(g.members) for g in owner.groups) + teachers + assignments,
    }


def test_a_first_run_publishes_every_entity_once_on_the_identity_topics(hub: SwedishHub):
    """A full first run creates each organisation, person, duty, placement, group and membership."""
    report = hub.sync()
    records = hub.records()
    events = changes(records)
    assert ("success", True, 0) == (report.status, report.full, report.dead_lettered)
    assert expected_counts(hub.sandbox) == dict(Counter(key.split(":")[2] for _, key in events))
    assert {"c"} == {op for op, _ in events}
    placement = next(r for r in records if ".identity.placement." in r.topic)
    assert (
        b"no.skolehub.identity.placement.created",
        f"/tenants/{hub.tenant}/ss12000/ss12000".encode(),
        b"urn:skolehub:schema:identity.placement.v2",
    ) == (
        placement.headers["ce_type"],
        placement.headers["ce_source"],
        placement.headers["ce_dataschema"],
    )
    preschool_children = json.loads(placement.value)["after"]
    assert ("FS", hub.tenant) == (preschool_children["school_type"], preschool_children["tenant"])


def test_an_incremental_run_publishes_changed_persons_as_updates_and_deletions_as_deletes(
    hub: SwedishHub,
):
    """Two renamed persons give `u`; a person and a duty in deletedEntities give `d`, tombstone."""
    data = hub.sandbox.data
    hub.sync()
    before = {r.position for r in hub.records()}
    renamed = [data.id_of("persons", 10), data.id_of("persons", 11)]
    for person in renamed:
        data.modify("persons", person, {"familyName": "Wästberg-Åkesson"})
    gone_person, gone_duty = data.id_of("persons", 20), data.id_of("duties", 4)
    data.delete("persons", gone_person)
    data.delete("duties", gone_duty)

    report = hub.sync()

    new = [r for r in hub.records() if r.position not in before]
    t = hub.tenant
    assert ("success", False, 2, 2) == (report.status, report.full, report.updated, report.deleted)
    assert sorted(
        [
            *(("u", f"{t}:ss12000:person:{p}") for p in renamed),
            ("d", f"{t}:ss12000:person:{gone_person}"),
            ("d", f"{t}:ss12000:duty:{gone_duty}"),
        ]
    ) == sorted(changes(new))
    assert sorted([f"{t}:ss12000:person:{gone_person}", f"{t}:ss12000:duty:{gone_duty}"]) == sorted(
        tombstones(new)
    )
    updates = [json.loads(r.value) for r in new if r.value and json.loads(r.value)["op"] == "u"]
    assert [["display_name", "family_name"]] * 2 == [u["changed"] for u in updates]
    assert {"Wästberg-Åkesson"} == {u["after"]["family_name"] for u in updates}
    assert report.unchanged < 20  # only the overlap is read again, not the whole register


def test_a_scheduled_full_run_removes_what_vanished_without_a_trace(hub: SwedishHub):
    """What vanished without a delete survives incremental runs; a full run deletes it all."""
    data, owner = hub.sandbox.data, hub.sandbox.data.owner
    hub.sync()
    pupil = next(p for p in owner.people if p.kind is PersonKind.PUPIL)
    memberships = sum(1 for g in owner.groups if pupil.index in g.members)
    person, placement = data.id_of("persons", pupil.index), data.id_of("placements", 2)
    data.vanish("persons", person)
    data.vanish("placements", placement)
    incremental = hub.sync()
    before = {r.position for r in hub.records()}
    assert (False, 0) == (incremental.full, incremental.deleted)

    hub.configure(full_sync_every=timedelta(0))  # the full run is due
    report = hub.sync()

    new = [r for r in hub.records() if r.position not in before]
    deleted = {key for op, key in changes(new) if op == "d"}
    assert ("success", True, 2 + memberships) == (report.status, report.full, report.deleted)
    assert {
        f"{hub.tenant}:ss12000:person:{person}",
        f"{hub.tenant}:ss12000:placement:{placement}",
    } <= deleted
    assert sorted(deleted) == sorted(tombstones(new))


def test_no_civic_number_reaches_an_event_a_log_line_or_a_dead_letter(
    ss12000_sandbox_factory: SS12000SandboxFactory, kafka_bootstrap: str, tmp_path: Path
):
    """Every generated personnummer, in every format, is absent from all topics and the logs."""
    sandbox = ss12000_sandbox_factory(faults=True)
    hub = SwedishHub(sandbox, kafka_bootstrap, tmp_path)
    try:
        with capture_logs() as logs:
            report = hub.sync()
        records = hub.records()
    finally:
        hub.close()
    owner = sandbox.data.owner
    forbidden = {f for p in owner.people for f in civic_no_formats(p.civic_no)}
    forbidden |= {p.civic_no_served for p in owner.people}
    forbidden |= {sandbox.data.record("persons", p.index)["civicNo"]["value"] for p in owner.people}
    forbidden |= {sandbox.secret, TEST_HMAC_KEY}
    forbidden = {value for value in forbidden if len(value) >= 10}  # not the truncated fault
    texts = [json.dumps(entry, default=str, ensure_ascii=False) for entry in logs]
    for r in records:
        texts += [r.key, (r.value or b"").decode()]
        texts += [v.decode(errors="replace") for v in r.headers.values()]
    blob = "\n".join(texts)
    assert [] == sorted(value for value in forbidden if value in blob)
    letters = [r for r in records if r.topic == dead_letter_topic(hub.prefix)]
    # A bad civic number keeps its person (published without the HMAC, `nin_invalid`).
    rejected = [f for f in owner.faults.values() if not f.startswith("civic_no")]
    assert ("success", len(rejected), len(rejected)) == (
        report.status,
        report.dead_lettered,
        len(letters),
    )
    reasons = sorted(r.headers["dlq_error"].decode() for r in letters)
    assert not any("civicNo" in r for r in reasons)
