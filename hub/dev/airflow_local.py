"""A local Apache Airflow for trying the hub: api-server, scheduler, dag-processor, triggerer.

`hub airflow up` (and `make airflow`) prepares an Airflow home and starts Airflow's four
components as processes of their own, each in a session of its own so that `--detach` can
return and `hub airflow status|down` in another process find them again through the state
file. The test suite's `airflow_api` fixture starts only the api-server the same way.

With `workers=N` (`hub airflow up --workers N`) it runs the deployment's executor instead
of the LocalExecutor: the CeleryExecutor, with a local Redis as the Celery broker
(`hub.dev.redis_local`, in `<home>/redis`) and N `airflow celery worker` processes
(components `celery-worker-1` …), each with a Celery hostname of its own
(`worker-<i>@<host>`), which is also the hostname its task instances record.

What a home holds (`$HUB_VAR_DIR/airflow` for `hub airflow`):

    airflow.cfg           rendered on every start from the arguments below; its three
                          secrets (fernet key, api secret key, JWT secret) are kept, so every
                          component, and an `airflow` command run by hand, agrees on them
    passwords.json        the SimpleAuthManager logins (`USERS`), written once with random
                          passwords and kept (0600); Airflow's own format: {"user": "password"}
    airflow.db            the SQLite metadata database (`airflow db migrate` on every start)
                          when no PostgreSQL is given
    redis/                with workers: the Celery broker (see `hub.dev.redis_local`)
    state.json            port, URL and pid of every component started
    logs/<component>.log  each component's output; logs/setup.log that of `airflow db migrate`

Settings in airflow.cfg win over the caller's `AIRFLOW__*` variables for the same options
(those are removed from the components' environment); other variables pass through, so the
tasks see `HUB_VAR_DIR`, `HUB_CONFIG` and the sandbox's secrets.
"""

from __future__ import annotations

import configparser
import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from base64 import urlsafe_b64encode
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import structlog

from connectors import registry
from hub.dev._services import (
    StillRunningError,
    file_lock,
    free_port,
    last_lines,
    port_free,
    process_alive,
    process_start_ticks,
    spawn_detached,
    terminate,
    wait_for_exit,
    write_private,
)
from hub.dev.celery_hostname import WORKER_NAME_ENV
from hub.dev.postgres_local import LocalPostgres, PostgresError
from hub.dev.redis_local import LocalRedis, RedisError
from hub.settings import env_file_values, var_dir

log = structlog.get_logger(__name__)

#: Airflow's components, in the order they start.
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
DEFAULT_PORT = 8080
#: Overrides the default port of `hub airflow up`.
PORT_ENV = "HUB_AIRFLOW_PORT"
#: An existing metadata database for `hub airflow up` instead of the local PostgreSQL.
DATABASE_ENV = "HUB_AIRFLOW_DATABASE_URL"
#: The component name of the i-th Celery worker (from 1).
WORKER_COMPONENT = "celery-worker-{}"
#: Task processes each Celery worker runs at once unless told otherwise.
DEFAULT_WORKER_CONCURRENCY = 4
HOST = "127.0.0.1"
HEALTH_PATH = "/api/v2/monitor/health"
DETACHED_HINT = "It runs detached: `hub airflow status` describes it, `hub airflow down` stops it."
#: The SimpleAuthManager logins and their roles (viewer < user < op < admin).
USERS = {"admin": "admin", "operator": "op", "viewer": "viewer"}
#: The pools the DAGs in dags/ run their tasks in: name -> (slots, description), as the
#: connectors declare them. Created on start when missing; a pool resized in Airflow keeps
#: its size.
POOLS = {p.name: (p.slots, p.description) for p in registry.pools().values()}

_SIMPLE_AUTH_MANAGER = (
    "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
)
#: (section, option) of each secret kept in airflow.cfg across starts.
_SECRETS = (("core", "fernet_key"), ("api", "secret_key"), ("api_auth", "jwt_secret"))
_MIGRATE_TIMEOUT_S = 600.0
#: How long a Celery worker may take to say it is ready, beyond the api-server's start.
_WORKER_READY_TIMEOUT_S = 180.0
_STOP_TIMEOUT_S = 30.0
_POLL_INTERVAL_S = 0.2
_LOG_TAIL_LINES = 30


