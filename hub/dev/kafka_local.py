"""A local single-node Apache Kafka broker for development and tests.

The jars of `org.apache.kafka:kafka_2.13` and its runtime dependencies are resolved from
Maven Central with the machine's `mvn` into a cache folder, once. The broker runs in KRaft
mode as one combined broker and controller on loopback ports, detached from the process that
started it, so that `hub kafka up` can return and `hub kafka status|down` in another process
find it again through a state file in the broker home.

Layout of a broker home:

    server.properties   rendered on every start from the state below
    log4j2.properties   sends the broker log to logs/server.log, not the terminal
    state.json          ports, cluster id and pid of the running broker
    data/               the Kafka log dirs (and the KRaft metadata log)
    logs/server.log     the broker log; logs/stdout.log holds the JVM's own output
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TypedDict

import structlog

from hub.dev._services import (
    StillRunningError,
    file_lock,
    free_port,
    last_lines,
    port_free,
    process_alive,
    spawn_detached,
    terminate,
)

log = structlog.get_logger(__name__)

KAFKA_VERSION = "4.4.0"

# Kafka's Maven poms still name slf4j-api 1.7 and ship no logging binding; its binary
# distribution runs slf4j 2 with Log4j 2. Match that: the log4j-core version is the one
# kafka-server pulls in, so the binding never mixes Log4j versions.
_SCALA_VERSION = "2.13"
_SLF4J_VERSION = "2.0.17"
_LOG4J_VERSION = "2.25.5"
_MIN_JAVA_MAJOR = 17

_HOST = "127.0.0.1"
_NODE_ID = 1
#: The heap of the development broker; the nodes of a test cluster get less.
_HEAP_OPTIONS = ("-Xms256m", "-Xmx512m")
_JVM_OPTIONS = (
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    # C1 only: starts about a third faster; a development broker needs no peak throughput.
    "-XX:TieredStopAtLevel=1",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
    # Kafka logs its own shutdown from a JVM shutdown hook; Log4j must not close first.
    "-Dlog4j2.shutdownHookEnabled=false",
)
_MAVEN_TIMEOUT_S = 600.0
_FORMAT_TIMEOUT_S = 120.0
_LOCK_TIMEOUT_S = 120.0
_POLL_INTERVAL_S = 0.1
_CMDLINE_WAIT_S = 2.0
_LOG_TAIL_LINES = 30

_JAVA_HINT = "install a JDK 17 or newer (Debian: apt-get install openjdk-17-jre-headless)"
_MAVEN_HINT = "install Maven (Debian: apt-get install maven)"


class KafkaLocalError(RuntimeError):
    """The local Kafka broker could not be prepared, started or stopped."""


class KafkaToolMissingError(KafkaLocalError):
    """A program the local broker needs (`java` or `mvn`) is missing or too old."""

    def __init__(self, tool: str, hint: str, detail: str = "not found on PATH") -> None:
        super().__init__(f"{tool} {detail}; {hint}")
        self.tool = tool
        self.hint = hint


class KafkaResolveError(KafkaLocalError):
    """Maven could not resolve the Kafka jars."""

    def __init__(self, message: str, output_tail: str) -> None:
        super().__init__(f"{message}\n{output_tail}" if output_tail else message)
        self.output_tail = output_tail


class KafkaStartError(KafkaLocalError):
    """The broker did not start, or did not answer before the deadline."""

    def __init__(self, message: str, log_file: Path | None = None, tail: str = "") -> None:
        text = message if log_file is None else f"{message}; see {log_file}"
        super().__init__(f"{text}, last lines:\n{tail}" if tail else text)
        self.log_file = log_file
        self.tail = tail


class KafkaStopError(KafkaLocalError):
    """The broker process survived SIGKILL."""


class KafkaStatus(TypedDict):
    """What `LocalKafka.status` reports about a broker home."""

    pid: int | None
    bootstrap: str
    running: bool
    log_file: str


@dataclass(frozen=True)
class KafkaState:
    """What a broker home remembers between processes and restarts."""

    cluster_id: str
    broker_port: int
    controller_port: int
    pid: int | None = None
    kafka_version: str = KAFKA_VERSION

    @property
    def bootstrap(self) -> str:
        """The address clients bootstrap from."""
        return f"{_HOST}:{self.broker_port}"

    def to_json(self) -> str:
        """Serialise as the state file's content."""
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> KafkaState:
        """Parse a state file's content, ignoring keys this version does not know."""
        raw = json.loads(text)
        pid = raw.get("pid")
        return cls(
            cluster_id=str(raw["cluster_id"]),
            broker_port=int(raw["broker_port"]),
            controller_port=int(raw["controller_port"]),
            pid=None if pid is None else int(pid),
            kafka_version=str(raw.get("kafka_version", KAFKA_VERSION)),
        )


