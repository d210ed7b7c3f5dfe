"""The local Airflow: the session's api-server (`airflow_api`) and `hub airflow up|status|down`."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import requests

from hub.dev._services import free_port, group_members, process_alive
from hub.dev.airflow_local import (
    COMPONENTS,
    HEALTH_PATH,
    HOST,
    POOLS,
    USERS,
    AirflowStartError,
)
from hub.dev.postgres_local import LocalPostgres, bin_dir
from tests.conftest import REPO_ROOT, in_ci
from tests.fixtures.airflow import AirflowApi, repo_airflow

pytestmark = pytest.mark.integration

HUB = [sys.executable, "-m", "hub.cli"]
SYNC_DAGS = {"hub_identity_sync", "hub_lms_sync", "hub_mdm_sync"}


def hub_airflow(home: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run `hub airflow ARGS --home HOME` with the repository's DAGs and plugins."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(
        AIRFLOW__CORE__DAGS_FOLDER=str(REPO_ROOT / "dags"),
        AIRFLOW__CORE__PLUGINS_FOLDER=str(REPO_ROOT / "plugins"),
    )
    return subprocess.run(
        [*HUB, "airflow", *args, "--home", str(home)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_session_api_server_answers_its_health_endpoint(airflow_api: AirflowApi):
    """The fixture's api-server reports a healthy metadata database."""
    response = requests.get(airflow_api.url + HEALTH_PATH, timeout=30)

    assert 200 == response.status_code
    assert "healthy" == response.json()["metadatabase"]["status"]
    assert airflow_api.log_path.is_file()


