import os
import socket
import string
import subprocess
import sys
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from hub.dev import kafka_local
from hub.dev.kafka_local import (
    KAFKA_VERSION,
    KafkaStartError,
    KafkaState,
    KafkaToolMissingError,
    LocalKafka,
    default_cache_dir,
    new_cluster_id,
    render_log4j2_properties,
    render_pom,
    render_server_properties,
    resolve_jars,
)

STATE = KafkaState(cluster_id="MkU3OEVBNTcwNTJENDM2Qg", broker_port=19092, controller_port=19093)


def parse_properties(text: str) -> dict[str, str]:
    return dict(
        line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#")
    )


@pytest.fixture
def broker(tmp_path: Path) -> LocalKafka:
    return LocalKafka(tmp_path / "home", tmp_path / "cache")


@pytest.fixture
def no_tools_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.delenv("JAVA_HOME", raising=False)


def resolved_cache(cache_dir: Path) -> Path:
    """Make `cache_dir` look like a finished jar resolution."""
    (cache_dir / "libs").mkdir(parents=True)
    (cache_dir / ".resolved").write_text(KAFKA_VERSION)
    return cache_dir


def test_server_properties_configure_a_one_node_cluster() -> None:
    """The rendered properties have the one-node replication and group settings."""
    settings = parse_properties(render_server_properties(STATE, Path("/srv/kafka/data")))

    assert {
        "process.roles": "broker,controller",
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "min.insync.replicas": "1",
        "group.initial.rebalance.delay.ms": "0",
        "auto.create.topics.enable": "false",
        "log.dirs": "/srv/kafka/data",
    }.items() <= settings.items()


def test_server_properties_listen_on_loopback_ports_from_state() -> None:
    """Broker and controller listeners use 127.0.0.1 and the ports the state remembers."""
    settings = parse_properties(render_server_properties(STATE, Path("/data")))

    assert "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093" == settings["listeners"]
    assert "PLAINTEXT://127.0.0.1:19092" == settings["advertised.listeners"]
    assert "1@127.0.0.1:19093" == settings["controller.quorum.voters"]


def test_log4j2_config_writes_to_the_given_file_only() -> None:
    """The Log4j config has one file appender pointing at the broker log."""
    config = render_log4j2_properties(Path("/srv/kafka/logs/server.log"))

    assert "appender.file.fileName = /srv/kafka/logs/server.log" in config
    assert "Console" not in config


def test_pom_pins_kafka_and_a_log4j2_binding() -> None:
    """The generated pom asks for the pinned Kafka and the slf4j-to-Log4j 2 binding."""
    pom = render_pom()

    assert f"<artifactId>kafka_2.13</artifactId>\n      <version>{KAFKA_VERSION}</version>" in pom
    assert "<artifactId>log4j-slf4j2-impl</artifactId>" in pom


def test_state_round_trips_through_json() -> None:
    """A state written to the state file reads back equal."""
    state = KafkaState(cluster_id="abc", broker_port=1, controller_port=2, pid=42)

    assert state == KafkaState.from_json(state.to_json())


def test_state_ignores_unknown_keys() -> None:
    """A state file with extra keys from a newer version still loads."""
    text = '{"cluster_id": "abc", "broker_port": 1, "controller_port": 2, "future": true}'

    assert KafkaState("abc", 1, 2) == KafkaState.from_json(text)


def test_cluster_id_is_a_kafka_uuid() -> None:
    """A new cluster id is 22 URL-safe base64 characters that do not start with a dash."""
    cluster_id = new_cluster_id()

    assert 22 == len(cluster_id)
    assert set(cluster_id) <= set(string.ascii_letters + string.digits + "-_")
    assert not cluster_id.startswith("-")


def test_default_cache_dir_is_versioned_under_var() -> None:
    """The jar cache lives at <var>/cache/kafka-<version>."""
    assert Path(f"/var/hub/cache/kafka-{KAFKA_VERSION}") == default_cache_dir(Path("/var/hub"))


def test_status_is_none_for_a_home_never_started(broker: LocalKafka) -> None:
    """A broker home without a state file has no status."""
    assert None is broker.status()


def test_status_reports_a_dead_pid_as_not_running(broker: LocalKafka) -> None:
    """A remembered pid whose process has exited is reported as not running."""
    finished = subprocess.Popen(["true"])
    finished.wait()
    broker.home.mkdir()
    broker.state_file.write_text(KafkaState("abc", 19092, 19093, pid=finished.pid).to_json())

    assert {
        "pid": None,
        "bootstrap": "127.0.0.1:19092",
        "running": False,
        "log_file": str(broker.log_file),
    } == broker.status()


def test_status_does_not_take_a_reused_pid_for_the_broker(broker: LocalKafka) -> None:
    """A live process that is not this home's broker does not count as running."""
    broker.home.mkdir()
    broker.state_file.write_text(KafkaState("abc", 19092, 19093, pid=os.getpid()).to_json())

    status = broker.status()

    assert status is not None
    assert False is status["running"]


def test_down_is_a_no_op_for_a_home_never_started(broker: LocalKafka) -> None:
    """Stopping a broker that was never started does nothing and logs nothing."""
    with capture_logs() as logs:
        broker.down()

    assert [] == logs
    assert None is broker.status()


