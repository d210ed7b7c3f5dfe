"""The push DAGs: scheduled by the receiver's asset events, and renewing the subscriptions."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from croniter import croniter

from connectors import registry
from connectors.airflow import SYNC_TICK
from connectors.identity._ss12000_subscriptions import NOTIFICATIONS_ASSET_URI
from hub.settings import load_settings
from hub.sync import sync_targets
from hub.sync_tasks import renew_subscriptions_task, run_push_task, schedule_of
from tests.fixtures.ss12000 import SS12000SandboxFactory
from tests.support import consume_all, unique_prefix


@pytest.mark.parametrize("dag_id", ["hub_identity_push", "hub_identity_subscriptions"])
def test_the_push_dags_follow_the_house_rules(dagbag: Any, dag_id: str):
    """Tags, documentation, no catch-up and retrying tasks, as every DAG."""
    dag = dagbag.get_dag(dag_id)
    assert (True, False) == ("skolehub" in dag.tags, dag.catchup)
    assert dag.doc_md and all(task.retries >= 1 for task in dag.tasks)


def test_the_push_dag_is_scheduled_on_the_notifications_asset(dagbag: Any):
    """The receiver's asset events schedule it; its task updates the identity topics' Assets."""
    dag = dagbag.get_dag("hub_identity_push")
    assert [NOTIFICATIONS_ASSET_URI] == [a.uri for a in dag.timetable.asset_condition.objects]
    outlets = {asset.name for asset in dag.get_task("sync_changes").outlets}
    assert "hub.identity.person.v2" in outlets


def interval_seconds(expression: str) -> float:
    """Seconds between two consecutive firings of a cron expression or preset."""
    fires = croniter(expression, datetime(2026, 1, 5))
    first = fires.get_next(datetime)
    return (fires.get_next(datetime) - first).total_seconds()


@pytest.mark.parametrize("domain", registry.domains())
def test_every_sync_dag_looks_for_due_sources_on_each_tick_of_their_schedules(
    dagbag: Any, domain: str
):
    """A polling source's change waits at most one `schedule` interval: the DAG looks often.

    Each sync DAG runs every `SYNC_TICK`, from a start on a whole hour, so every firing of
    a domain's default schedule (and of any schedule on whole minutes a multiple of the
    tick) falls on one of the DAG's runs.
    """
    dag = dagbag.get_dag(f"hub_{domain}_sync")
    assert SYNC_TICK == dag.schedule
    assert dag.start_date.minute == dag.start_date.second == 0
    default = schedule_of(domain, None)
    assert interval_seconds(default) % SYNC_TICK.total_seconds() == 0


@pytest.mark.integration
def test_the_push_task_syncs_what_the_events_named_and_the_renewal_task_subscribes(
    hub_config: Callable[[dict[str, Any]], Path],
    ss12000_sandbox_factory: SS12000SandboxFactory,
    kafka_bootstrap: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
):
    """Two events of one source become one persons-only sync; the renewal task subscribes."""
    sandbox = ss12000_sandbox_factory(60)
    prefix = unique_prefix()
    hub_config(
        {
            "kafka": {"bootstrap": kafka_bootstrap, "topic_prefix": prefix, "partitions": 1},
            "database_url": f"sqlite:///{tmp_path / 'hub.db'}",
            "tenants": [sandbox.tenant_entry(subscribe=True)],
        }
    )
    monkeypatch.setenv("HUB_PUSH_URL", "http://127.0.0.1:9/hooks")
    monkeypatch.setenv("HUB_PUSH_SECRET", "push-secret-0123456789abcdef")
    (first,) = sync_targets(load_settings(), [(sandbox.tenant, "ss12000")])
    assert "success" == first.status
    assert ["created"] == [s["action"] for s in renew_subscriptions_task()]
    person = sandbox.data.id_of("persons", 5)
    sandbox.data.modify("persons", person, {"givenName": "Ingela"})
    event = {"tenant": sandbox.tenant, "source": "ss12000", "deleted": False}

    (report,) = run_push_task([{**event, "streams": ["persons"]}, {**event, "streams": []}])

    assert ("success", False, 1) == (report["status"], report["full"], report["updated"])
    updates = [
        json.loads(r.value)
        for r in consume_all(kafka_bootstrap, [f"{prefix}.identity.person.v2"])
        if r.value is not None and json.loads(r.value)["op"] == "u"
    ]
    assert ["Ingela"] == [u["after"]["given_name"] for u in updates]
