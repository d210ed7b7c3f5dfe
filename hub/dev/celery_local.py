"""Running the hub's DAGs on a local CeleryExecutor Airflow and reading back what they did.

`hub airflow up --workers N` starts the set (`hub.dev.airflow_local`); this module drives
it through Airflow's REST API as an operator would in the UI: wait until the dag-processor
has parsed the DAGs, unpause the ones to run (the scheduler then starts a run of each),
wait for their runs, and list the task instances with the hostname of the Celery worker
that ran each. The scale-out test (tests/integration/test_airflow_celery.py) and the
throughput benchmark (bench/_workers.py) share it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import requests
import yaml

from connectors.registry import domains
from hub.dev.airflow_local import AirflowLocalError, LocalAirflow

#: The DAGs that sync every configured source, one mapped task per tenant and source.
#: Every domain's sync DAG (`dags/hub_<domain>_sync.py`), one per domain a connector feeds.
SYNC_DAGS = tuple(f"hub_{domain}_sync" for domain in domains())
_POLL_INTERVAL_S = 1.0
_REQUEST_TIMEOUT_S = 30.0
_FINISHED = {"success", "failed"}
#: Task states that fail a wait at once: a retry would come only after the DAGs'
#: `retry_delay` (minutes), and a failure of one mapped task is a failure of the whole.
_TASK_FAILED = {"failed", "up_for_retry", "upstream_failed"}


class DagRunError(AirflowLocalError):
    """A DAG run failed, or did not finish in time; the message names its task instances."""


@dataclass(frozen=True)
class TaskRun:
    """One task instance of a finished DAG run, as the REST API describes it."""

    dag_id: str
    task_id: str
    map_index: int
    state: str | None
    hostname: str
    start: datetime | None
    end: datetime | None

    @classmethod
    def from_api(cls, body: dict[str, Any]) -> TaskRun:
        """Build from an item of `GET …/taskInstances`."""
        return cls(
            dag_id=str(body["dag_id"]),
            task_id=str(body["task_id"]),
            map_index=int(body.get("map_index", -1)),
            state=body.get("state"),
            hostname=str(body.get("hostname") or ""),
            start=_when(body.get("start_date")),
            end=_when(body.get("end_date")),
        )

    def __str__(self) -> str:
        index = "" if self.map_index < 0 else f"[{self.map_index}]"
        return f"{self.dag_id}.{self.task_id}{index} {self.state} on {self.hostname or '?'}"


@dataclass(frozen=True)
class DagRun:
    """A finished DAG run and its task instances."""

    dag_id: str
    run_id: str
    state: str
    start: datetime | None
    end: datetime | None
    tasks: tuple[TaskRun, ...]


class AirflowRest:
    """Airflow's REST API as the local set's admin (a JWT from its SimpleAuthManager)."""

    def __init__(self, airflow: LocalAirflow) -> None:
        self.airflow = airflow
        self._headers = {"Authorization": f"Bearer {airflow.token('admin')}"}

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send a request to `/api/v2<path>` and return its JSON; raise on an error status."""
        response = requests.request(
            method,
            f"{self.airflow.url}/api/v2{path}",
            headers=self._headers,
            timeout=_REQUEST_TIMEOUT_S,
            **kwargs,
        )
        if response.status_code >= 400:
            raise AirflowLocalError(
                f"{method} /api/v2{path}: {response.status_code} {response.text}"
            )
        return response.json() if response.content else None

    def wait_for_dags(self, dag_ids: Iterable[str], timeout: float) -> None:
        """Poll until the dag-processor has stored every one of `dag_ids`."""
        wanted = set(dag_ids)
        deadline = time.monotonic() + timeout
        while True:
            found = {d["dag_id"] for d in self.request("GET", "/dags?limit=100")["dags"]}
            if wanted <= found:
                return
            if time.monotonic() >= deadline:
                raise AirflowLocalError(
                    f"the dag-processor did not parse {sorted(wanted - found)} within "
                    f"{timeout:.0f} s; see {self.airflow.log_file('dag-processor')}"
                )
            time.sleep(_POLL_INTERVAL_S)

    def unpause(self, dag_id: str) -> None:
        """Unpause a DAG: the scheduler starts its latest scheduled run (catchup is off)."""
        self.request("PATCH", f"/dags/{dag_id}", json={"is_paused": False})

    def trigger(self, dag_id: str, run_id: str) -> None:
        """Start a manual run of `dag_id` named `run_id`."""
        self.request(
            "POST", f"/dags/{dag_id}/dagRuns", json={"dag_run_id": run_id, "logical_date": None}
        )

    def runs(self, dag_id: str) -> list[dict[str, Any]]:
        """The DAG's runs, oldest first."""
        path = f"/dags/{dag_id}/dagRuns?limit=100&order_by=run_after"
        return list(self.request("GET", path)["dag_runs"])

    def task_runs(self, dag_id: str, run_id: str) -> tuple[TaskRun, ...]:
        """The task instances of one run, mapped ones each on its own."""
        body = self.request("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances?limit=500")
        return tuple(TaskRun.from_api(item) for item in body["task_instances"])

    def wait_for_run(self, dag_id: str, deadline: float, run_id: str | None = None) -> DagRun:
        """Wait for a run of `dag_id` (`run_id`, else its first) to finish; it must succeed.

        Raises `DagRunError` listing the run's task instances when it failed or one of its
        tasks failed (a retry is not waited for), or, at `deadline` (a `time.monotonic()`
        value), those of the run still going.
        """
        while True:
            runs = [r for r in self.runs(dag_id) if run_id is None or r["dag_run_id"] == run_id]
            if runs and runs[0]["state"] in _FINISHED:
                run = runs[0]
                finished = self._dag_run(dag_id, run)
                if run["state"] != "success":
                    raise DagRunError(self._describe(finished, "failed"))
                return finished
            if runs:
                going = self._dag_run(dag_id, runs[0])
                if any(task.state in _TASK_FAILED for task in going.tasks):
                    raise DagRunError(self._describe(going, "has a failed task"))
            if time.monotonic() >= deadline:
                if not runs:
                    raise DagRunError(f"no run of {dag_id} was started in time")
                raise DagRunError(self._describe(self._dag_run(dag_id, runs[0]), "did not finish"))
            time.sleep(_POLL_INTERVAL_S)

    def run_dags(self, dag_ids: Sequence[str], timeout: float) -> dict[str, DagRun]:
        """Unpause `dag_ids` together and wait until the first run of each has succeeded."""
        deadline = time.monotonic() + timeout
        self.wait_for_dags(dag_ids, timeout)
        for dag_id in dag_ids:
            self.unpause(dag_id)
        return {dag_id: self.wait_for_run(dag_id, deadline) for dag_id in dag_ids}

    def _dag_run(self, dag_id: str, run: dict[str, Any]) -> DagRun:
        run_id = str(run["dag_run_id"])
        return DagRun(
            dag_id=dag_id,
            run_id=run_id,
            state=str(run["state"]),
            start=_when(run.get("start_date")),
            end=_when(run.get("end_date")),
            tasks=self.task_runs(dag_id, run_id),
        )

    def _describe(self, run: DagRun, what: str) -> str:
        lines = "\n".join(f"  {task}" for task in run.tasks)
        logs = self.airflow.home / "logs"
        return f"{run.dag_id} run {run.run_id} {what} (state {run.state}):\n{lines}\nlogs: {logs}"