def test_down_forgets_a_pid_that_is_gone(broker: LocalKafka) -> None:
    """Stopping a broker whose process is already gone clears the pid and keeps the rest."""
    finished = subprocess.Popen(["true"])
    finished.wait()
    broker.home.mkdir()
    broker.state_file.write_text(KafkaState("abc", 19092, 19093, pid=finished.pid).to_json())

    broker.down()

    assert KafkaState("abc", 19092, 19093, pid=None) == broker.read_state()


FAKE_BROKER = """
import signal, sys, time
if sys.argv[1] == "ignore-sigterm":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("ready", flush=True)
while True:
    time.sleep(60)
"""


def start_fake_broker(broker: LocalKafka, mode: str) -> subprocess.Popen[str]:
    """Run a process that looks like this home's broker (its command line names the config)."""
    fake = subprocess.Popen(
        [sys.executable, "-c", FAKE_BROKER, mode, str(broker.properties_file)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert fake.stdout is not None
    assert "ready\n" == fake.stdout.readline()
    fake.stdout.close()
    broker.home.mkdir()
    broker.state_file.write_text(KafkaState("abc", 19092, 19093, pid=fake.pid).to_json())
    return fake


def test_down_stops_the_broker_with_sigterm(broker: LocalKafka) -> None:
    """A broker that honours SIGTERM is stopped without SIGKILL and reported as not running."""
    fake = start_fake_broker(broker, "default")
    running = broker.status()

    with capture_logs() as logs:
        broker.down(timeout=10)
    fake.wait()

    assert running is not None and True is running["running"]
    assert [False] == [entry["forced"] for entry in logs if entry["event"] == "kafka_stopped"]
    assert KafkaState("abc", 19092, 19093, pid=None) == broker.read_state()


def test_down_kills_a_broker_that_ignores_sigterm(broker: LocalKafka) -> None:
    """A broker still running at the deadline is killed with SIGKILL."""
    fake = start_fake_broker(broker, "ignore-sigterm")

    with capture_logs() as logs:
        broker.down(timeout=0.3)
    fake.wait()

    assert [True] == [entry["forced"] for entry in logs if entry["event"] == "kafka_stopped"]
    status = broker.status()
    assert status is not None and False is status["running"]


def test_resolve_jars_is_instant_once_resolved(tmp_path: Path, no_tools_on_path: None) -> None:
    """With the marker file present, resolution needs no mvn and logs nothing."""
    cache_dir = resolved_cache(tmp_path / "cache")

    with capture_logs() as logs:
        libs = resolve_jars(cache_dir)

    assert cache_dir / "libs" == libs
    assert [] == logs


def test_resolve_jars_without_mvn_says_how_to_install_it(
    tmp_path: Path, no_tools_on_path: None
) -> None:
    """A missing mvn is a KafkaToolMissingError that names mvn and how to install it."""
    with pytest.raises(KafkaToolMissingError, match="apt-get install maven") as raised:
        resolve_jars(tmp_path / "cache")

    assert "mvn" == raised.value.tool


def test_up_without_java_says_how_to_install_it(tmp_path: Path, no_tools_on_path: None) -> None:
    """A missing java is a KafkaToolMissingError that names java and how to install it."""
    broker = LocalKafka(tmp_path / "home", resolved_cache(tmp_path / "cache"))

    with pytest.raises(KafkaToolMissingError, match="openjdk-17") as raised:
        broker.up(timeout=5)

    assert "java" == raised.value.tool


def test_up_on_a_taken_pinned_port_fails_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pinned broker port that something else listens on is a KafkaStartError naming it."""
    monkeypatch.setattr(kafka_local, "_find_java", lambda: "/nonexistent/java")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        broker = LocalKafka(tmp_path / "home", resolved_cache(tmp_path / "cache"), port=port)

        with pytest.raises(KafkaStartError, match=f"port {port} on 127.0.0.1 is already in use"):
            broker.up(timeout=5)


def test_start_error_names_the_log_file_and_its_last_lines() -> None:
    """A KafkaStartError's message points at the log and quotes its tail."""
    error = KafkaStartError("broker exited", Path("/k/logs/server.log"), "ERROR boom")

    assert "broker exited; see /k/logs/server.log, last lines:\nERROR boom" == str(error)
    assert Path("/k/logs/server.log") == error.log_file


@pytest.mark.parametrize(
    ("output", "major"),
    [
        ('openjdk version "17.0.15" 2025-04-15', 17),
        ('java version "1.8.0_402"', 8),
        ('openjdk version "21" 2023-09-19', 21),
        ("no version here", None),
    ],
)
def test_java_major_version_is_read_from_java_version_output(
    output: str, major: int | None
) -> None:
    """Both the modern and the 1.x version strings of `java -version` are understood."""
    assert major == kafka_local._java_major(output)


def test_a_live_broker_showing_an_empty_command_line_is_read_again(
    broker: LocalKafka, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A live process whose /proc command line is empty for a moment is not taken for gone."""
    properties = str(broker.properties_file).encode()
    reads = iter([b"", b"java\0kafka.Kafka\0" + properties + b"\0"])

    class ProcFile:
        def __init__(self, path: str) -> None:
            self.path = path

        def read_bytes(self) -> bytes:
            return next(reads)

    monkeypatch.setattr(kafka_local, "process_alive", lambda pid: True)
    monkeypatch.setattr(kafka_local, "Path", ProcFile)

    assert broker._is_broker_process(4242)
