"""LMS sync: every tenant's learning platform (OneRoster 1.2) to the hub's LMS topics.

One mapped task per configured tenant × LMS source. Each task reads its source and
publishes the changes as CloudEvents on `hub.lms.*.v2` (courses, classes, enrollments,
results, sessions) and, for the people and schools the LMS knows, `hub.identity.person.v2`
and `hub.identity.organisation.v2`; it updates the Assets of those topics, which schedule
what consumes them. Runs are incremental (records changed since the last bookmark) until
the source's `full_sync_every` has passed; then a full run also deletes what vanished.

Every task runs in the pool `hub_lms_oneroster`, so at most that pool's slots of
OneRoster syncs run at once; each task sends one request at a time to its school
owner's API. Create the pool before the first run (`airflow pools set hub_lms_oneroster
4 "OneRoster syncs"`). A run held by the deletion guard fails without retries; release
it with `hub sync TENANT SOURCE --approve-deletes`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import Asset, dag, task

from schemas.entities import Organisation, Person
from schemas.lms import LMS_ENTITY_TYPES

#: The Airflow pool every OneRoster sync runs in.
ONEROSTER_POOL = "hub_lms_oneroster"

LMS_ASSETS = [
    Asset(name=f"hub.{t.versioned_suffix()}", uri=f"kafka://skolehub/{t.versioned_suffix()}")
    for t in (Organisation, Person, *LMS_ENTITY_TYPES)
]


@dag(
    dag_id="hub_lms_sync",
    schedule="@hourly",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["skolehub", "lms", "sync"],
    doc_md=__doc__,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
)
def hub_lms_sync() -> None:
    """Wire the plan to the mapped sync task."""

    @task
    def plan() -> list[dict[str, str]]:
        from hub.sync_tasks import sync_plan

        return sync_plan("lms")

    @task(outlets=LMS_ASSETS, pool=ONEROSTER_POOL, max_active_tis_per_dagrun=4)
    def sync(target: dict[str, str]) -> dict[str, object]:
        from hub.sync_tasks import run_sync_task

        return run_sync_task(target)

    sync.expand(target=plan())


hub_lms_sync()
