"""A local PostgreSQL cluster from Debian's packages: the metadata database of `make airflow`.

Airflow's scheduler, dag-processor, triggerer, api-server and the LocalExecutor's tasks
all write the metadata database at once; SQLite answers such writers with "database is
locked", so the local Airflow runs on PostgreSQL as a deployment does. The test suite's
PostgreSQL (tests/fixtures/postgres.py) is started the same way.

A cluster lives in one folder: `data/` (initialised once, kept across restarts),
`run/` (the Unix socket), `server.log` and `port` (the loopback port it listens on,
kept so URLs stay the same). PostgreSQL refuses to run as root, so under root the
folder belongs to the `postgres` user that Debian's package creates, and its programs
run as that user.
"""

from __future__ import annotations

import glob
import os
import pwd
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
import structlog

from hub.dev._services import keep_port, kept_port

log = structlog.get_logger(__name__)

HOST = "127.0.0.1"
#: The role that owns the cluster's databases (local trust authentication, loopback only).
ROLE = "hub"
_START_TIMEOUT_S = 60


class PostgresError(RuntimeError):
    """The local PostgreSQL could not be prepared, started or stopped."""


def bin_dir() -> Path | None:
    """The newest installed PostgreSQL's programs (`initdb`, `pg_ctl`), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


class LocalPostgres:
    """One PostgreSQL cluster in `home`, listening on `HOST` only, trusting local `ROLE`."""

    def __init__(self, home: Path) -> None:
        self.home = Path(home).absolute()
        found = bin_dir()
        if found is None:
            raise PostgresError(
                "PostgreSQL is not installed: `make system-deps` installs Debian's `postgresql`"
            )
        self.bin_dir = found

    @property
    def data_dir(self) -> Path:
        """The cluster's data directory."""
        return self.home / "data"

    @property
    def log_file(self) -> Path:
        """The server's log."""
        return self.home / "server.log"

    @property
    def port(self) -> int | None:
        """The port the cluster was last started on, if it ever was."""
        return kept_port(self.home)

    def url(self, database: str) -> str:
        """The SQLAlchemy URL of one database of the cluster."""
        return f"postgresql+psycopg2://{ROLE}@{HOST}:{self.port}/{database}"

    def running(self) -> bool:
        """Whether the cluster's server runs (`pg_ctl status`)."""
        if not (self.data_dir / "PG_VERSION").exists():
            return False
        result = self._run("pg_ctl", "-D", str(self.data_dir), "status", check=False)
        return result.returncode == 0

    def up(self, databases: Sequence[str] = ()) -> None:
        """Initialise the cluster once, start it unless it runs, create missing `databases`."""
        started = time.monotonic()
        self._prepare()
        if not self.running():
            port = keep_port(self.home, HOST)
            options = f"-p {port} -k {self.home / 'run'} -c listen_addresses={HOST}"
            result = self._run(
                "pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_file), "-o", options,
                "-w", "-t", str(_START_TIMEOUT_S), "start", check=False,
            )  # fmt: skip
            if result.returncode != 0:
                raise PostgresError(
                    f"PostgreSQL in {self.home} did not start: {result.stderr.strip()}; "
                    f"see {self.log_file}"
                )
        self._create_databases(databases)
        log.info(
            "postgres_up",
            home=str(self.home),
            port=self.port,
            seconds=round(time.monotonic() - started, 1),
        )

    def down(self) -> bool:
        """Stop the server (fast shutdown); returns whether it was running."""
        if not self.running():
            return False
        self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop")
        log.info("postgres_stopped", home=str(self.home))
        return True

    # -- internals ------------------------------------------------------------------------

    def _owner(self) -> pwd.struct_passwd | None:
        """The user the cluster runs as when we are root (PostgreSQL refuses root)."""
        if os.geteuid() != 0:
            return None
        try:
            return pwd.getpwnam("postgres")
        except KeyError:
            raise PostgresError(
                "running as root and there is no `postgres` user to run PostgreSQL as"
            ) from None

    def _run(
        self, program: str, *args: str, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        prefix = ["runuser", "-u", "postgres", "--"] if self._owner() else []
        result = subprocess.run(
            [*prefix, str(self.bin_dir / program), *args],
            capture_output=True,
            text=True,
            timeout=_START_TIMEOUT_S + 30,
            check=False,
        )
        if check and result.returncode != 0:
            raise PostgresError(f"{program} {' '.join(args)}: {result.stderr.strip()}")
        return result

    def _prepare(self) -> None:
        (self.home / "run").mkdir(parents=True, exist_ok=True)
        owner = self._owner()
        if owner is not None:
            for path in (self.home, self.home / "run"):
                os.chown(path, owner.pw_uid, owner.pw_gid)
        if not (self.data_dir / "PG_VERSION").exists():
            self._run(
                "initdb", "-D", str(self.data_dir), "-A", "trust", "-U", ROLE, "-E", "UTF8",
                "--no-sync",
            )  # fmt: skip

    def _create_databases(self, databases: Sequence[str]) -> None:
        admin = sa.create_engine(self.url("postgres"))
        try:
            deadline = time.monotonic() + _START_TIMEOUT_S
            while True:
                try:
                    with admin.connect() as conn:
                        existing = set(conn.scalars(sa.text("select datname from pg_database")))
                    break
                except sa.exc.OperationalError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                for name in databases:
                    if name not in existing:
                        conn.execute(sa.text(f'create database "{name}"'))
        finally:
            admin.dispose()
