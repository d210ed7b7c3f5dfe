"""Scenario e: the compiler SIGKILLed mid-batch, and two compilers at once."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from hub.materialise import Materialiser, materialised_rows
from tests.faults.conftest import EXIT_OK, EXIT_SKIPPED, DirectoryEdits, FaultHub, Finished

pytestmark = [pytest.mark.faults, pytest.mark.integration]


def store_snapshot(url: str) -> list[tuple[Any, ...]]:
    """The materialised entities of a reporting store, as comparable tuples."""
    engine = sa.create_engine(url)
    try:
        return materialised_rows(engine)
    finally:
        engine.dispose()


def clean_replay(hub: FaultHub, folder: Path) -> list[tuple[Any, ...]]:
    """What a fresh materialiser on a fresh store makes of the same topics."""
    url = f"sqlite:///{folder / 'replay.db'}"
    engine = sa.create_engine(url)
    try:
        Materialiser(engine, hub.bootstrap, hub.prefix).run()
    finally:
        engine.dispose()
    return store_snapshot(url)


def compile_after_lease_expiry(hub: FaultHub, deadline_runs: int = 10) -> Finished:
    """`hub compile` until a run is not skipped (a dead compiler's lease must expire first)."""
    for _ in range(deadline_runs):
        result = hub.compile()
        if result.returncode != EXIT_SKIPPED:
            return result
    return result


def test_compiler_killed_mid_batch_then_rerun_equals_a_clean_replay(
    fault_hub: FaultHub, directory_edits: DirectoryEdits, tmp_path: Path
) -> None:
    """A compile killed after writing a batch, before its offsets commit, rerun: store == replay."""
    assert EXIT_OK == fault_hub.sync().returncode
    assert EXIT_OK == fault_hub.compile().returncode
    # The batch that dies holds creates, updates, deletes and tombstones over a store that
    # already holds the first compile's rows.
    directory_edits.change(delete=2, remail=2, add=2)
    assert EXIT_OK == fault_hub.sync().returncode

    killed = fault_hub.compile(HUB_FAULT_POINT="mid_materialise")

    assert -signal.SIGKILL == killed.returncode, str(killed)
    rerun = compile_after_lease_expiry(fault_hub)
    assert EXIT_OK == rerun.returncode, str(rerun)
    stored = store_snapshot(f"sqlite:///{fault_hub.database}")
    assert 0 < len(stored)
    assert clean_replay(fault_hub, tmp_path) == stored


def test_two_compilers_at_once_leave_the_store_equal_to_a_clean_replay(
    fault_hub: FaultHub, tmp_path: Path
) -> None:
    """Two `hub compile` started together: each succeeds or is skipped; store == replay."""
    assert EXIT_OK == fault_hub.sync().returncode

    first = fault_hub.start("compile", fault_hub.tenant)
    second = fault_hub.start("compile", fault_hub.tenant)
    results = [first.wait(), second.wait()]

    codes = sorted(r.returncode for r in results)
    assert codes in ([EXIT_OK, EXIT_OK], [EXIT_OK, EXIT_SKIPPED]), "\n".join(map(str, results))
    stored = store_snapshot(f"sqlite:///{fault_hub.database}")
    assert 0 < len(stored)
    assert clean_replay(fault_hub, tmp_path) == stored
