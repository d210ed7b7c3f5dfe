"""Licence sync: every tenant's licence sources to the `hub.licences.*.v1` topics.

Per licence system, `plan_<system>` lists the configured tenant × source pairs of that
system and `sync_<system>` (`sync_microsoft_licences`, `sync_apple_vpp`, …) maps over
them: each mapped task reads its source in full and publishes the changed licence pools
(the products the school owner holds, with licences bought, assigned and available) and
assignments (who or which device holds each licence) as CloudEvents; a pool or
assignment gone from its source is deleted. The tasks update those topics' Assets, which
schedule the follow-up compile.

Each system's tasks run in its own pool (`hub_licences_<system>`, created by `make
airflow`), so the pool's slots bound how many school owners' syncs hit that vendor at
once. A run held by the deletion guard fails without retries; release it with
`hub sync TENANT SOURCE --approve-deletes`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag, task

from connectors.airflow import SYNC_TICK, domain_assets, sync_lanes

LICENCE_ASSETS = domain_assets("licences")


@dag(
    dag_id="hub_licences_sync",
    schedule=SYNC_TICK,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["skolehub", "licences", "sync"],
    doc_md=__doc__,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
)
def hub_licences_sync() -> None:
    """Wire each plan to its mapped sync task: one per pool of the domain's connectors."""

    @task
    def plan(types: list[str]) -> list[dict[str, str]]:
        from hub.sync_tasks import plan_task

        return plan_task("licences", types)

    @task(outlets=LICENCE_ASSETS, max_active_tis_per_dagrun=4)
    def sync(target: dict[str, str]) -> dict[str, object]:
        from hub.sync_tasks import run_sync_task

        return run_sync_task(target)

    for lane in sync_lanes("licences"):
        targets = plan.override(task_id=f"plan{lane.suffix}")(list(lane.types))
        pool = {"pool": lane.pool} if lane.pool else {}
        sync.override(task_id=f"sync{lane.suffix}", **pool).expand(target=targets)


hub_licences_sync()
