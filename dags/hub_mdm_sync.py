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

from airflow.sdk import Asset, dag, task

from schemas.mdm import Device

#: The pool of each MDM system's syncs, by source type.
MDM_POOLS = {
    "intune": "hub_mdm_intune",
    "jamf_pro": "hub_mdm_jamf_pro",
    "google_chromeos": "hub_mdm_google_chromeos",
}

DEVICE_ASSET = Asset(
    name=f"hub.{Device.versioned_suffix()}", uri=f"kafka://skolehub/{Device.versioned_suffix()}"
)


@dag(
    dag_id="hub_mdm_sync",
    schedule="@hourly",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["skolehub", "mdm", "sync"],
    doc_md=__doc__,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
)
def hub_mdm_sync() -> None:
    """Wire the plan to one mapped sync task per MDM system."""

    @task
    def plan(system: str) -> list[dict[str, str]]:
        from hub.settings import load_settings
        from hub.sync_tasks import sync_plan

        targets = sync_plan("mdm")
        settings = load_settings()
        return [
            t for t in targets if settings.tenant(t["tenant"]).source(t["source"]).type == system
        ]

    @task(outlets=[DEVICE_ASSET], max_active_tis_per_dagrun=4)
    def sync(target: dict[str, str]) -> dict[str, object]:
        from hub.sync_tasks import run_sync_task

        return run_sync_task(target)

    for system, pool in MDM_POOLS.items():
        targets = plan.override(task_id=f"plan_{system}")(system)
        sync.override(task_id=f"sync_{system}", pool=pool).expand(target=targets)


hub_mdm_sync()
