"""LMS sync: every tenant's learning platform to the hub's LMS topics.

Platforms: OneRoster 1.1/1.2, Microsoft Teams classes (Graph education), Google
Classroom, itslearning, Canvas and Moodle; each system's syncs are one mapped task
(`sync_oneroster`, `sync_graph_education`, `sync_google_classroom`, `sync_itslearning`,
`sync_canvas`, `sync_moodle`) in its own pool.

One mapped task per configured tenant × LMS source. Each task reads its source and
publishes the changes as CloudEvents on `hub.lms.*.v2` (courses, classes, enrollments,
results, sessions) and, for the people and schools the LMS knows, `hub.identity.person.v2`
and `hub.identity.organisation.v2`; it updates the Assets of those topics, which schedule
what consumes them. Runs are incremental (records changed since the last bookmark) until
the source's `full_sync_every` has passed; then a full run also deletes what vanished.

OneRoster syncs run in the pool `hub_lms_oneroster`, so at most that pool's slots of
them run at once (likewise `hub_lms_graph_education`, `hub_lms_google_classroom`,
`hub_lms_itslearning`, `hub_lms_canvas` and `hub_lms_moodle`); each task sends one request
at a time to its school owner's API. Create the pools before the first run (`airflow
pools set hub_lms_oneroster 4 "OneRoster syncs"`; `make airflow` creates every declared
pool). A run held by the deletion guard fails without retries; release it with `hub sync
TENANT SOURCE --approve-deletes`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag, task

from connectors.airflow import SYNC_TICK, domain_assets, sync_lanes

LMS_ASSETS = domain_assets("lms")


@dag(
    dag_id="hub_lms_sync",
    schedule=SYNC_TICK,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["skolehub", "lms", "sync"],
    doc_md=__doc__,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
)
def hub_lms_sync() -> None:
    """Wire each plan to its mapped sync task: one per pool of the domain's connectors."""

    @task
    def plan(types: list[str]) -> list[dict[str, str]]:
        from hub.sync_tasks import plan_task

        return plan_task("lms", types)

    @task(outlets=LMS_ASSETS, max_active_tis_per_dagrun=4)
    def sync(target: dict[str, str]) -> dict[str, object]:
        from hub.sync_tasks import run_sync_task

        return run_sync_task(target)

    for lane in sync_lanes("lms"):
        targets = plan.override(task_id=f"plan{lane.suffix}")(list(lane.types))
        pool = {"pool": lane.pool} if lane.pool else {}
        sync.override(task_id=f"sync{lane.suffix}", **pool).expand(target=targets)


hub_lms_sync()
