"""Scale-out: the project's DAGs on the CeleryExecutor with two workers give one process's result.

A real Airflow (api-server, scheduler, dag-processor, triggerer and two `airflow celery
worker` processes with distinct Celery hostnames, Redis from Debian's packages as the
Celery broker, PostgreSQL as the metadata database) runs the three sync DAGs and then the
follow-up compile over three sandbox tenants (two Norwegian directories, a Swedish SS 12000
register, each with its LMS and three MDMs), with PostgreSQL as the hub's store and the
three-broker KRaft cluster as Kafka. A single `hub run` over the same sandbox, into topics
of its own and a SQLite store, is the reference. The topics of both are read back with a
plain consumer and folded per tenant (latest value per record key); they must be equal,
`ce_id`s included, and both workers must have run tasks.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from kafka import KafkaAdminClient

from hub.dev._services import free_port
from hub.dev.airflow_local import HOST, LocalAirflow
from hub.dev.celery_local import (
    SYNC_DAGS,
    AirflowRest,
    most_at_once,
    sandbox_config,
    workers_used,
)
from hub.dev.kafka_local_cluster import LocalKafkaCluster
from hub.dev.redis_local import redis_server
from tests.conftest import REPO_ROOT, in_ci
from tests.fixtures.airflow import require_airflow
from tests.support import Record, consume_all

# Beyond the suite's 300 s: five minutes on a loaded 2-core machine, and the deadlines
# inside (Airflow's start, the DAG runs) should speak before pytest-timeout does.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(1200)]

TENANTS = ("nordby", "sorby", "solberga")
SCALE = 60
WORKERS = 2
COMPILE_DAG = "hub_followup_compile"
#: Airflow's start under load (migrate, six processes), then the DAG runs.
AIRFLOW_START_TIMEOUT_S = 300.0
DAG_RUNS_TIMEOUT_S = 300.0

#: topic suffix (without the prefix) → record key → (value, ce_id).
Fold = dict[str, dict[str, tuple[Any, str]]]


def require_redis() -> None:
    """Skip without Debian's redis-server, or fail when CI=true."""
    if redis_server() is None:
        message = "redis-server is not installed (`make system-deps`)"
        if in_ci():
            pytest.fail(message + " (CI=true: a missing service is an error)")
        pytest.skip(message + " (skipped outside CI; under CI=true this fails)")


def hub(var: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run `hub ARGS` with the sandbox's var folder and secrets; it must succeed."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    full.update(HUB_VAR_DIR=str(var), HUB_ENV_FILE=str(var / "sandbox" / "secrets.env"), **env)
    result = subprocess.run(
        [sys.executable, "-m", "hub.cli", *args],
        env=full,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert 0 == result.returncode, f"hub {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result


def create_database(server_url: str, prefix: str) -> str:
    """A new database on the session's PostgreSQL server; its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    base = sa.engine.make_url(server_url)
    admin = sa.create_engine(base.set(database="postgres"))
    try:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text(f'create database "{name}"'))
    finally:
        admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def fold_by_tenant(bootstrap: str, prefix: str) -> dict[str, Fold]:
    """Every topic of `prefix` but the DLQ, folded per tenant: the latest value per key."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="celery-check")
    try:
        topics = sorted(
            t for t in admin.list_topics() if t.startswith(f"{prefix}.") and ".dlq." not in t
        )
    finally:
        admin.close()
    folded: dict[str, Fold] = defaultdict(lambda: defaultdict(dict))
    record: Record
    for record in consume_all(bootstrap, topics, timeout=120):
        suffix = record.topic[len(prefix) + 1 :]
        tenant = record.key.split(":", 1)[0]
        if record.value is None:
            folded[tenant][suffix].pop(record.key, None)
        else:
            value = json.loads(record.value)
            folded[tenant][suffix][record.key] = (value, record.headers["ce_id"].decode())
    return {tenant: dict(topics) for tenant, topics in folded.items()}


def differences(celery: Fold, reference: Fold) -> list[str]:
    """What differs between two folds of one tenant, a few keys per topic."""
    found = []
    for suffix in sorted(set(celery) | set(reference)):
        ours, theirs = celery.get(suffix, {}), reference.get(suffix, {})
        missing = sorted(set(theirs) - set(ours))
        extra = sorted(set(ours) - set(theirs))
        changed = sorted(k for k in set(ours) & set(theirs) if ours[k] != theirs[k])
        if missing or extra or changed:
            found.append(
                f"{suffix}: {len(missing)} missing {missing[:3]}, {len(extra)} extra {extra[:3]}, "
                f"{len(changed)} different {[(k, ours[k], theirs[k]) for k in changed[:1]]}"
            )
    return found


@pytest.fixture
def celery_airflow(tmp_path: Path, postgres_url: str) -> Iterator[tuple[LocalAirflow, Future]]:
    """A CeleryExecutor Airflow with two workers, starting in the background (a future).

    The api-server, scheduler, dag-processor and the workers; Redis as the Celery broker,
    the metadata in a database of its own on the session's PostgreSQL, and another for
    the hub's store.
    """
    require_airflow()
    require_redis()
    var = tmp_path / "var"
    var.mkdir()
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "HUB_"))}
    env = {
        **base,
        "HUB_VAR_DIR": str(var),
        "HUB_CONFIG": str(var / "celery.yaml"),
        "HUB_ENV_FILE": str(var / "sandbox" / "secrets.env"),
        "HUB_DATABASE_URL": create_database(postgres_url, "hub"),
    }
    airflow = LocalAirflow(
        tmp_path / "airflow",
        port=free_port(HOST),
        dags_folder=REPO_ROOT / "dags",
        plugins_folder=REPO_ROOT / "plugins",
        env=env,
        database_url=create_database(postgres_url, "airflow"),
        workers=WORKERS,
        worker_concurrency=2,
        paused=True,
    )
    # No triggerer: no task of these DAGs defers.
    components = [c for c in airflow.components if c != "triggerer"]
    with ThreadPoolExecutor(max_workers=1) as starting:
        started = starting.submit(airflow.up, components, timeout=AIRFLOW_START_TIMEOUT_S)
        try:
            yield airflow, started
        finally:
            with contextlib.suppress(Exception):  # the test that waited for it reports it
                started.result()
            airflow.down()