def test_viewer_token_reads_dags_and_anonymous_is_refused(airflow_api: AirflowApi):
    """A viewer's JWT from /auth/token lists the DAGs; a request without one gets 401."""
    token = airflow_api.token("viewer")

    with_token = requests.get(
        airflow_api.url + "/api/v2/dags", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    anonymous = requests.get(airflow_api.url + "/api/v2/dags", timeout=30)

    assert 200 == with_token.status_code
    assert "dags" in with_token.json()
    assert 401 == anonymous.status_code


def test_wrong_password_gets_no_token(airflow_api: AirflowApi):
    """/auth/token refuses a known user with a wrong password."""
    response = requests.post(
        airflow_api.url + "/auth/token",
        json={"username": "viewer", "password": airflow_api.password("viewer") + "x"},
        timeout=30,
    )

    assert 401 == response.status_code


def test_server_has_its_own_home_and_var_folder(airflow_api: AirflowApi):
    """The server's home is not the in-process one; its passwords are private to the owner."""
    assert str(airflow_api.home) != os.environ["AIRFLOW_HOME"]
    assert airflow_api.var_dir.is_dir()
    assert 0o600 == (airflow_api.home / "passwords.json").stat().st_mode & 0o777
    assert set(USERS) == set(json.loads((airflow_api.home / "passwords.json").read_text()))


def test_up_on_a_taken_port_fails_at_once(tmp_path: Path):
    """`hub airflow up` on a port something listens on fails naming it, starting nothing."""
    with socket.socket() as listener:
        listener.bind((HOST, 0))
        listener.listen()
        port = listener.getsockname()[1]

        result = hub_airflow(tmp_path / "airflow", "up", "--detach", "--port", str(port))

    assert 1 == result.returncode
    assert f"port {port} on {HOST} is already in use" in result.stderr
    assert not (tmp_path / "airflow" / "state.json").exists()


def test_a_component_that_exits_at_start_is_named_with_its_log(tmp_path: Path):
    """An api-server that exits during start-up is an AirflowStartError quoting its log."""
    airflow = repo_airflow(  # Airflow refuses to serve with certificate files that do not exist
        tmp_path / "airflow",
        AIRFLOW__API__SSL_CERT=str(tmp_path / "missing-cert.pem"),
        AIRFLOW__API__SSL_KEY=str(tmp_path / "missing-key.pem"),
    )

    with pytest.raises(AirflowStartError, match="SSL related file does not exist") as raised:
        airflow.up(components=("api-server",))

    assert "api-server" == raised.value.component
    assert airflow.log_file("api-server") == raised.value.log_file
    assert "the Airflow api-server (pid " in str(raised.value)
    assert f"see {airflow.log_file('api-server')}" in str(raised.value)
    assert airflow.status() is None


def test_up_detach_status_down_runs_and_stops_all_components():
    """`up --detach` starts the four components on a local PostgreSQL; `down` leaves none."""
    if bin_dir() is None:
        missing = "PostgreSQL is not installed (`make system-deps`)"
        if in_ci():
            pytest.fail(missing)
        pytest.skip(missing + " (skipped outside CI; under CI=true this fails)")
    # Not under pytest's tmp folder (private to root): PostgreSQL runs as `postgres`.
    home = Path(tempfile.mkdtemp(prefix="skolehub-airflow-"))
    home.chmod(0o755)
    port = free_port(HOST)
    try:
        up = hub_airflow(home, "up", "--detach", "--port", str(port))
        assert 0 == up.returncode, up.stdout + up.stderr
        state = json.loads((home / "state.json").read_text())
        pids = {c: started["pid"] for c, started in state["components"].items()}
        passwords = json.loads((home / "passwords.json").read_text())

        status = hub_airflow(home, "status")
        dag_ids = wait_for_dags(f"http://{HOST}:{port}", passwords["admin"], SYNC_DAGS)
        pools = get_json(f"http://{HOST}:{port}", passwords["admin"], "/api/v2/pools")
        task_pools = {
            task["pool"]
            for dag_id in SYNC_DAGS
            for task in get_json(
                f"http://{HOST}:{port}", passwords["admin"], f"/api/v2/dags/{dag_id}/tasks"
            )["tasks"]
        }
        database = (home / "airflow.cfg").read_text()
    finally:
        down = hub_airflow(home, "down")
        postgres_left = LocalPostgres(home / "postgres").running()
        shutil.rmtree(home, ignore_errors=True)

    assert f"Airflow is up at http://{HOST}:{port}" in up.stdout
    for user, role in USERS.items():
        assert f"{user:<9} role {role:<7} password {passwords[user]}" in up.stdout
    assert list(COMPONENTS) == list(pids)
    assert 0 == status.returncode, status.stdout + status.stderr
    assert all(f"{c:<14} running (pid {pid})" in status.stdout for c, pid in pids.items())
    assert "Health: metadatabase healthy, scheduler healthy" in status.stdout
    assert SYNC_DAGS <= dag_ids
    assert set(POOLS) <= {pool["name"] for pool in pools["pools"]}
    assert task_pools - {"default_pool"} <= set(POOLS)
    assert 0 == down.returncode, down.stdout + down.stderr
    assert "sql_alchemy_conn = postgresql+psycopg2://hub@127.0.0.1:" in database
    assert "stopped api-server, scheduler, dag-processor, triggerer, postgres" in down.stdout
    assert not postgres_left
    assert {c: (False, []) for c in pids} == {
        c: (process_alive(pid), group_members(pid)) for c, pid in pids.items()
    }
    assert 1 == hub_airflow(home, "status").returncode


def get_json(url: str, password: str, path: str) -> dict:
    token = requests.post(
        f"{url}/auth/token", json={"username": "admin", "password": password}, timeout=30
    ).json()["access_token"]
    response = requests.get(url + path, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    response.raise_for_status()
    return response.json()


def wait_for_dags(url: str, password: str, expected: set[str], within: float = 90) -> set[str]:
    """The DAG ids the dag-processor has parsed, once `expected` are among them or in `within` s."""
    deadline = time.monotonic() + within
    while True:
        dag_ids = {dag["dag_id"] for dag in get_json(url, password, "/api/v2/dags")["dags"]}
        if expected <= dag_ids or time.monotonic() > deadline:
            return dag_ids
        time.sleep(0.5)
