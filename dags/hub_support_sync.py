"""Support sync: every tenant's service desk (TOPdesk incidents) to `hub.support.support_ticket.v2`.

One mapped task per configured tenant × support source, in the pool `hub_support_topdesk`.
Runs are incremental (incidents modified since the bookmark, TOPdesk's FIQL
`modificationDate=gt=`) until the source's `full_sync_every` has passed; then a full run
also deletes incidents that vanished, once a lookup by id confirms them gone. A ticket's
caller travels only as a keyed HMAC (docs/equipment.md). A run held by the deletion guard
fails without retries; release it with `hub sync TENANT SOURCE --approve-deletes`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag, task

from connectors.airflow import SYNC_TICK, domain_assets, sync_lanes

SUPPORT_ASSETS = domain_assets("support")


@dag(
    dag_id="hub_support_sync",
    schedule=SYNC_TICK,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["skolehub", "support", "sync"],
    doc_md=__doc__,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
)
def hub_support_sync() -> None:
    """Wire each plan to its mapped sync task: one per pool of the domain's connectors."""

    @task
    def plan(types: list[str]) -> list[dict[str, str]]:
        from hub.sync_tasks import plan_task

        return plan_task("support", types)

    @task(outlets=SUPPORT_ASSETS, max_active_tis_per_dagrun=4)
    def sync(target: dict[str, str]) -> dict[str, object]:
        from hub.sync_tasks import run_sync_task

        return run_sync_task(target)

    for lane in sync_lanes("support"):
        targets = plan.override(task_id=f"plan{lane.suffix}")(list(lane.types))
        pool = {"pool": lane.pool} if lane.pool else {}
        sync.override(task_id=f"sync{lane.suffix}", **pool).expand(target=targets)


hub_support_sync()
