"""The licence sync DAG: one pool per licence system, each feeding the licence topics' Assets.

That they schedule the compile is `test_followup_dags`' check of every sync DAG's Assets.
"""

from __future__ import annotations

from typing import Any

POOLS = {
    "sync_microsoft_licences": "hub_licences_microsoft",
    "sync_apple_vpp": "hub_licences_apple_vpp",
    "sync_google_workspace_licences": "hub_licences_google_workspace",
    "sync_jamf_volume_purchasing": "hub_licences_jamf_volume_purchasing",
}


def test_each_licence_system_syncs_in_its_own_pool_and_feeds_the_licence_assets(dagbag: Any):
    """Four mapped sync tasks, one pool each, every one naming both licence topics' Assets."""
    dag = dagbag.get_dag("hub_licences_sync")
    tasks = {task_id: dag.get_task(task_id) for task_id in POOLS}
    assert POOLS == {task_id: task.pool for task_id, task in tasks.items()}
    assert [{"hub.licences.pool.v1", "hub.licences.assignment.v1"}] * 4 == [
        {a.name for a in t.outlets} for t in tasks.values()
    ]
    assert ({"skolehub", "licences", "sync"}, False) == (set(dag.tags), dag.catchup)
    assert all(task.retries >= 1 for task in dag.tasks)
