"""The MDMs end to end: the sandbox Intune, Jamf and Google, the connectors, the runner, Kafka."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hub.dev.sandbox.mdm import Table
from schemas.mdm import Device
from tests.fixtures.mdm import MdmSandbox
from tests.support import Record, SandboxHub

pytestmark = pytest.mark.integration

SOURCES = ("intune", "jamf", "chromebooks")


class MdmHub(SandboxHub):
    """One tenant's hub wired to its sandbox MDMs and Kafka, with its own topics and store."""

    def __init__(self, sandbox: MdmSandbox, bootstrap: str, tmp_path: Path) -> None:
        self.sandbox = sandbox
        pages = {"page_size": 25}
        super().__init__(
            sandbox.tenant,
            bootstrap,
            tmp_path,
            entity_types=[Device],
            sources=lambda: sandbox.source_entries(intune=pages, jamf=pages, chromebooks=pages),
            deletion_guard={"max_deletes": 10, "max_share": 0.5},
        )


@pytest.fixture
def mdm_hub(mdm_sandbox: MdmSandbox, kafka_bootstrap: str, tmp_path: Path) -> Iterator[MdmHub]:
    hub = MdmHub(mdm_sandbox, kafka_bootstrap, tmp_path)
    yield hub
    hub.close()


def values(records: list[Record]) -> list[dict[str, Any]]:
    """The change events among records (tombstones and dead letters left out)."""
    return [json.loads(r.value) for r in records if r.value is not None and "dlq" not in r.topic]


def test_each_mdm_publishes_every_device_once_and_twins_share_a_physical_key(mdm_hub: MdmHub):
    """Three first syncs create every device of every MDM; an iPad in two MDMs has one key."""
    reports = [mdm_hub.sync(source) for source in SOURCES]
    fleet = mdm_hub.sandbox.fleet()
    expected = sum(fleet.count(t) for t in Table)
    records = mdm_hub.records()
    events = values(records)
    assert (["success"] * 3, expected, expected) == (
        [r.status for r in reports],
        sum(r.created for r in reports),
        len(events),
    )
    assert {
        f"{mdm_hub.tenant}:{e['after']['source']['instance']}:device:{e['after']['key']}"
        for e in events
    } == {r.key for r in records}
    by_physical: dict[str, set[str]] = {}
    for event in events:
        after = event["after"]
        if after["physical_key"]:
            by_physical.setdefault(after["physical_key"], set()).add(after["source"]["system"])
    twins = sum(1 for i in fleet.listing(Table.INTUNE) if fleet.tables[Table.INTUNE].twin[i] >= 0)
    assert twins == sum(1 for systems in by_physical.values() if systems == {"intune", "jamf_pro"})
    headers = records[0].headers
    assert (b"urn:skolehub:schema:mdm.device.v2", True) == (
        headers["ce_dataschema"],
        headers["ce_type"].startswith(b"no.skolehub.mdm.device."),
    )


def test_a_reassigned_device_is_one_update_naming_the_assignment(mdm_hub: MdmHub):
    """A Chromebook given to another pupil publishes one `u` whose `changed` is the assignment."""
    mdm_hub.sync("chromebooks")
    before = {r.position for r in mdm_hub.records()}
    google = mdm_hub.sandbox.google
    device_id = google.device_id(mdm_hub.tenant, 3)
    google.control(mdm_hub.tenant, "reassign", {"device_id": device_id, "username": "nyelev7"})

    report = mdm_hub.sync("chromebooks")

    new = [r for r in mdm_hub.records() if r.position not in before]
    (event,) = values(new)
    assert ("success", 1, "u", ["assigned_users"], device_id) == (
        report.status,
        report.updated,
        event["op"],
        event["changed"],
        event["after"]["key"],
    )
    assert [{"kind": "annotated", "value": f"nyelev7@{mdm_hub.sandbox.fleet().realm}"}] == event[
        "after"
    ]["assigned_users"]


def test_a_device_retired_from_its_mdm_is_deleted_by_the_next_full_run(mdm_hub: MdmHub):
    """An iPad gone from Jamf is one `d` event followed by a tombstone on the next run."""
    mdm_hub.sync("jamf")
    before = {r.position for r in mdm_hub.records()}
    mdm_hub.sandbox.jamf.control(mdm_hub.tenant, "retire", {"mobile_device_id": "2"})

    report = mdm_hub.sync("jamf")

    new = [r for r in mdm_hub.records() if r.position not in before]
    key = f"{mdm_hub.tenant}:jamf:device:mobile-devices/2"
    assert ("success", True, 1) == (report.status, report.full, report.deleted)
    assert ([("d", key)], [key]) == (
        [(json.loads(r.value)["op"], r.key) for r in new if r.value is not None],
        [r.key for r in new if r.value is None],
    )


def test_an_unchanged_second_run_publishes_nothing(mdm_hub: MdmHub):
    """Reading the same devices again is no change, so nothing is published."""
    mdm_hub.sync("intune")
    count = len(mdm_hub.records())
    report = mdm_hub.sync("intune")
    assert ("success", 0, count) == (report.status, report.published, len(mdm_hub.records()))