def sandbox_config(
    var: Path, name: str, bootstrap: str, prefix: str, *, replicas: int = 1, **extra: Any
) -> Path:
    """Write `<var>/<name>`: the sandbox's hub.yaml on `bootstrap` under a topic prefix of its own.

    `replicas` is the topics' replication factor (3 on the three-node cluster); `extra`
    sets other top-level keys (`database_url`).
    """
    config = yaml.safe_load((var / "hub.yaml").read_text(encoding="utf-8"))
    config["kafka"].update(
        bootstrap=bootstrap, topic_prefix=prefix, partitions=3, replication_factor=replicas
    )
    config.update(extra)
    path = var / name
    path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def workers_used(runs: Iterable[DagRun]) -> dict[str, int]:
    """How many task instances each worker hostname ran, over `runs`."""
    used: dict[str, int] = {}
    for run in runs:
        for task in run.tasks:
            if task.hostname:
                used[task.hostname] = used.get(task.hostname, 0) + 1
    return used


def most_at_once(tasks: Iterable[TaskRun]) -> int:
    """The largest number of `tasks` that were running at the same moment."""
    edges: list[tuple[datetime, int]] = []
    for task in tasks:
        if task.start is not None and task.end is not None:
            edges += [(task.start, 1), (task.end, -1)]
    running = most = 0
    for _, step in sorted(edges):  # at a tie the end (-1) sorts first: touching is not overlap
        running += step
        most = max(most, running)
    return most


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
