"""The MDM sync DAG: its wiring, and a dag.test() run against the sandbox MDMs and real Kafka."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hub.dev.sandbox.mdm import Table
from tests.fixtures.mdm import MdmSandboxFactory
from tests.support import consume_all, unique_prefix

POOLS = {
    "sync_intune": "hub_mdm_intune",
    "sync_jamf_pro": "hub_mdm_jamf_pro",
    "sync_google_chromeos": "hub_mdm_google_chromeos",
    "sync_apple_school_manager": "hub_mdm_apple_school_manager",
}


def test_each_mdm_system_syncs_in_its_own_pool_and_feeds_the_device_asset(dagbag: Any):
    """A mapped sync task per system, each in its pool, each naming the domain's topics' Assets."""
    dag = dagbag.get_dag("hub_mdm_sync")
    tasks = {task_id: dag.get_task(task_id) for task_id in POOLS}
    assert POOLS == {task_id: task.pool for task_id, task in tasks.items()}
    assets = {"hub.mdm.device.v2", "hub.mdm.purchased_device.v2"}
    assert [assets] * 4 == [{a.name for a in t.outlets} for t in tasks.values()]
    assert ({"skolehub", "mdm", "sync"}, False) == (set(dag.tags), dag.catchup)
    assert all(task.retries >= 1 for task in dag.tasks)
    assert dag.doc_md and "airflow pools set hub_mdm_intune" in dag.doc_md


@pytest.mark.integration
# hub.sync_tasks imports AirflowFailException from its deprecated place (airflow.exceptions).
@pytest.mark.filterwarnings("ignore:airflow.exceptions.Airflow.*is deprecated")
def test_the_mdm_dag_syncs_every_tenants_mdms_with_dag_test(
    dagbag: Any,
    hub_config: Callable[[dict[str, Any]], Path],
    airflow_pool: Callable[[str, int], None],
    mdm_sandbox_factory: MdmSandboxFactory,
    kafka_bootstrap: str,
    tmp_path: Path,
):
    """One mapped task per tenant × MDM, in its system's pool, publishes every tenant's devices."""
    sandbox = mdm_sandbox_factory(60, tenants=("lillevik", "fjellby"))
    prefix = unique_prefix()
    hub_config(
        {
            "kafka": {"bootstrap": kafka_bootstrap, "topic_prefix": prefix, "partitions": 1},
            "database_url": f"sqlite:///{tmp_path / 'hub.db'}",
            "tenants": [
                {"id": t, "name": t.title(), "sources": sandbox.source_entries(t)}
                for t in sandbox.tenants
            ],
        }
    )
    for pool in POOLS.values():
        airflow_pool(pool, 2)
    dag = dagbag.get_dag("hub_mdm_sync")
    for task in dag.tasks:  # a failure should fail the test now, not after retry delays
        task.retries = 0

    run = dag.test()

    assert "success" == run.state
    mapped = sorted(
        (ti.task_id, ti.state, ti.pool) for ti in run.get_task_instances() if ti.task_id in POOLS
    )
    # The MDM sandbox serves Intune, Jamf and Google: Apple School Manager, configured for
    # no tenant here, maps to nothing and its task is skipped.
    served = {t: p for t, p in POOLS.items() if t != "sync_apple_school_manager"}
    asm = ("sync_apple_school_manager", "skipped", POOLS["sync_apple_school_manager"])
    assert sorted([asm, *((t, "success", p) for t, p in served.items() for _ in range(2))]) == (
        mapped
    )
    records = consume_all(kafka_bootstrap, [f"{prefix}.mdm.device.v2"])
    per_tenant = Counter(json.loads(r.value)["after"]["tenant"] for r in records)
    assert {t: sum(sandbox.fleet(t).count(table) for table in Table) for t in sandbox.tenants} == (
        dict(per_tenant)
    )
