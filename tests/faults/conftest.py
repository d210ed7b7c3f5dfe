"""The fault suite's harness: the real `hub` command as subprocesses, against real services.

`FaultHub` writes a hub.yaml for one tenant loaded into the session's slapd, runs
`hub sync` and `hub compile` as the operator would (HUB_CONFIG, HUB_VAR_DIR and
HUB_KAFKA_BOOTSTRAP in the environment), and reads back what reached the topics.
What a scenario relies on from the runner is spelled out here:

- exit codes: 0 success, 1 a clean failure, 4 `skipped` (another run holds the lease);
  a process killed by a fault point exits with -9 (SIGKILL);
- `HUB_LEASE_TTL_SECONDS` shortens the lease of a dead run, so the next run can take
  it over within seconds;
- `HUB_FAULT_POINT` / `HUB_FAULT_AFTER` (hub._faults) kill the process at a named point.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer, TopicPartition

from tests.faults.convergence import Content, directory_content, entity_topics, read_events
from tests.fixtures.slapd import LoadedTenant
from tests.support import Record, ldap_source, unique_prefix

#: The `hub` console script of the environment the tests run in.
HUB = Path(sys.executable).parent / "hub"
EXIT_OK, EXIT_FAILED, EXIT_SKIPPED = 0, 1, 4
#: The lease time-to-live the scenarios give a run, so a dead run's lease expires quickly.
LEASE_TTL_SECONDS = 2
RUN_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Finished:
    """A finished `hub` process: exit code and output."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    def summary(self) -> dict[str, Any] | None:
        """The `--json` document on the last line of stdout, if there is one."""
        lines = self.stdout.strip().splitlines()
        try:
            return dict(json.loads(lines[-1])) if lines else None
        except ValueError:
            return None

    def __str__(self) -> str:
        return (
            f"hub {' '.join(self.args)} exited {self.returncode}\n"
            f"--- stdout ---\n{self.stdout[-3000:]}\n--- stderr ---\n{self.stderr[-3000:]}"
        )


class Running:
    """A `hub` process started in the background, its output going to files."""

    def __init__(self, args: tuple[str, ...], env: Mapping[str, str], logs: Path) -> None:
        self.args = args
        logs.mkdir(parents=True, exist_ok=True)
        stamp = f"{time.monotonic_ns()}"
        self._out = (logs / f"{stamp}.out").open("w+", encoding="utf-8")
        self._err = (logs / f"{stamp}.err").open("w+", encoding="utf-8")
        self.process = subprocess.Popen(
            [str(HUB), *args], env=dict(env), stdout=self._out, stderr=self._err
        )

    @property
    def pid(self) -> int:
        """The process id."""
        return self.process.pid

    def running(self) -> bool:
        """Whether the process has not ended yet."""
        return self.process.poll() is None

    def wait(self, timeout: float = RUN_TIMEOUT_S) -> Finished:
        """Wait for the process to end and return what it did."""
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise
        outputs = []
        for handle in (self._out, self._err):
            handle.seek(0)
            outputs.append(handle.read())
            handle.close()
        return Finished(self.args, code, outputs[0], outputs[1])


class FaultHub:
    """One tenant of the session's slapd, synced by `hub` subprocesses into its own topics."""

    def __init__(
        self,
        loaded: LoadedTenant,
        bootstrap: str,
        home: Path,
        *,
        batch_size: int = 50,
        replication_factor: int = 1,
        ack_timeout_seconds: float = 8,
        partitions: int = 2,
    ) -> None:
        self.loaded = loaded
        self.tenant = loaded.owner.tenant
        self.source = "feide"
        self.bootstrap = bootstrap
        self.prefix = unique_prefix()
        self.var = home / "var"
        self.var.mkdir(parents=True, exist_ok=True)
        self.config = self.var / "hub.yaml"
        self.database = self.var / "hub.db"
        self.settings: dict[str, Any] = {
            "kafka": {
                "bootstrap": bootstrap,
                "topic_prefix": self.prefix,
                "partitions": partitions,
                "replication_factor": replication_factor,
                "batch_size": batch_size,
                "ack_timeout_seconds": ack_timeout_seconds,
            },
            "database_url": f"sqlite:///{self.database}",
            "tenants": [
                {
                    "id": self.tenant,
                    "name": self.tenant.title(),
                    "sources": [ldap_source(loaded, self.source)],
                    # The scenarios change a handful of people; the guard is not under test.
                    "deletion_guard": {"max_deletes": 10_000, "max_share": 1.0},
                }
            ],
        }
        self.configure()

    def configure(self, **kafka: Any) -> None:
        """(Re)write hub.yaml; `kafka` overrides its kafka settings (e.g. `batch_size`)."""
        self.settings["kafka"].update(kafka)
        self.config.write_text(json.dumps(self.settings, indent=2), encoding="utf-8")  # YAML

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of a `hub` process: this hub's config, var folder and broker."""
        env = {
            **os.environ,
            "HUB_CONFIG": str(self.config),
            "HUB_VAR_DIR": str(self.var),
            "HUB_KAFKA_BOOTSTRAP": self.bootstrap,
            "HUB_LEASE_TTL_SECONDS": str(LEASE_TTL_SECONDS),
            "HUB_LOG_FORMAT": "json",
            "TEST_LDAP_PASSWORD": self.loaded.server.reader_password,
        }
        for name in ("HUB_FAULT_POINT", "HUB_FAULT_AFTER", "HUB_ENV_FILE", "HUB_DATABASE_URL"):
            env.pop(name, None)
        return {**env, **extra}

    def start(self, *args: str, **env: str) -> Running:
        """Start `hub ARGS` in the background."""
        return Running(args, self.env(**env), self.var / "logs")

    def start_sync(self, **env: str) -> Running:
        """Start `hub sync TENANT feide --json` in the background."""
        return self.start("sync", self.tenant, self.source, "--json", **env)

    def sync(self, **env: str) -> Finished:
        """Run `hub sync TENANT feide --json` to its end."""
        return self.start_sync(**env).wait()

    def sync_after_lease_expiry(self, deadline_s: float = 60) -> Finished:
        """Sync until a run is not `skipped` (a dead run's lease must expire first)."""
        deadline = time.monotonic() + deadline_s
        while True:
            result = self.sync()
            if result.returncode != EXIT_SKIPPED or time.monotonic() > deadline:
                return result

    def compile(self, **env: str) -> Finished:
        """Run `hub compile TENANT` (materialise the topics, compile, publish) to its end."""
        return self.start("compile", self.tenant, **env).wait()

    def published_count(self) -> int:
        """How many records this hub's entity topics hold now (their end offsets, summed)."""
        topics = entity_topics(self.bootstrap, self.prefix)
        consumer = KafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
        try:
            partitions = [
                TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t) or ()
            ]
            return sum(consumer.end_offsets(partitions).values()) if partitions else 0
        finally:
            consumer.close()

    def wait_until_publishing(self, run: Running, beyond: int, deadline_s: float = 60) -> int:
        """Poll until the topics hold more than `beyond` records while `run` still runs."""
        deadline = time.monotonic() + deadline_s
        while True:
            count = self.published_count()
            if count > beyond:
                return count
            assert run.running(), f"the run ended before publishing more:\n{run.wait()}"
            assert time.monotonic() < deadline, f"nothing published beyond {beyond} in time"
            time.sleep(0.02)

    def events(self) -> list[Record]:
        """Every record on this hub's entity topics, from the beginning."""
        return read_events(self.bootstrap, self.prefix)

    def source_content(self) -> Content:
        """What the directory holds now, read independently of the connector."""
        with self.loaded.server.connection("admin") as conn:
            return directory_content(conn, self.loaded.base_dn)


