"""hub.dev.airflow_local without starting Airflow: its airflow.cfg, logins, environment, port."""

from __future__ import annotations

import configparser
import json
import sys
from pathlib import Path

import pytest

from hub.dev.airflow_local import (
    DEFAULT_PORT,
    PORT_ENV,
    USERS,
    AirflowLocalError,
    LocalAirflow,
    local_airflow,
)


def make(
    home: Path, env: dict[str, str] | None = None, port: int = 18123, **options: int
) -> LocalAirflow:
    return LocalAirflow(
        home,
        port=port,
        dags_folder=Path("dags"),
        plugins_folder=Path("plugins"),
        env=env or {},
        **options,
    )


def read_config(airflow: LocalAirflow) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(airflow.config_file.read_text())
    return parser


def write_config(airflow: LocalAirflow) -> None:
    airflow.home.mkdir(parents=True, exist_ok=True)
    airflow.config_file.write_text(airflow.render_config())


def test_config_runs_local_executor_with_simple_auth_and_execution_api_on_its_port(
    tmp_path: Path,
):
    """airflow.cfg names the LocalExecutor, the logins, and the api-server's Execution API."""
    airflow = make(tmp_path / "airflow")
    write_config(airflow)

    config = read_config(airflow)

    assert "LocalExecutor" == config["core"]["executor"]
    assert "admin:admin,operator:op,viewer:viewer" == config["core"]["simple_auth_manager_users"]
    assert str(airflow.passwords_file) == config["core"]["simple_auth_manager_passwords_file"]
    assert "http://127.0.0.1:18123/execution/" == config["core"]["execution_api_server_url"]
    assert ("127.0.0.1", "18123") == (config["api"]["host"], config["api"]["port"])
    assert f"sqlite:///{airflow.home / 'airflow.db'}" == config["database"]["sql_alchemy_conn"]
    assert str(Path("dags").absolute()) == config["core"]["dags_folder"]


def test_secrets_are_generated_once_and_kept_when_the_port_changes(tmp_path: Path):
    """A second render (another port) keeps the fernet key, api secret key and JWT secret."""
    first = make(tmp_path / "airflow", port=18123)
    write_config(first)
    second = make(tmp_path / "airflow", port=18124)
    write_config(second)

    before, after = read_config(first), read_config(second)

    for section, option in [
        ("core", "fernet_key"),
        ("api", "secret_key"),
        ("api_auth", "jwt_secret"),
    ]:
        assert before[section][option]
        assert before[section][option] == after[section][option]
    assert "18124" == after["api"]["port"]


def test_passwords_are_written_once_private_and_kept(tmp_path: Path):
    """Every login gets a random password in a 0600 file; later calls return the same ones."""
    passwords = make(tmp_path / "airflow").passwords()
    again = make(tmp_path / "airflow").passwords()

    assert list(USERS) == list(passwords)
    assert passwords == again
    assert len(set(passwords.values())) == len(USERS)
    assert 0o600 == (tmp_path / "airflow" / "passwords.json").stat().st_mode & 0o777
    assert passwords == json.loads((tmp_path / "airflow" / "passwords.json").read_text())


def test_component_env_drops_the_options_airflow_cfg_sets(tmp_path: Path):
    """The caller's AIRFLOW__ variables for options in airflow.cfg go; others and HUB_ stay."""
    airflow = make(
        tmp_path / "airflow",
        env={
            "AIRFLOW_HOME": "/elsewhere",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "sqlite:////elsewhere/airflow.db",
            "AIRFLOW__CORE__SQL_ALCHEMY_CONN": "sqlite:////older/airflow.db",
            "AIRFLOW__CORE__EXECUTOR_CMD": "echo CeleryExecutor",
            "AIRFLOW__CORE__DEFAULT_TIMEZONE": "Europe/Oslo",
            "HUB_VAR_DIR": "/var/hub",
        },
    )
    write_config(airflow)

    env = airflow.component_env()

    assert {
        "AIRFLOW_HOME": str(airflow.home),
        "AIRFLOW_CONFIG": str(airflow.config_file),
        "AIRFLOW__CORE__DEFAULT_TIMEZONE": "Europe/Oslo",
        "HUB_VAR_DIR": "/var/hub",
    } == env


def test_port_comes_from_the_argument_then_the_environment(monkeypatch: pytest.MonkeyPatch):
    """`--port` wins over HUB_AIRFLOW_PORT, which wins over 8080; a bad value is an error."""
    monkeypatch.delenv(PORT_ENV, raising=False)
    assert DEFAULT_PORT == local_airflow().port
    monkeypatch.setenv(PORT_ENV, "18555")
    assert 18555 == local_airflow().port
    assert 18556 == local_airflow(port=18556).port
    monkeypatch.setenv(PORT_ENV, "eighty")
    with pytest.raises(AirflowLocalError, match="HUB_AIRFLOW_PORT must be a port number"):
        local_airflow()


def test_home_is_under_the_var_folder_not_the_shells_airflow_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    """`hub airflow` never uses AIRFLOW_HOME: another Airflow's home is not rewritten."""
    monkeypatch.setenv("HUB_VAR_DIR", str(tmp_path / "var"))

    assert tmp_path / "var" / "airflow" == local_airflow().home


