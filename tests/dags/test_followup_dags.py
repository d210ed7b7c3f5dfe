"""The follow-up DAGs: compile scheduled by the sync DAGs' Assets, extract monthly and on demand."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hub.followup.extract import verify_extract
from schemas.followup import FOLLOWUP_RECORD_TYPES
from tests.fixtures.lms import LmsSandboxFactory
from tests.support import unique_prefix

SYNC_DAGS = (
    "hub_identity_sync",
    "hub_lms_sync",
    "hub_mdm_sync",
    "hub_equipment_sync",
    "hub_support_sync",
)
ONEROSTER_POOL = "hub_lms_oneroster"


def schedule_condition(dag: Any) -> Any:
    """The compile DAG's asset condition, as the scheduler evaluates it (serialised)."""
    from airflow.serialization.serialized_objects import LazyDeserializedDAG

    return LazyDeserializedDAG.from_dag(dag).timetable.asset_condition


def keys(assets: Any) -> set[tuple[str, str]]:
    return {(a.name, a.uri) for a in assets}


def sync_outlets(dagbag: Any) -> set[tuple[str, str]]:
    """Every Asset a sync DAG's tasks name as outlets."""
    return {
        (asset.name, asset.uri)
        for dag_id in SYNC_DAGS
        for task in dagbag.get_dag(dag_id).tasks
        for asset in task.outlets
    }


def test_the_compile_dag_is_scheduled_by_every_sync_dags_assets(dagbag: Any):
    """Any update of an Asset a sync DAG produces (same name and URI) schedules a compile."""
    dag = dagbag.get_dag("hub_followup_compile")
    condition = schedule_condition(dag)
    scheduled = {(key.name, key.uri) for key, _ in condition.iter_assets()}
    assert "SerializedAssetAny" == type(condition).__name__
    assert set() == sync_outlets(dagbag) - scheduled
    assert all(name.startswith("hub.") and "followup" not in name for name, _ in scheduled)
    assert {f"hub.{t.versioned_suffix()}" for t in FOLLOWUP_RECORD_TYPES} == {
        a.name for a in dag.get_task("compile_tenant").outlets
    }
    assert ({"skolehub", "followup", "compile"}, False, 1) == (
        set(dag.tags),
        dag.catchup,
        dag.max_active_runs,
    )
    assert all(task.retries >= 1 for task in dag.tasks)


def test_the_extract_dag_runs_monthly_and_takes_a_tenant_and_day(dagbag: Any):
    """The extract DAG is monthly, and a manual run may name a tenant, a day and formats."""
    dag = dagbag.get_dag("hub_followup_extract")
    assert "@monthly" == dag.schedule
    assert {"tenant": None, "as_of": None, "formats": "csv,xlsx"} == {
        k: dag.params[k] for k in ("tenant", "as_of", "formats")
    }
    assert ({"skolehub", "followup", "extract"}, False) == (set(dag.tags), dag.catchup)
    assert all(task.retries >= 1 for task in dag.tasks)


def _asset_events(names: set[str], since: Any) -> set[str]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(
            select(AssetModel.name)
            .join(AssetEvent, AssetEvent.asset_id == AssetModel.id)
            .where(AssetModel.name.in_(names), AssetEvent.timestamp >= since)
        ).all()
    return {name for (name,) in rows}


def _would_run(condition: Any, updated: set[tuple[str, str]]) -> bool:
    """What the scheduler decides for an asset condition, given the updated assets."""
    from airflow.assets.evaluation import AssetEvaluator
    from airflow.utils.session import create_session

    with create_session() as session:
        statuses = {key: (key.name, key.uri) in updated for key, _ in condition.iter_assets()}
        return bool(AssetEvaluator(session).run(condition, statuses))


@pytest.mark.integration
def test_a_sync_run_updates_assets_that_schedule_compile_then_extract(
    dagbag: Any,
    hub_config: Callable[[dict[str, Any]], Path],
    airflow_pool: Callable[[str, int], None],
    lms_sandbox_factory: LmsSandboxFactory,
    kafka_bootstrap: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
):
    """dag.test(): the LMS sync updates its Assets, which start a compile; the extract verifies."""
    from airflow.sdk import timezone

    lms = lms_sandbox_factory(60, tenant="lillevik")
    hub_config(
        {
            "kafka": {
                "bootstrap": kafka_bootstrap,
                "topic_prefix": unique_prefix(),
                "partitions": 1,
            },
            "database_url": f"sqlite:///{tmp_path / 'hub.db'}",
            "tenants": [{"id": "lillevik", "name": "Lillevik", "sources": [lms.source_entry()]}],
        }
    )
    for pool in (
        ONEROSTER_POOL,
        "hub_lms_graph_education",
        "hub_lms_google_classroom",
        "hub_lms_itslearning",
        "hub_lms_canvas",
        "hub_lms_moodle",
    ):
        airflow_pool(pool, 2)
    started = timezone.utcnow()
    sync = dagbag.get_dag("hub_lms_sync")
    compile_dag = dagbag.get_dag("hub_followup_compile")
    extract_dag = dagbag.get_dag("hub_followup_extract")
    for dag in (sync, compile_dag, extract_dag):
        for task in dag.tasks:  # fail now, not after retry delays; the DagBag is shared
            monkeypatch.setattr(task, "retries", 0)

    assert "success" == sync.test().state
    outlets = keys(sync.get_task("sync_oneroster").outlets)
    assert {name for name, _ in outlets} == _asset_events({n for n, _ in outlets}, started)
    condition = schedule_condition(compile_dag)
    assert (True, False) == (_would_run(condition, outlets), _would_run(condition, set()))

    run = compile_dag.test()
    assert "success" == run.state
    compiled = [ti for ti in run.get_task_instances() if ti.task_id == "compile_tenant"]
    assert ["success"] == [ti.state for ti in compiled]
    summary = compiled[0].xcom_pull(task_ids="compile_tenant", map_indexes=0)
    assert summary["rows"]["course_participation"] > 0
    assert summary["published"]["created"] == sum(summary["rows"].values())

    run = extract_dag.test(run_conf={"tenant": "lillevik", "formats": "csv"})
    assert "success" == run.state
    (extracted,) = [ti for ti in run.get_task_instances() if ti.task_id == "extract"]
    folder = Path(extracted.xcom_pull(task_ids="extract", map_indexes=0)["path"])
    assert verify_extract(folder).ok
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    # One CSV per record: the eight of before, data_quality, competence_development
    # (empty: lillevik's policy names no measurements), competence_by_unit, and the
    # equipment, support, life-cycle and licence records (empty: this run syncs no such
    # source).
    assert ("lillevik", summary["as_of"], len(FOLLOWUP_RECORD_TYPES)) == (
        manifest["tenant"],
        manifest["as_of"],
        len(manifest["files"]),
    )