def default_cache_dir(var: Path) -> Path:
    """Return the jar cache folder for the pinned Kafka version under the hub's `var` folder."""
    return var / "cache" / f"kafka-{KAFKA_VERSION}"


def new_cluster_id() -> str:
    """Return a random KRaft cluster id (a Kafka `Uuid`: 16 bytes, URL-safe base64)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode("ascii")
        if not cluster_id.startswith("-"):  # Kafka's tools would read it as an option
            return cluster_id


def render_pom() -> str:
    """Return the Maven pom whose runtime dependencies are the broker's classpath."""
    dependencies = [
        ("org.apache.kafka", f"kafka_{_SCALA_VERSION}", KAFKA_VERSION),
        ("org.slf4j", "slf4j-api", _SLF4J_VERSION),
        ("org.apache.logging.log4j", "log4j-slf4j2-impl", _LOG4J_VERSION),
    ]
    rendered = "\n".join(
        "    <dependency>\n"
        f"      <groupId>{group}</groupId>\n"
        f"      <artifactId>{artifact}</artifactId>\n"
        f"      <version>{version}</version>\n"
        "    </dependency>"
        for group, artifact, version in dependencies
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<project xmlns="http://maven.apache.org/POM/4.0.0">\n'
        "  <modelVersion>4.0.0</modelVersion>\n"
        "  <groupId>skolehub.local</groupId>\n"
        "  <artifactId>kafka-local</artifactId>\n"
        f"  <version>{KAFKA_VERSION}</version>\n"
        "  <packaging>pom</packaging>\n"
        "  <dependencies>\n"
        f"{rendered}\n"
        "  </dependencies>\n"
        "</project>\n"
    )


