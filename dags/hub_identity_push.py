"""Pushed identity changes: sync what an SS 12000 notification named, within seconds.

Scheduled by data, not by clock: the webhook receiver (`hub listen --airflow URL`) turns
each subscription notification into an asset event on `hub.ss12000.notifications`,
whose `extra` names the tenant, the source and the changed resource types. The task
syncs only those streams (and `/deletedEntities`) of that source, incrementally, and
updates the identity topics' Assets like the scheduled sync. A sync skipped because the
scheduled run holds the source's lease is retried. See docs/operations.md, "Freshness".
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import dag, task

from connectors.airflow import NOTIFICATIONS_ASSET, domain_assets


@dag(
    dag_id="hub_identity_push",
    schedule=[NOTIFICATIONS_ASSET],
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["skolehub", "identity", "sync", "push"],
    doc_md=__doc__,
    default_args={"retries": 5, "retry_delay": timedelta(seconds=10)},
)
def hub_identity_push() -> None:
    """One task: the targeted syncs of the triggering notifications."""

    @task(outlets=domain_assets("identity"))
    def sync_changes(triggering_asset_events: Any = None) -> list[dict[str, object]]:
        from hub.sync_tasks import run_push_task

        events = triggering_asset_events or {}
        return run_push_task([dict(e.extra) for found in events.values() for e in found])

    sync_changes()


hub_identity_push()
