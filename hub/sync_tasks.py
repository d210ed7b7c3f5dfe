"""The Airflow task bodies of the sync DAGs: which syncs to run, and one sync as a task.

DAG files stay wiring; everything that reads configuration or talks to a system is here.
Each function first puts the hub's log redaction into the logging Airflow's task runner
configured (`hub.logging.install_redaction`), so no task log holds an identifier.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

import structlog
from croniter import croniter

from hub.logging import install_redaction
from hub.settings import load_env_file, load_settings
from hub.sources import source_domain
from hub.store import StateStore, now
from hub.sync import sync_targets

log = structlog.get_logger(__name__)

#: A domain's usual cadence, for its sources that set no `schedule` of their own: the
#: directory, the learning platforms, the device managers and the service desk hourly;
#: licence counts and the equipment register change slowly and are read daily.
DOMAIN_SCHEDULES = {"licences": "@daily", "equipment": "@daily"}
DEFAULT_SCHEDULE = "@hourly"


def schedule_of(domain: str, schedule: str | None) -> str:
    """The cron schedule a source is synced on: its own, else its domain's."""
    return schedule or DOMAIN_SCHEDULES.get(domain, DEFAULT_SCHEDULE)


def due(schedule: str, last_started: datetime | None, at: datetime) -> bool:
    """Whether a source on `schedule` is due at `at`: no run of it began since its latest tick.

    A run of any outcome counts: a failed source is tried again at its next tick (Airflow's
    task retries come in between), not at every look of the DAG.
    """
    if last_started is None:
        return True
    latest_tick: datetime = croniter(schedule, at).get_prev(datetime)
    return last_started < latest_tick


def sync_plan(
    domain: str,
    types: Collection[str] | None = None,
    *,
    every_source: bool = True,
    at: datetime | None = None,
) -> list[dict[str, str]]:
    """The configured (tenant, source) pairs of one domain to sync, as mapped-task arguments.

    `types` narrows it to those connector types (one task group of `sync_lanes`). With
    `every_source` (a run an operator triggered) every source is synced; without it (a
    scheduled run of the DAG) only the sources due on their schedule at `at` (default now).
    """
    install_redaction()
    load_env_file()
    settings = load_settings()
    sources = [
        (tenant.id, source)
        for tenant in settings.tenants
        for source in tenant.sources
        if source_domain(source) == domain and (types is None or source.type in types)
    ]
    if not every_source and sources:
        at = at or now()
        store = StateStore(settings.store_url)
        try:
            latest = store.latest_runs()
        finally:
            store.close()
        due_now = []
        for tenant_id, source in sources:
            schedule = schedule_of(domain, getattr(source, "schedule", None))
            last = latest.get((tenant_id, source.id))
            if due(schedule, last["started_at"] if last else None, at):
                due_now.append((tenant_id, source))
            else:
                log.info("sync_not_due", tenant=tenant_id, source=source.id, schedule=schedule)
        sources = due_now
    return [{"tenant": tenant_id, "source": source.id} for tenant_id, source in sources]


def plan_task(domain: str, types: Collection[str]) -> list[dict[str, str]]:
    """The `plan` task of a sync DAG: due sources on a scheduled run, all on any other.

    A run the scheduler made (every `connectors.airflow.SYNC_TICK`) syncs the sources due
    on their schedule; a run an operator triggered (or a backfill) syncs every source.
    """
    from airflow.sdk import get_current_context

    run_type = get_current_context()["dag_run"].run_type
    return sync_plan(domain, types, every_source=run_type != "scheduled")


def run_sync_task(target: dict[str, str]) -> dict[str, Any]:
    """Sync one target inside an Airflow task; a held run fails without retries.

    A run skipped because another run of the source holds its lease (a manual `hub sync`,
    or a zombie of this task) ends the task as skipped: nothing was published.
    """
    from airflow.sdk.exceptions import (
        AirflowException,
        AirflowFailException,
        AirflowSkipException,
    )

    install_redaction()
    load_env_file()
    settings = load_settings()
    (report,) = sync_targets(settings, [(target["tenant"], target["source"])])
    if report.status == "held":
        raise AirflowFailException(f"held by the deletion guard: {report.error}")
    if report.status == "skipped":
        raise AirflowSkipException(report.error or "another run holds the source's lease")
    if report.status != "success":
        raise AirflowException(f"{report.tenant}/{report.source} failed: {report.error}")
    return report.to_dict()


def run_push_task(extras: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Sync what the triggering notifications named: one targeted sync per source.

    `extras` are the asset events' `extra`s (`tenant`, `source`, `streams`, `deleted`) that
    the webhook receiver created; several of one source are merged. A sync that failed or
    was skipped (another run holds the lease) fails the task, so Airflow tries it again.
    """
    from airflow.sdk.exceptions import AirflowException

    from hub.push import ChangeSync

    install_redaction()
    load_env_file()
    settings = load_settings()
    wanted: dict[tuple[str, str], tuple[set[str], bool]] = {}
    for extra in extras:
        streams, deleted = wanted.setdefault((extra["tenant"], extra["source"]), (set(), False))
        streams.update(extra.get("streams") or [])
        wanted[extra["tenant"], extra["source"]] = (streams, deleted or bool(extra.get("deleted")))
    with ChangeSync(settings) as changes:
        reports = [
            changes.sync(tenant, source, streams, deleted)
            for (tenant, source), (streams, deleted) in wanted.items()
        ]
    unfinished = [r for r in reports if r.status != "success"]
    if unfinished:
        raise AirflowException(
            "; ".join(f"{r.tenant}/{r.source} {r.status}: {r.error}" for r in unfinished)
        )
    return [r.to_dict() for r in reports]


def renew_subscriptions_task() -> list[dict[str, Any]]:
    """Create or renew every push source's subscription (`HUB_PUSH_URL`, `HUB_PUSH_SECRET`)."""
    import os

    from airflow.sdk.exceptions import AirflowException

    from hub.push import PUSH_URL_ENV, ensure_subscriptions, push_secret

    install_redaction()
    load_env_file()
    settings = load_settings()
    url = os.environ.get(PUSH_URL_ENV)
    if not url:
        raise AirflowException(f"{PUSH_URL_ENV} is not set: where do the sources post?")
    statuses = ensure_subscriptions(settings, url, push_secret())
    failed = [s for s in statuses if s.action == "failed"]
    if failed:
        raise AirflowException("; ".join(f"{s.tenant}/{s.source}: {s.error}" for s in failed))
    return [s.to_dict() for s in statuses]
