"""The LMS sync DAG: its wiring, and a dag.test() run against the sandbox LMS and real Kafka."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from schemas.lms import LMS_ENTITY_TYPES
from tests.fixtures.lms import LmsSandboxFactory
from tests.support import consume_all, unique_prefix

ONEROSTER_POOL = "hub_lms_oneroster"
#: One mapped sync task per LMS system, each in its own pool.
POOLS = {
    "sync_oneroster": ONEROSTER_POOL,
    "sync_itslearning": "hub_lms_itslearning",
    "sync_canvas": "hub_lms_canvas",
    "sync_moodle": "hub_lms_moodle",
    "sync_graph_education": "hub_lms_graph_education",
    "sync_google_classroom": "hub_lms_google_classroom",
}


def test_the_lms_dag_is_wired_to_its_pools_and_assets(dagbag: Any):
    """Each LMS system's mapped sync task runs in its pool and names an Asset per topic."""
    dag = dagbag.get_dag("hub_lms_sync")
    tasks = {task_id: dag.get_task(task_id) for task_id in POOLS}
    assert POOLS == {task_id: task.pool for task_id, task in tasks.items()}
    assert all(1 == task.pool_slots for task in tasks.values())
    for sync in tasks.values():
        assert {f"hub.{t.versioned_suffix()}" for t in LMS_ENTITY_TYPES} | {
            "hub.identity.person.v2",
            "hub.identity.organisation.v2",
        } == {asset.name for asset in sync.outlets}
    assert ({"skolehub", "lms", "sync"}, False) == (set(dag.tags), dag.catchup)
    assert all(task.retries >= 1 for task in dag.tasks)


@pytest.mark.integration
def test_the_lms_dag_syncs_every_tenants_lms_with_dag_test(
    dagbag: Any,
    hub_config: Callable[[dict[str, Any]], Path],
    airflow_pool: Callable[[str, int], None],
    lms_sandbox_factory: LmsSandboxFactory,
    kafka_bootstrap: str,
    tmp_path: Path,
):
    """One mapped task per tenant × LMS source, in the pool, publishes each tenant's LMS."""
    first = lms_sandbox_factory(60, tenant="lillevik")
    second = lms_sandbox_factory(60, tenant="fjellby")
    prefix = unique_prefix()
    hub_config(
        {
            "kafka": {"bootstrap": kafka_bootstrap, "topic_prefix": prefix, "partitions": 1},
            "database_url": f"sqlite:///{tmp_path / 'hub.db'}",
            "tenants": [
                {"id": s.tenant, "name": s.tenant.title(), "sources": [s.source_entry()]}
                for s in (first, second)
            ],
        }
    )
    for pool in POOLS.values():
        airflow_pool(pool, 2)
    dag = dagbag.get_dag("hub_lms_sync")
    for task in dag.tasks:  # a failure should fail the test now, not after retry delays
        task.retries = 0

    run = dag.test()

    assert "success" == run.state
    mapped = [ti for ti in run.get_task_instances() if ti.task_id == "sync_oneroster"]
    assert [("success", ONEROSTER_POOL)] * 2 == [(ti.state, ti.pool) for ti in mapped]
    enrollments = consume_all(kafka_bootstrap, [f"{prefix}.lms.enrollment.v2"])
    per_tenant: dict[str, int] = {}
    for record in enrollments:
        tenant = json.loads(record.value)["after"]["tenant"]
        per_tenant[tenant] = per_tenant.get(tenant, 0) + 1
    assert {
        first.tenant: first.data.count("enrollments"),
        second.tenant: second.data.count("enrollments"),
    } == per_tenant
