"""Identity sync: every tenant's directory (Feide-like LDAP, SS 12000) to the identity topics.

One mapped task per configured tenant × identity source. Each task reads its source,
publishes the changes as CloudEvents on `hub.identity.*.v2`, and updates the Assets of
those topics, which schedule what consumes them. A run held by the deletion guard fails
without retries; release it with `hub sync TENANT SOURCE --approve-deletes`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import Asset, dag, task

from schemas.entities import Group, Membership, Organisation, Person
from schemas.ss12000 import Duty, Placement

IDENTITY_ASSETS = [
    Asset(name=f"hub.{t.versioned_suffix()}", uri=f"kafka://skolehub/{t.versioned_suffix()}")
    for t in (Organisation, Person, Group, Membership, Duty, Placement)
]


@dag(
    dag_id="hub_identity_sync",
    schedule="@hourly",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["skolehub", "identity", "sync"],
    doc_md=__doc__,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
)
def hub_identity_sync() -> None:
    """Wire the plan to the mapped sync task."""

    @task
    def plan() -> list[dict[str, str]]:
        from hub.sync_tasks import sync_plan

        return sync_plan("identity")

    @task(outlets=IDENTITY_ASSETS, max_active_tis_per_dagrun=4)
    def sync(target: dict[str, str]) -> dict[str, object]:
        from hub.sync_tasks import run_sync_task

        return run_sync_task(target)

    sync.expand(target=plan())


hub_identity_sync()