class AirflowLocalError(RuntimeError):
    """The local Airflow could not be prepared, started or stopped."""


class AirflowStartError(AirflowLocalError):
    """A component did not start, or the api-server did not answer before the deadline."""

    def __init__(
        self, message: str, component: str | None = None, log_file: Path | None = None
    ) -> None:
        tail = ""
        if log_file is not None and log_file.is_file():
            output = log_file.read_text(encoding="utf-8", errors="replace")
            tail = last_lines(output, _LOG_TAIL_LINES)
        text = message if log_file is None else f"{message}; see {log_file}"
        super().__init__(f"{text}, last lines:\n{tail}" if tail else text)
        self.component = component
        self.log_file = log_file
        self.tail = tail


@dataclass(frozen=True)
class AirflowStatus:
    """Where a home's Airflow answers and the pid of each component started (None: exited)."""

    url: str
    components: dict[str, int | None]

    @property
    def running(self) -> bool:
        """Whether every component started still runs."""
        return all(pid is not None for pid in self.components.values())


def local_airflow(
    home: Path | None = None, port: int | None = None, workers: int = 0
) -> LocalAirflow:
    """The Airflow of `hub airflow`: its home, port, DAG and plugin folders from the environment.

    Home `$HUB_VAR_DIR/airflow` (the shell's `AIRFLOW_HOME` is not used, so the home of
    another Airflow is never rewritten); port `port`, else `HUB_AIRFLOW_PORT`, else 8080;
    DAGs and plugins from `AIRFLOW__CORE__DAGS_FOLDER` and `AIRFLOW__CORE__PLUGINS_FOLDER`
    (the Makefile exports them), else `./dags` and `./plugins`. `workers` > 0 runs the
    CeleryExecutor with that many workers and a local Redis.
    """
    if port is None:
        value = os.environ.get(PORT_ENV) or str(DEFAULT_PORT)
        if not value.isdigit() or not 0 < int(value) < 65536:
            raise AirflowLocalError(f"{PORT_ENV} must be a port number, not {value!r}")
        port = int(value)
    home = home or var_dir() / "airflow"
    database_url = os.environ.get(DATABASE_ENV) or None
    return LocalAirflow(
        home,
        port=port,
        database_url=database_url,
        postgres=None if database_url else LocalPostgres(home / "postgres"),
        dags_folder=Path(os.environ.get("AIRFLOW__CORE__DAGS_FOLDER") or "dags"),
        plugins_folder=Path(os.environ.get("AIRFLOW__CORE__PLUGINS_FOLDER") or "plugins"),
        workers=workers,
    )