def test_two_celery_workers_sync_three_tenants_as_one_process_does(
    celery_airflow: tuple[LocalAirflow, Future], kafka_cluster: LocalKafkaCluster, tmp_path: Path
):
    """Two Celery workers share the syncs and compile; per tenant the topics equal `hub run`'s."""
    airflow, started = celery_airflow
    bootstrap = kafka_cluster.bootstrap
    var = tmp_path / "var"
    tenants = ",".join(TENANTS)
    hub(var, "sandbox", "up", "--scale", str(SCALE), "--tenants", tenants, "--web-port", "0",
        env={"HUB_KAFKA_BOOTSTRAP": bootstrap})  # fmt: skip
    try:
        celery_prefix, reference_prefix = f"c{uuid.uuid4().hex[:8]}", f"r{uuid.uuid4().hex[:8]}"
        sandbox_config(var, "celery.yaml", bootstrap, celery_prefix, replicas=3)
        reference = sandbox_config(
            var, "reference.yaml", bootstrap, reference_prefix, replicas=3,
            database_url=f"sqlite:///{var / 'reference.db'}",
        )  # fmt: skip
        # The reference while Airflow starts: one process, every tenant and source, compiled.
        began = time.monotonic()
        summary = hub(var, "run", "--json", env={"HUB_CONFIG": str(reference)})
        reference_seconds = time.monotonic() - began
        syncs = json.loads(summary.stdout.strip().splitlines()[-1])["syncs"]
        assert {"success"} == {s["status"] for s in syncs}

        started.result()  # raises AirflowStartError naming the component and its log
        rest = AirflowRest(airflow)
        began = time.monotonic()
        runs = rest.run_dags(SYNC_DAGS, DAG_RUNS_TIMEOUT_S)
        rest.trigger(COMPILE_DAG, "after-the-syncs")
        rest.unpause(COMPILE_DAG)
        deadline = time.monotonic() + DAG_RUNS_TIMEOUT_S
        runs[COMPILE_DAG] = rest.wait_for_run(COMPILE_DAG, deadline, "after-the-syncs")
        celery_seconds = time.monotonic() - began

        celery, expected = (
            fold_by_tenant(bootstrap, celery_prefix),
            fold_by_tenant(bootstrap, reference_prefix),
        )
    finally:
        hub(var, "sandbox", "down", env={})

    sync_tasks = [t for run in runs.values() for t in run.tasks if t.task_id.startswith("sync")]
    print(
        f"reference hub run {reference_seconds:.0f} s; Celery syncs and compile "
        f"{celery_seconds:.0f} s, {len(sync_tasks)} sync tasks, at most "
        f"{most_at_once(sync_tasks)} at once, per worker {workers_used(runs.values())}"
    )
    # One task per tenant and source, as in the reference; a system no tenant here has
    # (Jamf volume purchasing, the native platforms) maps to nothing: skipped.
    synced = [t for t in sync_tasks if t.state != "skipped"]
    assert len(syncs) == len(synced)
    assert {"success"} == {t.state for t in synced}
    assert set(TENANTS) == set(expected)
    for tenant in TENANTS:
        assert {"identity", "lms", "mdm", "followup"} <= {s.split(".")[0] for s in expected[tenant]}
        assert [] == differences(celery.get(tenant, {}), expected[tenant]), tenant
    assert set(celery) == set(expected)
    used = workers_used(runs.values())
    assert {f"worker-{i}" for i in range(1, WORKERS + 1)} == {h.split("@")[0] for h in used}, used
    assert most_at_once(sync_tasks) >= 2  # tenants' syncs ran side by side
