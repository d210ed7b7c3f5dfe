"""A local Redis from Debian's packages: the Celery broker of a local CeleryExecutor Airflow.

`hub airflow up --workers N` (and the scale-out test, tests/integration/
test_airflow_celery.py) queue Airflow's tasks for their Celery workers here, as the
`redis` service of docker/compose.yaml does. One server lives in one folder:

    port          the loopback port it listens on (chosen once, kept across restarts)
    password      its `requirepass` (random, 0600), part of the broker URL
    redis.pid     its pid while it runs (`redis-server --pidfile`)
    server.log    its output

It holds only queued task messages, so nothing is saved to disk (`--save ""`, no AOF).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import time
from pathlib import Path

import structlog

from hub.dev._services import (
    file_lock,
    keep_port,
    kept_port,
    last_lines,
    process_alive,
    spawn_detached,
    terminate,
    write_private,
)

log = structlog.get_logger(__name__)

HOST = "127.0.0.1"
#: Where Debian's `redis-server` package puts the server.
DEBIAN_REDIS_SERVER = "/usr/bin/redis-server"
_START_TIMEOUT_S = 30.0
_STOP_TIMEOUT_S = 10.0
_POLL_INTERVAL_S = 0.1


class RedisError(RuntimeError):
    """The local Redis could not be found, started or stopped."""


class RedisMissingError(RedisError):
    """`redis-server` is not installed."""


def redis_server() -> str | None:
    """The path of `redis-server`, or None when Debian's package is not installed."""
    found = shutil.which("redis-server")
    if found:
        return found
    return DEBIAN_REDIS_SERVER if os.access(DEBIAN_REDIS_SERVER, os.X_OK) else None


class LocalRedis:
    """One Redis server in `home`, on `HOST` only, with a password of its own."""

    def __init__(self, home: Path) -> None:
        self.home = Path(home).absolute()

    @property
    def log_file(self) -> Path:
        """The server's output."""
        return self.home / "server.log"

    @property
    def pid_file(self) -> Path:
        """The pid of the running server, written by the server itself."""
        return self.home / "redis.pid"

    @property
    def port(self) -> int | None:
        """The port the server was last started on, if it ever was."""
        return kept_port(self.home)

    def password(self) -> str:
        """The server's password, generated once and kept (0600)."""
        path = self.home / "password"
        with contextlib.suppress(FileNotFoundError):
            return path.read_text(encoding="ascii").strip()
        self.home.mkdir(parents=True, exist_ok=True)
        value = secrets.token_hex(16)
        write_private(path, value + "\n")
        return value

    def url(self, database: int = 0) -> str:
        """The broker URL: `redis://:<password>@127.0.0.1:<port>/<database>`."""
        return f"redis://:{self.password()}@{HOST}:{self.port}/{database}"

    def pid(self) -> int | None:
        """The pid of the running server, or None."""
        try:
            pid = int(self.pid_file.read_text(encoding="ascii").strip())
        except (FileNotFoundError, ValueError):
            return None
        return pid if process_alive(pid) else None

    def running(self) -> bool:
        """Whether the server runs and answers PING."""
        return self.pid() is not None and self.port is not None and self._ping(self.port)

    def up(self) -> str:
        """Start the server unless it runs; return its broker URL once it answers PING."""
        program = redis_server()
        if program is None:
            raise RedisMissingError(
                "redis-server is not installed: `make system-deps` installs Debian's `redis-server`"
            )
        self.home.mkdir(parents=True, exist_ok=True)
        with file_lock(self.home / ".lock", _START_TIMEOUT_S, RedisError):
            if self.running():
                return self.url()
            started = time.monotonic()
            port = keep_port(self.home, HOST)
            self.pid_file.unlink(missing_ok=True)
            # The password goes in a config file (0600), never on the command line, so it
            # does not show in the process list.
            config = self.home / "redis.conf"
            write_private(
                config,
                "\n".join(
                    [
                        f"bind {HOST}",
                        f"port {port}",
                        f"requirepass {self.password()}",
                        f"dir {self.home}",
                        f"pidfile {self.pid_file}",
                        'save ""',
                        "appendonly no",
                        "daemonize no",
                        "protected-mode yes",
                    ]
                )
                + "\n",
            )
            pid = spawn_detached([program, str(config)], dict(os.environ), self.log_file)
            deadline = time.monotonic() + _START_TIMEOUT_S
            while not self._ping(port):
                if not process_alive(pid):
                    raise RedisError(
                        f"redis-server exited during start-up; see {self.log_file}, last lines:\n"
                        + last_lines(self.log_file.read_text(errors="replace"), 20)
                    )
                if time.monotonic() >= deadline:
                    terminate(pid, _STOP_TIMEOUT_S)
                    raise RedisError(
                        f"redis-server on {HOST}:{port} did not answer PING within "
                        f"{_START_TIMEOUT_S:.0f} s; see {self.log_file}"
                    )
                time.sleep(_POLL_INTERVAL_S)
        log.info("redis_up", port=port, seconds=round(time.monotonic() - started, 1))
        return self.url()

    def down(self) -> bool:
        """Stop the server (SIGTERM, then SIGKILL); returns whether it was running."""
        pid = self.pid()
        if pid is None:
            return False
        terminate(pid, _STOP_TIMEOUT_S)
        self.pid_file.unlink(missing_ok=True)
        log.info("redis_stopped", home=str(self.home))
        return True

    def _ping(self, port: int) -> bool:
        """Whether the server on `port` answers an authenticated PING."""
        password = self.password()
        request = f"AUTH {password}\r\nPING\r\n".encode()
        try:
            with socket.create_connection((HOST, port), timeout=2) as sock:
                sock.sendall(request)
                answer = b""
                while b"PONG" not in answer and len(answer) < 200:
                    chunk = sock.recv(200)
                    if not chunk:
                        break
                    answer += chunk
        except OSError:
            return False
        return b"+PONG" in answer