class LocalAirflow:
    """Airflow's components for one home, on `HOST`:`port`, with the SimpleAuthManager.

    Every method works from the files in `home`, so one process can start the components
    and another ask for their `status()` or `down()` them. `env` is the environment the
    components start from (default: this process's). `workers` > 0 runs the CeleryExecutor
    with that many workers, each running `worker_concurrency` tasks at once, queueing
    through a local Redis in `<home>/redis`; `paused` leaves new DAGs paused (a test
    unpauses the ones it runs).
    """

    def __init__(
        self,
        home: Path,
        *,
        port: int = DEFAULT_PORT,
        dags_folder: Path,
        plugins_folder: Path,
        env: Mapping[str, str] | None = None,
        database_url: str | None = None,
        postgres: LocalPostgres | None = None,
        workers: int = 0,
        worker_concurrency: int = DEFAULT_WORKER_CONCURRENCY,
        paused: bool = False,
    ) -> None:
        if workers < 0 or worker_concurrency < 1:
            raise AirflowLocalError("workers must be 0 or more, worker_concurrency 1 or more")
        self.home = Path(home).absolute()
        self.postgres = postgres
        self.workers = workers
        self.worker_concurrency = worker_concurrency
        self.paused = paused
        self.redis = LocalRedis(self.home / "redis")
        self._database_url = database_url
        self.port = port
        self.dags_folder = Path(dags_folder).absolute()
        self.plugins_folder = Path(plugins_folder).absolute()
        self.env = dict(os.environ if env is None else env)

    @property
    def url(self) -> str:
        """The api-server's base URL (UI, REST API, the auth manager's /auth)."""
        return f"http://{HOST}:{self.port}"

    @property
    def components(self) -> tuple[str, ...]:
        """What `up()` starts: Airflow's four components, then the Celery workers, if any."""
        return (*COMPONENTS, *self.worker_components)

    @property
    def worker_components(self) -> tuple[str, ...]:
        """The Celery workers' component names: `celery-worker-1`, `celery-worker-2` and so on."""
        return tuple(WORKER_COMPONENT.format(i) for i in range(1, self.workers + 1))

    def celery_hostname(self, component: str) -> str:
        """A worker's Celery hostname, `worker-<i>@<host>`: distinct on one machine."""
        number = component.rsplit("-", 1)[1]
        return f"worker-{number}@{socket.gethostname()}"

    @property
    def database_url(self) -> str:
        """The metadata database: the local PostgreSQL's, the one given, else SQLite in home."""
        if self.postgres is not None:
            return self.postgres.url("airflow")
        return self._database_url or f"sqlite:///{self.home / 'airflow.db'}"

    @property
    def config_file(self) -> Path:
        """The rendered airflow.cfg."""
        return self.home / "airflow.cfg"

    @property
    def passwords_file(self) -> Path:
        """The SimpleAuthManager's passwords, `{"user": "password"}` (0600)."""
        return self.home / "passwords.json"

    @property
    def state_file(self) -> Path:
        """Port, URL and the pid of every component started."""
        return self.home / "state.json"

    def log_file(self, component: str) -> Path:
        """Where `component` writes its output."""
        return self.home / "logs" / f"{component}.log"

    # ----------------------------------------------------------------- logins

    def passwords(self) -> dict[str, str]:
        """The password of each login in `USERS`, generated once and kept in `passwords_file`."""
        try:
            stored: dict[str, str] = json.loads(self.passwords_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            stored = {}
        missing = [user for user in USERS if user not in stored]
        if missing:
            stored.update({user: secrets.token_urlsafe(12) for user in missing})
            self.home.mkdir(parents=True, exist_ok=True)
            write_private(self.passwords_file, json.dumps(stored, indent=2) + "\n")
        return {user: stored[user] for user in USERS}

    def token(self, user: str, timeout: float = 30) -> str:
        """A JWT for `user` from the SimpleAuthManager's `POST /auth/token`."""
        response = requests.post(
            f"{self.url}/auth/token",
            json={"username": user, "password": self.passwords()[user]},
            timeout=timeout,
        )
        if response.status_code != 201:
            raise AirflowLocalError(
                f"POST {self.url}/auth/token as {user}: {response.status_code} {response.text}"
            )
        return str(response.json()["access_token"])

    # ----------------------------------------------------------------- life cycle

    def up(self, components: Sequence[str] | None = None, timeout: float = 180) -> AirflowStatus:
        """Prepare the home, start `components` and wait until the api-server is healthy.

        `components` defaults to all of `components` (the workers included); every Celery
        worker started must also say it is ready. Returns the status at once if they
        already run. Raises `AirflowStartError` naming the component and its log when one
        exits during start-up, when the api-server does not answer within `timeout` seconds
        (a worker gets `_WORKER_READY_TIMEOUT_S` more), or when the port is taken.
        """
        components = self.components if components is None else tuple(components)
        unknown = set(components) - set(self.components)
        if unknown or "api-server" not in components:
            raise AirflowLocalError(
                f"components must include api-server, of {', '.join(self.components)}"
            )
        deadline = time.monotonic() + timeout
        self.home.mkdir(parents=True, exist_ok=True)
        with file_lock(self.home / ".lock", timeout, AirflowLocalError):
            current = self.status()
            if current is not None and any(current.components.values()):
                if set(components) <= {c for c, pid in current.components.items() if pid}:
                    log.info("airflow_start_skipped", reason="already_running", url=current.url)
                    return current
                raise AirflowLocalError(
                    f"Airflow in {self.home} runs only in part ({_describe(current)}); "
                    "`hub airflow down` first"
                )
            if not port_free(HOST, self.port):
                raise AirflowStartError(f"port {self.port} on {HOST} is already in use")
            started = time.monotonic()
            pids: dict[str, int] = {}
            try:
                self._start_postgres()
                self._start_redis()
                self.prepare()
                spawned = time.monotonic()
                for component in components:
                    pids[component] = spawn_detached(
                        self.command(component),
                        self.component_env(component),
                        self.log_file(component),
                    )
                self._write_state(pids)
                self._wait_until_healthy(pids, deadline, timeout)
                healthy = time.monotonic()
                workers = [c for c in components if c in self.worker_components]
                self._wait_until_workers_ready(
                    {c: pids[c] for c in workers}, deadline + _WORKER_READY_TIMEOUT_S
                )
                self._create_pools()
            except BaseException:  # Ctrl-C during start-up included: leave nothing behind
                self._stop(pids, _STOP_TIMEOUT_S)
                self.state_file.unlink(missing_ok=True)
                self._stop_redis()
                self._stop_postgres()
                raise
        log.info(
            "airflow_started",
            url=self.url,
            components=list(components),
            seconds=round(time.monotonic() - started, 1),
            migrate_seconds=round(spawned - started, 1),
            healthy_seconds=round(healthy - spawned, 1),
        )
        status = self.status()
        assert status is not None  # written above
        return status

    def prepare(self) -> None:
        """Write airflow.cfg and the passwords, and migrate the metadata database."""
        (self.home / "logs").mkdir(parents=True, exist_ok=True)
        write_private(self.config_file, self.render_config())
        self.passwords()
        command = [sys.executable, "-m", "airflow", "db", "migrate"]
        setup_log = self.home / "logs" / "setup.log"
        with setup_log.open("a", encoding="utf-8") as output:
            try:
                result = subprocess.run(
                    command,
                    env=self.component_env(),
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    timeout=_MIGRATE_TIMEOUT_S,
                    check=False,
                )
            except subprocess.TimeoutExpired as exc:
                raise AirflowStartError(
                    f"`airflow db migrate` did not finish within {_MIGRATE_TIMEOUT_S:.0f} s",
                    "db migrate",
                    setup_log,
                ) from exc
        if result.returncode != 0:
            raise AirflowStartError(
                f"`airflow db migrate` failed (exit {result.returncode})", "db migrate", setup_log
            )

    def down(self, timeout: float = _STOP_TIMEOUT_S) -> list[str]:
        """Stop every component (SIGTERM to its process group, SIGKILL after `timeout`).

        Returns the components that were running. The state file goes first, so a
        foreground `hub airflow up` watching them sees a deliberate stop.
        """
        if not self.home.is_dir():
            return []
        with file_lock(self.home / ".lock", timeout + 30, AirflowLocalError):
            status = self.status()
            self.state_file.unlink(missing_ok=True)
            running = {}
            if status is not None:
                running = {c: pid for c, pid in status.components.items() if pid is not None}
                self._stop(running, timeout)
            stopped = list(running)
            if self._stop_redis():
                stopped.append("redis")
            if self.postgres is not None and self._stop_postgres():
                stopped.append("postgres")
        return stopped

    def status(self) -> AirflowStatus | None:
        """The components recorded in the state file and which of them run; None if none."""
        try:
            state = json.loads(self.state_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        components: dict[str, int | None] = {}
        for component, started in state["components"].items():
            pid = int(started["pid"])
            ours = process_alive(pid) and process_start_ticks(pid) == started["ticks"]
            components[component] = pid if ours else None
        return AirflowStatus(url=str(state["url"]), components=components)

    def health(self, timeout: float = 5) -> dict[str, Any] | None:
        """The api-server's health document, or None when it does not answer."""
        return health(self.url, timeout)

    def watch(self) -> str | None:
        """Block until a component exits (return its name) or `down()` stops them (None)."""
        while True:
            status = self.status()
            if status is None:
                return None
            exited = [c for c, pid in status.components.items() if pid is None]
            if exited:
                return exited[0] if self.state_file.exists() else None
            time.sleep(0.5)

    def serve(self, say: Callable[[str], None]) -> bool:
        """Run in the foreground: start, `say` the summary, block until told to stop.

        Ctrl-C (or SIGTERM, SIGHUP) stops every component; so does `down()` from another
        process. Returns False when a component exited by itself (the rest are stopped).
        A set that already runs is left as it is.
        """
        current = self.status()
        if current is not None and current.running:
            say("\n".join([*self.summary(current), DETACHED_HINT]))
            return True
        previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
        say(f"Starting Airflow in {self.home} (half a minute or so) …")
        try:
            say("\n".join(self.summary(self.up())))
            say("Press Ctrl-C to stop it.")
            exited = self.watch()
        except KeyboardInterrupt:
            say("Stopping Airflow …")
            self.down()
            say("Airflow is down")
            return True
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if exited is None:
            say("Airflow was stopped (`hub airflow down`)")
            return True
        self.down()
        say(f"The Airflow {exited} exited; see {self.log_file(exited)}")
        return False

    def summary(self, status: AirflowStatus) -> list[str]:
        """What `hub airflow up` prints: where it answers, the logins, the logs."""
        logs = ", ".join(self.log_file(c).name for c in status.components)
        return [
            f"Airflow is up at {status.url} (home {self.home})",
            f"Logins (SimpleAuthManager; kept in {self.passwords_file}):",
            *(
                f"  {user:<9} role {USERS[user]:<7} password {password}"
                for user, password in self.passwords().items()
            ),
            f"Logs: {self.home / 'logs'}/ ({logs})",
        ]

    def status_lines(self) -> list[str]:
        """What `hub airflow status` prints: each component, and the api-server's health."""
        status = self.status()
        if status is None:
            return [f"Airflow is not running (home {self.home})"]
        lines = [f"Airflow at {status.url} (home {self.home}):"]
        for component, pid in status.components.items():
            state = f"running (pid {pid})" if pid else "not running"
            lines.append(f"  {component:<14} {state:<22} log {self.log_file(component)}")
        answer = health(status.url) if status.components.get("api-server") else None
        if answer is not None:
            parts = [f"{name} {value.get('status') or 'unknown'}" for name, value in answer.items()]
            lines.append(f"Health: {', '.join(parts)}")
        return lines

    # ----------------------------------------------------------------- internals

    def render_config(self) -> str:
        """Return airflow.cfg: the options this launcher decides, and the kept secrets."""
        kept = self._kept_secrets()
        worker_logs = free_port(HOST, exclude={self.port})
        trigger_logs = free_port(HOST, exclude={self.port, worker_logs})
        celery = self.workers > 0
        options: dict[str, dict[str, str]] = {
            "core": {
                "dags_folder": str(self.dags_folder),
                "plugins_folder": str(self.plugins_folder),
                "executor": "CeleryExecutor" if celery else "LocalExecutor",
                # LocalExecutor forks this many workers up front (Airflow's default is 32);
                # with Celery it bounds the tasks queued and running at once.
                "parallelism": str(max(8, self.workers * self.worker_concurrency)),
                "load_examples": "False",
                # A local trial: the DAGs start on their schedules without unpausing each.
                "dags_are_paused_at_creation": str(self.paused),
                "auth_manager": _SIMPLE_AUTH_MANAGER,
                "simple_auth_manager_users": ",".join(f"{u}:{r}" for u, r in USERS.items()),
                "simple_auth_manager_all_admins": "False",
                "simple_auth_manager_passwords_file": str(self.passwords_file),
                # The tasks (LocalExecutor's or Celery's) report to the api-server's
                # Execution API.
                "execution_api_server_url": f"{self.url}/execution/",
                "fernet_key": kept["fernet_key"],
            },
            "database": {"sql_alchemy_conn": self.database_url},
            "api": {
                "host": HOST,
                "port": str(self.port),
                "workers": "1",
                "secret_key": kept["secret_key"],
            },
            "api_auth": {"jwt_secret": kept["jwt_secret"]},
            # The log servers of the scheduler and triggerer, on ports of their own, so two
            # local Airflows (a test's and `make airflow`) do not collide on 8793/8794.
            "logging": {
                "worker_log_server_port": str(worker_logs),
                "trigger_log_server_port": str(trigger_logs),
            },
        }
        if celery:
            options["celery"] = {
                # The metadata database holds Celery's results (Airflow's default
                # `db+<sql_alchemy_conn>`), as in docker/compose.yaml.
                "broker_url": self.redis.url(),
                "worker_concurrency": str(self.worker_concurrency),
            }
        lines = [
            "# Written by hub.dev.airflow_local (`hub airflow up`) on every start: edits are",
            "# overwritten, the secrets are kept. Set other options as AIRFLOW__* variables.",
        ]
        for section, values in options.items():
            lines += ["", f"[{section}]", *(f"{key} = {value}" for key, value in values.items())]
        return "\n".join(lines) + "\n"

    def _kept_secrets(self) -> dict[str, str]:
        """The secrets of the existing airflow.cfg, with new random ones for any missing."""
        parser = configparser.ConfigParser(interpolation=None)
        with contextlib.suppress(FileNotFoundError, configparser.Error):
            parser.read_string(self.config_file.read_text(encoding="utf-8"))
        kept = {}
        for section, option in _SECRETS:
            value = parser.get(section, option, fallback="").strip()
            if not value:
                raw = secrets.token_bytes(32)
                value = urlsafe_b64encode(raw).decode() if option == "fernet_key" else raw.hex()
            kept[option] = value
        return kept

    def command(self, component: str) -> list[str]:
        """The command line that starts `component`."""
        airflow = [sys.executable, "-m", "airflow"]
        if component not in self.worker_components:
            return [*airflow, component]
        # Logs are read from the shared log folder (one machine), so no worker serves
        # them: two workers' log servers would want the same port.
        return [
            *airflow, "celery", "worker",
            "--celery-hostname", self.celery_hostname(component),
            "--concurrency", str(self.worker_concurrency),
            "--skip-serve-logs",
        ]  # fmt: skip

    def component_env(self, component: str | None = None) -> dict[str, str]:
        """The components' environment: `env` without the options airflow.cfg sets.

        A Celery worker's also names its Celery hostname, which its task instances record
        as their hostname. Call after `prepare()` (or `render_config()` written to
        `config_file`).
        """
        parser = configparser.ConfigParser(interpolation=None)
        parser.read_string(self.config_file.read_text(encoding="utf-8"))
        names = {f"AIRFLOW__{s.upper()}__{k.upper()}" for s in parser.sections() for k in parser[s]}
        names |= {f"{name}{suffix}" for name in names for suffix in ("_CMD", "_SECRET")}
        names.add("AIRFLOW__CORE__SQL_ALCHEMY_CONN")  # the deprecated name of the database URL
        # What `HUB_ENV_FILE` holds is left to the tasks to read afresh, so a sandbox
        # restarted with new secrets is not met with the ones this process read at start.
        names |= set(env_file_values())
        env = {k: v for k, v in self.env.items() if k not in names}
        env.update(AIRFLOW_HOME=str(self.home), AIRFLOW_CONFIG=str(self.config_file))
        if component in self.worker_components:
            env[WORKER_NAME_ENV] = self.celery_hostname(component)
            env["AIRFLOW__CORE__HOSTNAME_CALLABLE"] = "hub.dev.celery_hostname.worker_hostname"
        return env

    def _start_postgres(self) -> None:
        """Start the local PostgreSQL (if this Airflow has one) with an `airflow` database."""
        if self.postgres is None:
            return
        try:
            self.postgres.up(["airflow"])
        except PostgresError as exc:
            raise AirflowStartError(str(exc), "postgres", self.postgres.log_file) from exc

    def _start_redis(self) -> None:
        """Start the local Redis, the Celery broker, when this Airflow has workers."""
        if self.workers == 0:
            return
        try:
            self.redis.up()
        except RedisError as exc:
            raise AirflowStartError(str(exc), "redis", self.redis.log_file) from exc

    def _stop_redis(self) -> bool:
        """Stop the local Redis if it runs (whatever `workers` says: a set started with them)."""
        try:
            return self.redis.down()
        except Exception as exc:  # StillRunningError from terminate
            raise AirflowLocalError(f"stopping Redis in {self.redis.home}: {exc}") from exc

    def _stop_postgres(self) -> bool:
        """Stop the local PostgreSQL, if this Airflow has one that runs."""
        if self.postgres is None:
            return False
        try:
            return self.postgres.down()
        except PostgresError as exc:
            raise AirflowLocalError(str(exc)) from exc

    def _write_state(self, pids: Mapping[str, int]) -> None:
        """Remember the URL and each component's pid and start time (against pid reuse)."""
        state = {
            "url": self.url,
            "port": self.port,
            "components": {
                c: {"pid": pid, "ticks": process_start_ticks(pid)} for c, pid in pids.items()
            },
        }
        write_private(self.state_file, json.dumps(state, indent=2) + "\n")

    def _wait_until_healthy(self, pids: Mapping[str, int], deadline: float, timeout: float) -> None:
        """Poll the api-server's health endpoint; raise if a component exits or at `deadline`."""
        while True:
            for component, pid in pids.items():
                if not process_alive(pid):
                    raise AirflowStartError(
                        f"the Airflow {component} (pid {pid}) exited during start-up",
                        component,
                        self.log_file(component),
                    )
            answer = self.health(timeout=2)
            if answer is not None and answer["metadatabase"]["status"] == "healthy":
                return
            if time.monotonic() >= deadline:
                raise AirflowStartError(
                    f"the Airflow api-server did not answer {self.url}{HEALTH_PATH} "
                    f"within {timeout:.0f} s",
                    "api-server",
                    self.log_file("api-server"),
                )
            time.sleep(_POLL_INTERVAL_S)

    def _wait_until_workers_ready(self, pids: Mapping[str, int], deadline: float) -> None:
        """Poll the workers' logs for Celery's `<hostname> ready.`; raise if one exits first."""
        waiting = dict(pids)
        while waiting:
            for component, pid in list(waiting.items()):
                if not process_alive(pid):
                    raise AirflowStartError(
                        f"the Airflow {component} (pid {pid}) exited during start-up",
                        component,
                        self.log_file(component),
                    )
                output = self.log_file(component).read_text(encoding="utf-8", errors="replace")
                if f"{self.celery_hostname(component)} ready." in output:
                    del waiting[component]
            if not waiting:
                return
            if time.monotonic() >= deadline:
                component = next(iter(waiting))
                raise AirflowStartError(
                    f"the Airflow {component} did not say it was ready in time "
                    f"(waiting for '{self.celery_hostname(component)} ready.')",
                    component,
                    self.log_file(component),
                )
            time.sleep(_POLL_INTERVAL_S)

    def _create_pools(self) -> None:
        """Create the pools of `POOLS` that are missing, through the REST API as admin."""
        headers = {"Authorization": f"Bearer {self.token('admin')}"}
        for name, (slots, description) in POOLS.items():
            url = f"{self.url}/api/v2/pools"
            if requests.get(f"{url}/{name}", headers=headers, timeout=30).status_code == 200:
                continue
            body = {"name": name, "slots": slots, "description": description}
            response = requests.post(url, json=body, headers=headers, timeout=30)
            if response.status_code != 201:
                raise AirflowLocalError(
                    f"creating pool {name}: {response.status_code} {response.text}"
                )
            log.info("airflow_pool_created", pool=name, slots=slots)

    def _stop(self, pids: Mapping[str, int], timeout: float) -> None:
        """Stop the components' process groups together: SIGTERM to all, then SIGKILL."""
        for pid in pids.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for component, pid in pids.items():
            forced = False
            if not wait_for_exit(pid, deadline, group=True):
                try:
                    forced = terminate(pid, 0, group=True)
                except StillRunningError as exc:
                    raise AirflowLocalError(
                        f"the Airflow {component} (pid {pid}) survived SIGKILL"
                    ) from exc
            log.info("airflow_component_stopped", component=component, pid=pid, forced=forced)


def health(url: str, timeout: float = 5) -> dict[str, Any] | None:
    """The health document of the api-server at `url`, or None when it does not answer."""
    try:
        response = requests.get(f"{url}{HEALTH_PATH}", timeout=timeout)
    except requests.RequestException:
        return None
    if response.status_code != 200:
        return None
    body: dict[str, Any] = response.json()
    return body


def _interrupt(signum: int, frame: object) -> None:
    """Turn SIGTERM and SIGHUP into Ctrl-C, so a foreground set is stopped the same way."""
    raise KeyboardInterrupt


def _describe(status: AirflowStatus) -> str:
    return ", ".join(
        f"{c} {'pid ' + str(pid) if pid else 'exited'}" for c, pid in status.components.items()
    )
