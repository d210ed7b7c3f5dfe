"""Scenario c: `hub sync` SIGKILLed at each phase boundary converges on the next run."""

from __future__ import annotations

import math
import signal

import pytest

from tests.faults.conftest import EXIT_OK, DirectoryEdits, FaultHub
from tests.faults.convergence import (
    compare,
    fold,
    invented_deletes,
    unrecognisable_duplicates,
)

pytestmark = [pytest.mark.faults, pytest.mark.integration]


@pytest.mark.parametrize(
    ("point", "after"),
    [("after_read", 0), ("mid_publish", 1), ("after_ack", 1)],
    ids=["after_read", "mid_publish", "after_ack"],
)
def test_sync_killed_at_a_phase_boundary_converges_on_the_next_run(
    fault_hub: FaultHub, directory_edits: DirectoryEdits, point: str, after: int
) -> None:
    """A run killed at a phase boundary, then the source changed back: the next run converges."""
    # The killed run carries creates, updates and deletes in two batches and dies in the
    # second (after the read, after sending it, or after Kafka acknowledged it). The
    # directory is then put back, so whatever the dead run got onto the topics must be
    # undone by the next run: deleted people come back, added ones go, mail reverts.
    assert EXIT_OK == fault_hub.sync().returncode
    original = fault_hub.source_content()
    directory_edits.change(delete=2, remail=2, add=2)
    changes = compare(fault_hub.source_content(), original)
    rows = len(changes.missing) + len(changes.extra) + len(changes.different)
    fault_hub.configure(batch_size=math.ceil(rows / 2))  # two batches: die in the second
    killed = fault_hub.sync(HUB_FAULT_POINT=point, HUB_FAULT_AFTER=str(after))

    assert -signal.SIGKILL == killed.returncode, str(killed)
    # What the killed run got onto the topics was true when it read; from here on the
    # directory is put back, and nothing published after this may delete what it holds.
    published = {r.position for r in fault_hub.events()}
    directory_edits.undo()
    rerun = fault_hub.sync_after_lease_expiry()
    assert EXIT_OK == rerun.returncode, str(rerun)
    events = fault_hub.events()
    source = fault_hub.source_content()
    verdict = compare(fold(events), source)
    assert verdict.converged, str(verdict)
    assert [] == unrecognisable_duplicates(events)
    new = [r for r in events if r.position not in published]
    assert [] == invented_deletes(new, source)
