"""Sync throughput of the DAGs on Airflow's CeleryExecutor with 1, 2, … Celery workers.

`run_workers(people_per_tenant, tenants, workers)` generates `tenants` sandbox school
owners of about `people_per_tenant` people each (a Feide directory in slapd, a OneRoster
LMS and three MDMs each), starts a local Kafka broker, a PostgreSQL (Airflow's metadata
database and the hub's store) and a CeleryExecutor Airflow with `workers` Celery workers
and Redis as their broker (`hub.dev.airflow_local`), runs the three sync DAGs once (one
mapped task per tenant and source) and returns the change events they published per second
of the DAG runs' wall time, from the first run's start to the last run's end, so Airflow's
own start-up is not counted.

    python bench/_workers.py --workers 1,2 [--people 600] [--tenants 4] [--concurrency 2]

runs the same generated tenants (one sandbox, one broker) with each worker count in turn,
each on fresh topics and a fresh store, and prints events/s per count and the ratio to the
first. Each worker runs `--concurrency` tasks at once, so two workers have twice the task
slots of one, as adding a worker to a deployment does. `bench/scale.py --workers N` calls
`run_workers`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from kafka import KafkaConsumer, TopicPartition  # noqa: E402

from hub.dev._services import free_port  # noqa: E402
from hub.dev.airflow_local import HOST, LocalAirflow  # noqa: E402
from hub.dev.celery_local import SYNC_DAGS, AirflowRest, sandbox_config, workers_used  # noqa: E402
from hub.dev.kafka_local import LocalKafka, default_cache_dir  # noqa: E402
from hub.dev.postgres_local import LocalPostgres  # noqa: E402

#: Task processes per Celery worker unless told otherwise.
DEFAULT_CONCURRENCY = 2
_AIRFLOW_START_TIMEOUT_S = 600.0
_DAG_RUNS_TIMEOUT_S = 3600.0


def tenant_ids(tenants: int) -> list[str]:
    """The generated tenants' ids: `skala1`, `skala2`, … (Norwegian sandbox owners)."""
    return [f"skala{i}" for i in range(1, tenants + 1)]


@contextlib.contextmanager
def celery_bench(people_per_tenant: int, tenants: int) -> Iterator[CeleryBench]:
    """The services every worker count shares: sandbox, broker, PostgreSQL; stopped after."""
    work = Path(tempfile.mkdtemp(prefix="skolehub-workers-"))
    work.chmod(0o755)  # PostgreSQL runs as the `postgres` user under root
    var = work / "var"
    saved = {name: os.environ.get(name) for name in ("HUB_VAR_DIR", "HUB_CONFIG")}
    os.environ["HUB_VAR_DIR"] = str(var)
    os.environ.pop("HUB_CONFIG", None)
    from hub.dev.local_services import sandbox_down, sandbox_up

    broker = LocalKafka(work / "kafka", default_cache_dir(ROOT / "var"), port=free_port(HOST))
    postgres = LocalPostgres(work / "postgres")
    try:
        bootstrap = broker.up()
        postgres.up()
        sandbox_up(people_per_tenant, ",".join(tenant_ids(tenants)), web_port=free_port(HOST))
        yield CeleryBench(work, var, bootstrap, postgres)
    finally:
        with contextlib.suppress(Exception):
            sandbox_down()
        postgres.down()
        broker.down()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        shutil.rmtree(work, ignore_errors=True)


