"""Scenario d: a second `hub sync` of a source while the first runs is skipped."""

from __future__ import annotations

import os
import signal

import pytest

from tests.faults.conftest import EXIT_OK, EXIT_SKIPPED, DirectoryEdits, FaultHub
from tests.faults.convergence import (
    compare,
    fold,
    invented_deletes,
    unrecognisable_duplicates,
    value_of,
)

pytestmark = [pytest.mark.faults, pytest.mark.integration]

CHANGED_PEOPLE = 60


def test_a_second_sync_while_one_runs_is_skipped_and_nothing_is_deleted(
    fault_hub: FaultHub, directory_edits: DirectoryEdits
) -> None:
    """A sync started while another holds the source exits 4, `skipped`; nothing is deleted."""
    # The first run is paused (SIGSTOP) in the middle of publishing, so the two surely
    # overlap however slowly the processes start on a loaded machine; its lease lives 60 s,
    # longer than the pause. The skipped run must publish nothing: after both, every changed
    # person has exactly one new event, an update.
    assert EXIT_OK == fault_hub.sync().returncode
    published = {r.position for r in fault_hub.events()}
    directory_edits.change(remail=CHANGED_PEOPLE)
    fault_hub.configure(batch_size=1, ack_timeout_seconds=60)  # outlives the pause
    lease = {"HUB_LEASE_TTL_SECONDS": "60"}

    first = fault_hub.start_sync(**lease)
    fault_hub.wait_until_publishing(first, beyond=len(published))
    os.kill(first.pid, signal.SIGSTOP)
    try:
        second = fault_hub.start_sync(**lease).wait()
    finally:
        os.kill(first.pid, signal.SIGCONT)
    finished = first.wait()

    assert (EXIT_OK, EXIT_SKIPPED) == (finished.returncode, second.returncode), (
        f"{finished}\n{second}"
    )
    summary = second.summary()
    assert summary is not None and ["skipped"] == [s["status"] for s in summary["syncs"]]
    events = fault_hub.events()
    new = [r for r in events if r.position not in published]
    source = fault_hub.source_content()
    assert [] == invented_deletes(new, source)
    assert ["u"] * CHANGED_PEOPLE == [value_of(r)["op"] for r in new if r.value is not None]
    verdict = compare(fold(events), source)
    assert verdict.converged, str(verdict)
    assert [] == unrecognisable_duplicates(events)