def test_component_env_leaves_the_env_files_secrets_to_be_read_afresh(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Values read from HUB_ENV_FILE at start are dropped; the tasks read the file afresh.

    So a sandbox restarted with new secrets is met with them; the file's path stays.
    """
    env_file = tmp_path / "secrets.env"
    env_file.write_text("HUB_SANDBOX_LDAP_PASSWORD=old\n")
    monkeypatch.setenv("HUB_ENV_FILE", str(env_file))
    airflow = make(
        tmp_path / "home",
        env={"HUB_ENV_FILE": str(env_file), "HUB_SANDBOX_LDAP_PASSWORD": "old", "KEEP": "1"},
    )
    write_config(airflow)
    env = airflow.component_env()
    assert "HUB_SANDBOX_LDAP_PASSWORD" not in env
    assert (str(env_file), "1") == (env["HUB_ENV_FILE"], env["KEEP"])


def test_the_local_airflow_runs_on_its_own_postgres_unless_given_a_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """`hub airflow up` keeps its metadata in a PostgreSQL cluster in its home by default."""
    from hub.dev.postgres_local import bin_dir
    from tests.conftest import in_ci

    if bin_dir() is None:
        if in_ci():
            pytest.fail("PostgreSQL is not installed: `make system-deps` installs it")
        pytest.skip("PostgreSQL is not installed (skipped outside CI; under CI=true this fails)")
    monkeypatch.delenv("HUB_AIRFLOW_DATABASE_URL", raising=False)
    default = local_airflow(home=tmp_path / "a")
    assert default.postgres is not None
    assert default.postgres.home == tmp_path / "a" / "postgres"
    given = "postgresql+psycopg2://airflow@db.example/airflow"
    monkeypatch.setenv("HUB_AIRFLOW_DATABASE_URL", given)
    chosen = local_airflow(home=tmp_path / "b")
    assert (None, given) == (chosen.postgres, chosen.database_url)
    write_config(chosen)
    assert given == read_config(chosen)["database"]["sql_alchemy_conn"]


def test_with_workers_the_config_runs_celery_through_the_local_redis(tmp_path: Path):
    """`workers=2`: CeleryExecutor, the local Redis as broker, the slots the workers have."""
    airflow = make(tmp_path / "airflow", workers=2, worker_concurrency=6)
    write_config(airflow)

    config = read_config(airflow)

    assert "CeleryExecutor" == config["core"]["executor"]
    assert "12" == config["core"]["parallelism"]
    assert "6" == config["celery"]["worker_concurrency"]
    broker = config["celery"]["broker_url"]
    assert broker.startswith(f"redis://:{airflow.redis.password()}@127.0.0.1:")
    assert 0o600 == (airflow.redis.home / "password").stat().st_mode & 0o777


def test_each_worker_has_its_own_celery_hostname_and_records_it_on_its_tasks(tmp_path: Path):
    """Workers start as `airflow celery worker` with distinct hostnames their tasks record."""
    airflow = make(tmp_path / "airflow", env={"KEEP": "1"}, workers=2)
    write_config(airflow)

    commands = {c: airflow.command(c) for c in airflow.worker_components}
    envs = {c: airflow.component_env(c) for c in airflow.worker_components}

    assert ("celery-worker-1", "celery-worker-2") == airflow.worker_components
    assert airflow.components[:4] == ("api-server", "scheduler", "dag-processor", "triggerer")
    hostnames = [cmd[cmd.index("--celery-hostname") + 1] for cmd in commands.values()]
    assert ["worker-1", "worker-2"] == [h.split("@")[0] for h in hostnames]
    assert all(cmd[2:5] == ["airflow", "celery", "worker"] for cmd in commands.values())
    assert hostnames == [env["SKOLEHUB_CELERY_WORKER"] for env in envs.values()]
    assert {"hub.dev.celery_hostname.worker_hostname"} == {
        env["AIRFLOW__CORE__HOSTNAME_CALLABLE"] for env in envs.values()
    }
    assert "AIRFLOW__CORE__HOSTNAME_CALLABLE" not in airflow.component_env("scheduler")
    assert [sys.executable, "-m", "airflow", "scheduler"] == airflow.command("scheduler")


def test_the_worker_hostname_callable_names_the_worker_else_the_machine(
    monkeypatch: pytest.MonkeyPatch,
):
    """In a worker the task hostname is its Celery hostname; elsewhere Airflow's default."""
    import socket

    from hub.dev.celery_hostname import worker_hostname

    monkeypatch.setenv("SKOLEHUB_CELERY_WORKER", "worker-2@vm")
    assert "worker-2@vm" == worker_hostname()
    monkeypatch.delenv("SKOLEHUB_CELERY_WORKER")
    assert socket.getfqdn() == worker_hostname()


def test_a_negative_worker_count_is_refused(tmp_path: Path):
    """Workers are 0 (the LocalExecutor) or more; each needs at least one task slot."""
    with pytest.raises(AirflowLocalError, match="workers must be 0 or more"):
        LocalAirflow(tmp_path, port=1, dags_folder=Path("d"), plugins_folder=Path("p"), workers=-1)