def resolve_jars(cache_dir: Path) -> Path:
    """Resolve the broker's jars into `cache_dir/libs` once and return that folder.

    A marker file written after a complete resolution makes later calls instant; a
    resolution that failed half-way is simply redone.
    """
    libs = cache_dir / "libs"
    marker = cache_dir / ".resolved"
    if marker.is_file() and libs.is_dir():
        return libs
    cache_dir.mkdir(parents=True, exist_ok=True)
    with file_lock(cache_dir / ".lock", _MAVEN_TIMEOUT_S, KafkaLocalError):
        if marker.is_file() and libs.is_dir():  # another process resolved while we waited
            return libs
        mvn = shutil.which("mvn")
        if mvn is None:
            raise KafkaToolMissingError("mvn", _MAVEN_HINT)
        started = time.monotonic()
        pom = cache_dir / "pom.xml"
        pom.write_text(render_pom(), encoding="utf-8")
        shutil.rmtree(libs, ignore_errors=True)
        command = [
            mvn,
            "-q",
            "-B",
            "-f",
            str(pom),
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={libs}",
        ]
        try:
            result = subprocess.run(
                command,
                cwd=cache_dir,
                capture_output=True,
                text=True,
                timeout=_MAVEN_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise KafkaResolveError(
                f"mvn did not resolve Kafka {KAFKA_VERSION} within {_MAVEN_TIMEOUT_S:.0f} s",
                "",
            ) from exc
        jars = sorted(libs.glob("*.jar"))
        if result.returncode != 0 or not jars:
            output = last_lines(result.stdout + result.stderr, _LOG_TAIL_LINES)
            raise KafkaResolveError(
                f"mvn could not resolve org.apache.kafka:kafka_{_SCALA_VERSION}:{KAFKA_VERSION}"
                f" (exit {result.returncode}, pom {pom})",
                output,
            )
        marker.write_text(f"{KAFKA_VERSION}\n", encoding="utf-8")
    log.info(
        "kafka_jars_resolved",
        kafka_version=KAFKA_VERSION,
        jars=len(jars),
        cache_dir=str(cache_dir),
        seconds=round(time.monotonic() - started, 1),
    )
    return libs


def render_server_properties(
    state: KafkaState,
    data_dir: Path,
    *,
    node_id: int = _NODE_ID,
    voters: str | None = None,
    replicas: int = 1,
    extra: Mapping[str, str] | None = None,
) -> str:
    """Return `server.properties` for a combined broker and controller of a KRaft cluster.

    Alone (the default) it is a one-node cluster. A node of a test cluster names the
    static voter set (`id@host:port,...`, the same on every node) and how many replicas
    the internal and default topics get; `min.insync.replicas` is 2 once there are 2.
    """
    min_isr = str(min(2, replicas))
    settings = {
        "process.roles": "broker,controller",
        "node.id": str(node_id),
        # A static voter set: the controller port may change between restarts.
        "controller.quorum.voters": voters or f"{node_id}@{_HOST}:{state.controller_port}",
        "controller.listener.names": "CONTROLLER",
        "listeners": (
            f"PLAINTEXT://{_HOST}:{state.broker_port},CONTROLLER://{_HOST}:{state.controller_port}"
        ),
        "advertised.listeners": f"PLAINTEXT://{_HOST}:{state.broker_port}",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(data_dir),
        "num.partitions": "1",
        "default.replication.factor": str(replicas),
        "min.insync.replicas": min_isr,
        "offsets.topic.replication.factor": str(replicas),
        "offsets.topic.num.partitions": "1",
        "transaction.state.log.replication.factor": str(replicas),
        "transaction.state.log.min.isr": min_isr,
        "transaction.state.log.num.partitions": "1",
        "share.coordinator.state.topic.replication.factor": str(replicas),
        "share.coordinator.state.topic.min.isr": min_isr,
        "group.initial.rebalance.delay.ms": "0",
        # The hub creates its topics with their settings; a typo must not create one.
        "auto.create.topics.enable": "false",
        "log.cleaner.dedupe.buffer.size": str(32 * 1024 * 1024),
        **(extra or {}),
    }
    lines = [f"# Written by hub.dev.kafka_local for Kafka {KAFKA_VERSION}; edits are overwritten."]
    lines += [f"{key}={value}" for key, value in settings.items()]
    return "\n".join(lines) + "\n"


def render_log4j2_properties(log_file: Path) -> str:
    """Return a Log4j 2 configuration that writes the broker log to `log_file`, rolled."""
    return "\n".join(
        [
            "status = warn",
            "name = hub-kafka-local",
            "appender.file.type = RollingFile",
            "appender.file.name = file",
            f"appender.file.fileName = {log_file}",
            f"appender.file.filePattern = {log_file}.%i",
            "appender.file.layout.type = PatternLayout",
            "appender.file.layout.pattern = [%d] %p %m (%c)%n",
            "appender.file.policies.type = Policies",
            "appender.file.policies.size.type = SizeBasedTriggeringPolicy",
            "appender.file.policies.size.size = 10MB",
            "appender.file.strategy.type = DefaultRolloverStrategy",
            "appender.file.strategy.max = 3",
            "rootLogger.level = info",
            "rootLogger.appenderRef.file.ref = file",
            "logger.request.name = kafka.request.logger",
            "logger.request.level = warn",
            "",
        ]
    )


class LocalKafka:
    """A single-node KRaft Kafka broker whose files live in `home`.

    Every method works from the state file, so one process can `up()` the broker and
    another can ask for its `status()` or take it `down()`.
    """

    #: JVM heap options (`-Xms`, `-Xmx`); the nodes of a test cluster get a smaller heap.
    heap_options: tuple[str, ...] = _HEAP_OPTIONS

    def __init__(self, home: Path, cache_dir: Path, port: int | None = None) -> None:
        self.home = home
        self.cache_dir = cache_dir
        self.port = port

    @property
    def state_file(self) -> Path:
        """The JSON file that remembers ports, cluster id and pid."""
        return self.home / "state.json"

    @property
    def data_dir(self) -> Path:
        """The broker's log dir; formatted once, kept across restarts."""
        return self.home / "data"

    @property
    def log_file(self) -> Path:
        """The broker's own log (Log4j)."""
        return self.home / "logs" / "server.log"

    @property
    def stdout_file(self) -> Path:
        """Where the JVM's stdout and stderr go (start-up failures, JVM crashes)."""
        return self.home / "logs" / "stdout.log"

    @property
    def properties_file(self) -> Path:
        """The rendered `server.properties`."""
        return self.home / "server.properties"

    def read_state(self) -> KafkaState | None:
        """Return the remembered state, or None when this home has never been started."""
        try:
            return KafkaState.from_json(self.state_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None

    def status(self) -> KafkaStatus | None:
        """Report pid, bootstrap address and whether the broker process runs; None if never up.

        `running` means the broker's process is alive; `up()` is what waits for it to answer.
        """
        state = self.read_state()
        if state is None:
            return None
        running = state.pid is not None and self._is_broker_process(state.pid)
        return KafkaStatus(
            pid=state.pid if running else None,
            bootstrap=state.bootstrap,
            running=running,
            log_file=str(self.log_file),
        )

    def up(self, timeout: float = 90) -> str:
        """Start the broker unless it runs, wait until it answers, return the bootstrap address.

        Raises:
            KafkaToolMissingError: `java` or `mvn` is missing.
            KafkaResolveError: Maven could not fetch the jars.
            KafkaStartError: the broker exited or did not answer within `timeout` seconds.

        """
        deadline = time.monotonic() + timeout
        self.home.mkdir(parents=True, exist_ok=True)
        with file_lock(self.home / ".lock", timeout, KafkaLocalError):
            state = self.read_state()
            if state is not None and state.pid is not None and self._is_broker_process(state.pid):
                self._wait_until_ready(state.pid, state, deadline)
                log.info("kafka_start_skipped", reason="already_running", pid=state.pid)
                return state.bootstrap
            started = time.monotonic()
            state, pid = self._launch(state)
            try:
                self._wait_until_ready(pid, state, deadline)
            except KafkaStartError:
                self._terminate(pid, timeout=10)
                self._write_state(replace(state, pid=None))
                raise
        log.info(
            "kafka_started",
            bootstrap=state.bootstrap,
            pid=pid,
            home=str(self.home),
            seconds=round(time.monotonic() - started, 1),
        )
        return state.bootstrap

    def down(self, timeout: float = 30) -> None:
        """Stop the broker: SIGTERM, then SIGKILL after `timeout` seconds; a no-op if stopped."""
        if not self.home.is_dir():
            return
        with file_lock(self.home / ".lock", _LOCK_TIMEOUT_S + timeout, KafkaLocalError):
            state = self.read_state()
            if state is None or state.pid is None:
                return
            if self._is_broker_process(state.pid):
                started = time.monotonic()
                forced = self._terminate(state.pid, timeout)
                log.info(
                    "kafka_stopped",
                    pid=state.pid,
                    forced=forced,
                    seconds=round(time.monotonic() - started, 1),
                )
            self._write_state(replace(state, pid=None))

    def _launch(self, state: KafkaState | None) -> tuple[KafkaState, int]:
        """Write the config, format the storage once, start the JVM; return the state and pid.

        Call it holding the home's lock; it does not wait for the broker to answer.
        """
        libs = resolve_jars(self.cache_dir)
        java = _find_java()
        state = self._prepare(state)
        self._format_storage(java, libs, state)
        pid = self._spawn(java, libs)
        state = replace(state, pid=pid)
        self._write_state(state)
        return state, pid

    def _prepare(self, state: KafkaState | None) -> KafkaState:
        """Choose ports, keep the cluster id, and write the broker's config files."""
        if state is None:
            state = KafkaState(
                cluster_id=new_cluster_id(),
                broker_port=self.port if self.port is not None else free_port(_HOST),
                controller_port=0,
            )
        broker_port = self.port if self.port is not None else state.broker_port
        if broker_port == 0 or not port_free(_HOST, broker_port):
            if self.port is not None:
                raise KafkaStartError(f"port {broker_port} on {_HOST} is already in use")
            broker_port = free_port(_HOST)
            log.warning("kafka_port_changed", old=state.broker_port, new=broker_port)
        controller_port = state.controller_port
        if controller_port in (0, broker_port) or not port_free(_HOST, controller_port):
            controller_port = free_port(_HOST, exclude={broker_port})
        state = replace(state, broker_port=broker_port, controller_port=controller_port)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.properties_file.write_text(self._server_properties(state), encoding="utf-8")
        (self.home / "log4j2.properties").write_text(
            render_log4j2_properties(self.log_file), encoding="utf-8"
        )
        self._write_state(state)
        return state

    def _server_properties(self, state: KafkaState) -> str:
        """The broker's `server.properties` (a secured broker adds its listeners and users)."""
        return render_server_properties(state, self.data_dir)

    def _format_arguments(self) -> list[str]:
        """Extra arguments of the storage format (a secured broker's SCRAM users)."""
        return []

    def _answers(self, state: KafkaState, timeout: float) -> bool:
        """Whether the broker answers clients and has registered itself."""
        return _answers_api_versions(state.broker_port, min(2.0, timeout)) and (
            _broker_registered(state.bootstrap, min(max(timeout, 1.0), 10.0))
        )

    def _format_storage(self, java: str, libs: Path, state: KafkaState) -> None:
        """Format the log dir with the kept cluster id, unless it already is."""
        if (self.data_dir / "meta.properties").is_file():
            return
        command = [
            java,
            *self._java_options(libs),
            "kafka.tools.StorageTool",
            "format",
            "--ignore-formatted",
            "--cluster-id",
            state.cluster_id,
            "--config",
            str(self.properties_file),
            *self._format_arguments(),
        ]
        try:
            result = subprocess.run(
                command,
                cwd=self.home,
                capture_output=True,
                text=True,
                timeout=_FORMAT_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise KafkaStartError("kafka storage format timed out", self.log_file) from exc
        if result.returncode != 0:
            raise KafkaStartError(
                f"kafka storage format failed (exit {result.returncode})",
                self.log_file,
                last_lines(result.stdout + result.stderr, _LOG_TAIL_LINES),
            )
        log.info(
            "kafka_storage_formatted", cluster_id=state.cluster_id, data_dir=str(self.data_dir)
        )

    def _java_options(self, libs: Path) -> list[str]:
        """Return the JVM options and classpath shared by the broker and its storage tool."""
        return [
            *self.heap_options,
            *_JVM_OPTIONS,
            f"-Dlog4j2.configurationFile={self.home / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={self.log_file.parent}",
            f"-XX:ErrorFile={self.log_file.parent / 'hs_err_pid%p.log'}",
            "-cp",
            str(libs / "*"),
        ]

    def _spawn(self, java: str, libs: Path) -> int:
        """Start the broker in a session of its own, with its output going to a file."""
        argv = [java, *self._java_options(libs), "kafka.Kafka", str(self.properties_file)]
        return spawn_detached(argv, os.environ, self.stdout_file)

    def _wait_until_ready(self, pid: int, state: KafkaState, deadline: float) -> None:
        """Poll until broker `pid` answers and has registered itself, or raise at `deadline`."""
        while True:
            if not self._is_broker_process(pid):
                raise KafkaStartError(
                    f"the Kafka broker (pid {pid}) exited during start-up",
                    self.log_file,
                    self._log_tail(),
                )
            remaining = deadline - time.monotonic()
            if self._answers(state, max(remaining, 0.1)):
                return
            if time.monotonic() >= deadline:
                raise KafkaStartError(
                    f"the Kafka broker (pid {pid}) did not answer on {state.bootstrap}",
                    self.log_file,
                    self._log_tail(),
                )
            time.sleep(_POLL_INTERVAL_S)

    def _terminate(self, pid: int, timeout: float) -> bool:
        """Stop `pid` with SIGTERM, then SIGKILL; return whether SIGKILL was needed."""
        try:
            return terminate(pid, timeout)
        except StillRunningError as exc:
            raise KafkaStopError(f"the Kafka broker (pid {pid}) survived SIGKILL") from exc

    def _is_broker_process(self, pid: int) -> bool:
        """Whether `pid` is alive and is this home's broker (a reused pid is not)."""
        deadline = time.monotonic() + _CMDLINE_WAIT_S
        while process_alive(pid):
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except FileNotFoundError:
                return False
            except OSError:  # no /proc here: trust the pid
                return True
            # A live process shows an empty command line for a moment (seen while the JVM
            # starts on a loaded machine); read it again rather than call the broker gone.
            if cmdline or time.monotonic() >= deadline:
                return str(self.properties_file).encode() in cmdline.split(b"\0")
            time.sleep(_POLL_INTERVAL_S / 2)
        return False

    def _write_state(self, state: KafkaState) -> None:
        """Replace the state file atomically, so a reader never sees half of it."""
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(state.to_json(), encoding="utf-8")
        tmp.replace(self.state_file)

    def _log_tail(self) -> str:
        """Return the last lines of the JVM output and of the broker log."""
        parts = []
        for path in (self.stdout_file, self.log_file):
            with contextlib.suppress(FileNotFoundError):
                tail = last_lines(path.read_text(encoding="utf-8", errors="replace"), 20)
                if tail:
                    parts.append(f"--- {path.name} ---\n{tail}")
        return "\n".join(parts)


def _find_java() -> str:
    """Return the `java` to run (JAVA_HOME first, then PATH), checking it is new enough."""
    java_home = os.environ.get("JAVA_HOME")
    candidate = Path(java_home) / "bin" / "java" if java_home else None
    java = str(candidate) if candidate and candidate.is_file() else shutil.which("java")
    if java is None:
        raise KafkaToolMissingError("java", _JAVA_HINT)
    result = subprocess.run(
        [java, "-version"], capture_output=True, text=True, timeout=60, check=False
    )
    major = _java_major(result.stderr + result.stdout)
    if major is None or major < _MIN_JAVA_MAJOR:
        found = "an unknown version" if major is None else f"version {major}"
        raise KafkaToolMissingError(
            "java", _JAVA_HINT, detail=f"at {java} is {found}; Kafka {KAFKA_VERSION} needs 17+"
        )
    return java


def _java_major(version_output: str) -> int | None:
    """Return the major version from `java -version` output ("1.8.0" is 8, "17.0.15" 17)."""
    match = re.search(r'version "(\d+)(?:\.(\d+))?', version_output)
    if match is None:
        return None
    first, second = int(match.group(1)), match.group(2)
    return int(second) if first == 1 and second is not None else first


def _answers_api_versions(port: int, timeout: float) -> bool:
    """Whether a Kafka broker on `port` answers an ApiVersions (v0) request."""
    correlation_id = 1
    client_id = b"hub-kafka-local"
    body = struct.pack(">hhih", 18, 0, correlation_id, len(client_id)) + client_id
    try:
        with socket.create_connection((_HOST, port), timeout=timeout) as sock:
            sock.sendall(struct.pack(">i", len(body)) + body)
            header = _recv_exactly(sock, 10)
    except OSError:
        return False
    if header is None:
        return False
    _, answered_id, error_code = struct.unpack(">iih", header)
    return correlation_id == answered_id and error_code == 0


def _recv_exactly(sock: socket.socket, size: int) -> bytes | None:
    """Read `size` bytes, or return None if the peer closes first."""
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def _broker_registered(bootstrap: str, timeout: float) -> bool:
    """Whether the cluster's metadata lists a live broker, so topics can be created."""
    from kafka import KafkaAdminClient  # deferred: `hub kafka status` need not load it
    from kafka.errors import KafkaError

    timeout_ms = int(timeout * 1000)
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap,
            client_id="hub-kafka-local",
            bootstrap_timeout_ms=timeout_ms,
            request_timeout_ms=max(timeout_ms, 1000),
        )
    except KafkaError:
        return False
    try:
        return bool(admin.describe_cluster()["brokers"])
    except KafkaError:
        return False
    finally:
        admin.close()
