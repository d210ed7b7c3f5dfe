"""The follow-up DAG tasks' functions: a task whose work another process holds is skipped."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from airflow.sdk.exceptions import AirflowSkipException

from hub.followup.snapshots import SnapshotStore
from hub.followup.tasks import run_compile_task, run_materialise_task
from hub.leases import Lease
from hub.settings import load_settings


def test_compile_task_is_skipped_while_the_tenant_lease_is_held(config: Path):
    """The compile task raises Airflow's skip, naming the holder, and stores no snapshot."""
    engine = sa.create_engine(load_settings().store_url)
    with (
        Lease(engine, "compile:guldby", holder="hub compile in a terminal"),
        pytest.raises(AirflowSkipException, match="hub compile in a terminal"),
    ):
        run_compile_task("guldby", "2026-06-15")
    assert [] == SnapshotStore(engine).days("guldby")
    engine.dispose()


def test_materialise_task_is_skipped_while_the_group_lease_is_held(config: Path):
    """The materialise task raises Airflow's skip while another materialiser of its group runs."""
    engine = sa.create_engine(load_settings().store_url)
    with (
        Lease(engine, "materialise:skolehub-followup", holder="hub compile in a terminal"),
        pytest.raises(AirflowSkipException, match="materialise:skolehub-followup"),
    ):
        run_materialise_task()
    engine.dispose()
