"""Scenario 7: an approval covers the held plan only, once, and not after it expires.

Real `hub sync` processes against the session's slapd; the operator's approval is given
through the state store as the run overview gives it. What was published is read back
with a plain consumer.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

from hub.store import StateStore, deletion_approvals, now
from tests.faults.conftest import EXIT_OK, DirectoryEdits, FaultHub

pytestmark = [pytest.mark.faults, pytest.mark.integration]

EXIT_HELD = 3


def deleted_keys(hub: FaultHub, after: set[tuple[str, int, int]]) -> set[str]:
    """Keys of the `d` events published since `after` (a set of record positions)."""
    return {
        r.key
        for r in hub.events()
        if r.position not in after and r.value is not None and json.loads(r.value)["op"] == "d"
    }


def approve_latest_held(hub: FaultHub) -> str:
    """Approve the source's latest held run, as an operator on the run overview would."""
    store = StateStore(f"sqlite:///{hub.database}")
    try:
        held = next(r for r in store.runs(hub.tenant) if r["status"] == "held")
        return store.approve_held_run(held["run_id"], "operator").run_id
    finally:
        store.close()


def test_an_approval_releases_its_own_plan_once_and_nothing_else(
    fault_hub: FaultHub, directory_edits: DirectoryEdits
) -> None:
    """Another plan of the same size is held again; an expired approval releases nothing."""
    fault_hub.settings["tenants"][0]["deletion_guard"] = {"max_deletes": 1, "max_share": 1.0}
    fault_hub.configure()
    assert EXIT_OK == fault_hub.sync().returncode

    directory_edits.change(delete=2)  # the first two people leave
    assert EXIT_HELD == fault_hub.sync().returncode
    approve_latest_held(fault_hub)

    directory_edits.undo()  # they come back, and two others leave instead
    with fault_hub.loaded.server.connection("admin") as conn:
        people = directory_edits._people(conn)
    for dn, attributes in people[2:4]:
        with fault_hub.loaded.server.connection("admin") as conn:
            assert conn.delete(dn), conn.result
        directory_edits._undo.append(("add", dn, attributes))
    positions = {r.position for r in fault_hub.events()}
    assert EXIT_HELD == fault_hub.sync().returncode  # same count, another plan: held
    assert set() == deleted_keys(fault_hub, positions)

    directory_edits.undo()
    directory_edits.change(delete=2)  # the approved plan again, but the approval is stale
    engine = sa.create_engine(f"sqlite:///{fault_hub.database}")
    with engine.begin() as conn:
        conn.execute(deletion_approvals.update().values(approved_at=now() - timedelta(hours=73)))
    engine.dispose()
    assert EXIT_HELD == fault_hub.sync().returncode  # expired: held
    assert set() == deleted_keys(fault_hub, positions)

    approve_latest_held(fault_hub)
    result = fault_hub.sync()
    assert EXIT_OK == result.returncode, str(result)
    released = deleted_keys(fault_hub, positions)
    gone = {e[0] for e in people[:2]}
    assert 2 <= len(released)
    assert all(any(dn.split(",")[0].split("=")[1] in key for dn in gone) for key in released)
    assert EXIT_OK == fault_hub.sync().returncode  # the approval was used: nothing left
    assert released == deleted_keys(fault_hub, positions)