@pytest.fixture
def fault_directory(directory_factory: Any) -> LoadedTenant:
    """A small generated tenant (about 120 people, a few hundred records) in slapd."""
    return directory_factory(scale=120)


@pytest.fixture
def fault_hub(
    fault_directory: LoadedTenant, kafka_bootstrap: str, tmp_path: Path
) -> Iterator[FaultHub]:
    """A `FaultHub` on the session's broker, with batches of 50 records."""
    yield FaultHub(fault_directory, kafka_bootstrap, tmp_path)


class DirectoryEdits:
    """Changes to the tenant's directory entries as its admin would make them, undoable."""

    def __init__(self, loaded: LoadedTenant) -> None:
        self.loaded = loaded
        self._undo: list[tuple[str, str, Any]] = []

    def _people(self, conn: Any) -> list[tuple[str, dict[str, list[bytes]]]]:
        """Every person with group entitlements, by eppn, with their raw attributes."""
        conn.search(
            self.loaded.people_dn,
            "(&(objectClass=eduPerson)(eduPersonEntitlement=*))",
            attributes=["*"],
        )
        found = [(e["dn"], dict(e["raw_attributes"])) for e in conn.response]
        return sorted(found, key=lambda e: e[1]["eduPersonPrincipalName"][0])

    def change(self, *, delete: int = 0, remail: int = 0, add: int = 0) -> None:
        """Delete some people, give others a new mail address, add new people to groups."""
        import ldap3

        with self.loaded.server.connection("admin") as conn:
            people = self._people(conn)
            for dn, attributes in people[:delete]:
                assert conn.delete(dn), conn.result
                self._undo.append(("add", dn, attributes))
            for dn, attributes in people[delete : delete + remail]:
                new = b"moved." + attributes["mail"][0]
                assert conn.modify(dn, {"mail": [(ldap3.MODIFY_REPLACE, [new])]}), conn.result
                self._undo.append(("mail", dn, attributes["mail"]))
            template = dict(people[-1][1])
            realm = template["eduPersonPrincipalName"][0].split(b"@")[1]
            for number in range(add):
                uid = f"fault{number}".encode()
                attributes = {
                    **{k: v for k, v in template.items() if k != "norEduPersonNIN"},
                    "uid": [uid],
                    "cn": [b"Fault " + uid],
                    "eduPersonPrincipalName": [uid + b"@" + realm],
                    "mail": [uid + b"@" + realm],
                }
                dn = f"uid={uid.decode()},{self.loaded.people_dn}"
                assert conn.add(dn, attributes=attributes), conn.result
                self._undo.append(("delete", dn, None))

    def undo(self) -> None:
        """Put the directory back as it was before `change`, newest change first."""
        import ldap3

        with self.loaded.server.connection("admin") as conn:
            for action, dn, data in reversed(self._undo):
                if action == "add":
                    assert conn.add(dn, attributes=data), conn.result
                elif action == "mail":
                    assert conn.modify(dn, {"mail": [(ldap3.MODIFY_REPLACE, data)]}), conn.result
                else:
                    assert conn.delete(dn), conn.result
        self._undo.clear()


@pytest.fixture
def directory_edits(fault_directory: LoadedTenant) -> DirectoryEdits:
    """Undoable edits of the fault tenant's directory."""
    return DirectoryEdits(fault_directory)
