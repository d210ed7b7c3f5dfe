"""MDM sync: every tenant's device management (Intune, Jamf Pro, Google) to `hub.mdm.device.v2`.

Per MDM system, `plan_<system>` lists the configured tenant × source pairs of that system
and `sync_<system>` (`sync_intune`, `sync_jamf_pro`, `sync_google_chromeos`) maps over
them: each mapped task reads its source in full and publishes the changed devices as
CloudEvents on `hub.mdm.device.v2` (a device that left its MDM is deleted), updating that
topic's Asset, which schedules what consumes it. A device enrolled in two MDMs is two
events with the same `physical_key`.

Each system's tasks run in its own pool, so the pool's slots bound how many school
owners' syncs hit that vendor at once (Microsoft Graph and Google throttle per app;
Jamf Pro servers are often shared). Create the pools before the first run:

    airflow pools set hub_mdm_intune 4 "Intune syncs (Microsoft Graph)"
    airflow pools set hub_mdm_jamf_pro 2 "Jamf Pro syncs (each up to 5 connections)"
    airflow pools set hub_mdm_google_chromeos 4 "Google Admin SDK syncs"

A run held by the deletion guard fails without retries; release it with
`hub sync TENANT SOURCE --approve-deletes`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag, task

from connectors.airflow import SYNC_TICK, domain_assets, sync_lanes

MDM_ASSETS = domain_assets("mdm")


@dag(
    dag_id="hub_mdm_sync",
    schedule=SYNC_TICK,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["skolehub", "mdm", "sync"],
    doc_md=__doc__,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
)
def hub_mdm_sync() -> None:
    """Wire each plan to its mapped sync task: one per pool of the domain's connectors."""

    @task
    def plan(types: list[str]) -> list[dict[str, str]]:
        from hub.sync_tasks import plan_task

        return plan_task("mdm", types)

    @task(outlets=MDM_ASSETS, max_active_tis_per_dagrun=4)
    def sync(target: dict[str, str]) -> dict[str, object]:
        from hub.sync_tasks import run_sync_task

        return run_sync_task(target)

    for lane in sync_lanes("mdm"):
        targets = plan.override(task_id=f"plan{lane.suffix}")(list(lane.types))
        pool = {"pool": lane.pool} if lane.pool else {}
        sync.override(task_id=f"sync{lane.suffix}", **pool).expand(target=targets)


hub_mdm_sync()
