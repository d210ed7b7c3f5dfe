"""Task logs: a real Airflow task process writes its log file with identifiers redacted."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.dags.probes import hub_redaction_probe as probe

PROBE_FILE = Path(probe.__file__)
PROBE_BUNDLE = "hub-test-probes"


@pytest.fixture
def probe_bundle(airflow_db: None, monkeypatch: pytest.MonkeyPatch) -> str:
    """A DAG bundle of the probe DAGs beside the repository's `dags/` bundle, for this test."""
    local = "airflow.dag_processing.bundles.local.LocalDagBundle"
    bundles = [
        {"name": PROBE_BUNDLE, "classpath": local, "kwargs": {"path": str(PROBE_FILE.parent)}},
        {"name": "dags-folder", "classpath": local, "kwargs": {}},
    ]
    monkeypatch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST", json.dumps(bundles))
    return PROBE_BUNDLE


def _run_in_task_process(dag_id: str, task_id: str) -> tuple[str, Path]:
    """Run one task as Airflow's supervisor runs it (a forked task process) and read its log.

    `dag.test()` marks the run's task done without running it, which creates the run in the
    metadata database; the task instance is then queued again and handed to the supervisor
    the workers use, talking to the in-process Execution API. Returns the task's final state
    and its log file.
    """
    from airflow.dag_processing.dagbag import DagBag
    from airflow.executors.workloads import BundleInfo, ExecuteTask
    from airflow.models.taskinstance import TaskInstance
    from airflow.sdk.configuration import conf
    from airflow.sdk.execution_time.supervisor import InProcessTestSupervisor, supervise_task
    from airflow.utils.session import create_session
    from airflow.utils.state import TaskInstanceState

    dag = DagBag(dag_folder=str(PROBE_FILE)).get_dag(dag_id)
    run = dag.test(mark_success_pattern=".*")
    with create_session() as session:
        ti = session.query(TaskInstance).filter_by(run_id=run.run_id, task_id=task_id).one()
        ti.state = TaskInstanceState.QUEUED
        ti.try_number += 1
        session.commit()
        workload = ExecuteTask.make(
            ti, dag_rel_path=Path(PROBE_FILE.name), bundle_info=BundleInfo(name=PROBE_BUNDLE)
        )
    supervise_task(
        ti=workload.ti,
        bundle_info=workload.bundle_info,
        dag_rel_path=workload.dag_rel_path,
        token="",
        log_path=workload.log_path,
        client=InProcessTestSupervisor._api_client(dag),
    )
    with create_session() as session:
        state = session.query(TaskInstance).filter_by(id=ti.id).one().state
    return str(state), Path(conf.get("logging", "base_log_folder")) / str(workload.log_path)


# Airflow's supervisor leaves the socket pairs of its task processes to the garbage collector.
@pytest.mark.filterwarnings("ignore:unclosed <socket.socket:ResourceWarning")
def test_a_national_id_logged_in_a_task_is_redacted_in_its_log_file(
    probe_bundle: str, hub_config: Callable[[dict[str, Any]], Path]
):
    """A task that logs a national id (structlog and stdlib) leaves `[redacted]` in its log."""
    hub_config({"tenants": [{"id": "lillevik", "name": "Lillevik"}]})
    state, log_file = _run_in_task_process("hub_redaction_probe", "log_a_national_id")
    text = log_file.read_text(encoding="utf-8")
    assert "success" == state, text
    assert "record_rejected" in text and "rejected" in text
    assert probe.NATIONAL_ID not in text
    assert "fødselsnummer [redacted] is not allowed here" in text
    assert "record with fødselsnummer [redacted] rejected" in text