class CeleryBench:
    """One sandbox, broker and PostgreSQL; `measure(workers)` runs the sync DAGs on them."""

    def __init__(self, work: Path, var: Path, bootstrap: str, postgres: LocalPostgres) -> None:
        self.work = work
        self.var = var
        self.bootstrap = bootstrap
        self.postgres = postgres

    def measure(self, workers: int, concurrency: int = DEFAULT_CONCURRENCY) -> dict[str, Any]:
        """Run the sync DAGs once on a fresh CeleryExecutor Airflow with `workers` workers."""
        tag = f"w{workers}-{uuid.uuid4().hex[:6]}"  # the topic prefix and the names below
        database = tag.replace("-", "_")
        self.postgres.up([f"airflow_{database}", f"hub_{database}"])
        config = sandbox_config(self.var, f"{tag}.yaml", self.bootstrap, tag)
        base = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "HUB_"))}
        airflow = LocalAirflow(
            self.work / f"airflow-{tag}",
            port=free_port(HOST),
            dags_folder=ROOT / "dags",
            plugins_folder=ROOT / "plugins",
            env={
                **base,
                "HUB_VAR_DIR": str(self.var),
                "HUB_CONFIG": str(config),
                "HUB_ENV_FILE": str(self.var / "sandbox" / "secrets.env"),
                "HUB_DATABASE_URL": self.postgres.url(f"hub_{database}"),
            },
            database_url=self.postgres.url(f"airflow_{database}"),
            workers=workers,
            worker_concurrency=concurrency,
            paused=True,
        )
        started = time.monotonic()
        try:
            airflow.up(timeout=_AIRFLOW_START_TIMEOUT_S)
            start_seconds = time.monotonic() - started
            runs = AirflowRest(airflow).run_dags(SYNC_DAGS, _DAG_RUNS_TIMEOUT_S)
        finally:
            airflow.down()
        first = min(run.start for run in runs.values() if run.start is not None)
        last = max(run.end for run in runs.values() if run.end is not None)
        seconds = (last - first).total_seconds()
        events = published(self.bootstrap, tag)
        syncs = [t for run in runs.values() for t in run.tasks if t.task_id.startswith("sync")]
        return {
            "workers": workers,
            "concurrency": concurrency,
            "events": events,
            "seconds": round(seconds, 1),
            "events_per_second": round(events / seconds, 1),
            "sync_tasks": len(syncs),
            "tasks_per_worker": workers_used(runs.values()),
            "airflow_start_seconds": round(start_seconds, 1),
        }


def published(bootstrap: str, prefix: str) -> int:
    """Records on the prefix's entity topics (the first sync publishes no tombstones)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        topics = [
            t
            for t in consumer.topics()
            if t.startswith(f"{prefix}.") and t.split(".")[1] in ("identity", "lms", "mdm")
        ]
        partitions = [
            TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t) or ()
        ]
        return sum(consumer.end_offsets(partitions).values()) if partitions else 0
    finally:
        consumer.close()


def run_workers(
    people_per_tenant: int, tenants: int, workers: int, *, concurrency: int = DEFAULT_CONCURRENCY
) -> dict[str, Any]:
    """Sync throughput of the sync DAGs on `workers` Celery workers over generated tenants.

    Starts everything it needs (sandbox, Kafka broker, PostgreSQL, Redis, Airflow) in a
    temporary folder and stops it after. Returns a dict: `workers`, `concurrency` (task
    slots per worker), `tenants`, `people_per_tenant`, `events` (change events
    published), `seconds` (first DAG run's start to the last one's end),
    `events_per_second`, `sync_tasks`, `tasks_per_worker` (task instances per worker
    hostname) and `airflow_start_seconds`.
    """
    with celery_bench(people_per_tenant, tenants) as bench:
        result = bench.measure(workers, concurrency)
    return {**result, "tenants": tenants, "people_per_tenant": people_per_tenant}


def compare(
    people_per_tenant: int, tenants: int, counts: Sequence[int], concurrency: int
) -> list[dict[str, Any]]:
    """`run_workers` for each worker count on the same sandbox and broker, in turn."""
    with celery_bench(people_per_tenant, tenants) as bench:
        return [bench.measure(count, concurrency) for count in counts]


def main(argv: Sequence[str] | None = None) -> int:
    """Print throughput with each worker count of `--workers` and the ratio to the first."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="1,2", help="worker counts, comma-separated")
    parser.add_argument("--people", type=int, default=600, help="people per tenant (scale)")
    parser.add_argument("--tenants", type=int, default=4, help="generated tenants")
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY)
    args = parser.parse_args(argv)
    counts = [int(n) for n in args.workers.split(",") if n.strip()]
    print(
        f"{args.tenants} tenants of about {args.people} people, 5 sources each; "
        f"{args.concurrency} task slots per worker",
        flush=True,
    )
    results = compare(args.people, args.tenants, counts, args.concurrency)
    baseline = results[0]["events_per_second"]
    for result in results:
        print(
            f"workers {result['workers']}: {result['events']:,} events in "
            f"{result['seconds']:.1f} s = {result['events_per_second']:,.0f} events/s "
            f"(ratio {result['events_per_second'] / baseline:.2f}); "
            f"tasks per worker {result['tasks_per_worker']}; "
            f"Airflow started in {result['airflow_start_seconds']:.0f} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
