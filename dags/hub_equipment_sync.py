"""Equipment sync: every tenant's equipment register (TOPdesk asset management, Snipe-IT).

One mapped task per configured tenant × equipment source, in each connector's pool
(`hub_equipment_topdesk`, `hub_equipment_snipeit`). Each task reads its source in full
and publishes the changes as CloudEvents on `hub.equipment.equipment_item.v2`, deleting
items that left the register once a lookup by id confirms them gone; it updates the
topic's Asset, which schedules the follow-up compile. See docs/equipment.md. A run held
by the deletion guard fails without retries; release it with `hub sync TENANT SOURCE
--approve-deletes`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag, task

from connectors.airflow import SYNC_TICK, domain_assets, sync_lanes

EQUIPMENT_ASSETS = domain_assets("equipment")


@dag(
    dag_id="hub_equipment_sync",
    schedule=SYNC_TICK,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["skolehub", "equipment", "sync"],
    doc_md=__doc__,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
)
def hub_equipment_sync() -> None:
    """Wire each plan to its mapped sync task: one per pool of the domain's connectors."""

    @task
    def plan(types: list[str]) -> list[dict[str, str]]:
        from hub.sync_tasks import plan_task

        return plan_task("equipment", types)

    @task(outlets=EQUIPMENT_ASSETS, max_active_tis_per_dagrun=4)
    def sync(target: dict[str, str]) -> dict[str, object]:
        from hub.sync_tasks import run_sync_task

        return run_sync_task(target)

    for lane in sync_lanes("equipment"):
        targets = plan.override(task_id=f"plan{lane.suffix}")(list(lane.types))
        pool = {"pool": lane.pool} if lane.pool else {}
        sync.override(task_id=f"sync{lane.suffix}", **pool).expand(target=targets)


hub_equipment_sync()
