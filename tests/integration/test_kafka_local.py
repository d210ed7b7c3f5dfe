import time
import uuid
from pathlib import Path

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaTimeoutError
from structlog.testing import capture_logs

from hub.dev.kafka_local import KafkaStartError, LocalKafka
from tests.fixtures.kafka import JAR_CACHE, start_local_kafka

pytestmark = pytest.mark.integration


def create_topic(bootstrap: str) -> str:
    """Create a fresh one-partition topic and return its name."""
    topic = f"test.kafka-local.{uuid.uuid4().hex[:12]}"
    with KafkaAdminClient(bootstrap_servers=bootstrap) as admin:
        admin.create_topics({topic: {"num_partitions": 1}}, wait_for_metadata=True)
    return topic


def produce(bootstrap: str, topic: str, key: bytes, value: bytes) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        producer.send(topic, key=key, value=value).get(timeout=30)
    finally:
        producer.close()


def consume_all(bootstrap: str, topic: str, expected_count: int) -> list[tuple[bytes, bytes]]:
    """Read the topic from the start until `expected_count` records came, or 30 s passed."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        consumer.seek_to_beginning(partition)
        records: list[tuple[bytes, bytes]] = []
        deadline = time.monotonic() + 30
        while len(records) < expected_count and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                records += [(record.key, record.value) for record in batch]
        return records
    finally:
        consumer.close()


def test_session_broker_carries_a_message(kafka_bootstrap: str) -> None:
    """A record produced to the session broker is consumed back unchanged."""
    topic = create_topic(kafka_bootstrap)

    produce(kafka_bootstrap, topic, b"tenant:person:1", b'{"op": "c"}')

    assert [(b"tenant:person:1", b'{"op": "c"}')] == consume_all(kafka_bootstrap, topic, 1)


def test_topics_are_not_created_on_first_use(kafka_bootstrap: str) -> None:
    """Producing to a topic that does not exist fails instead of creating it."""
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, max_block_ms=1500)
    try:
        with pytest.raises(KafkaTimeoutError):
            producer.send(f"test.missing.{uuid.uuid4().hex[:12]}", value=b"x").get(timeout=5)
    finally:
        producer.close()


def test_restart_keeps_messages_and_cluster_id(private_kafka: LocalKafka) -> None:
    """A message survives down() and up(), with the same cluster id, storage and address."""
    bootstrap = private_kafka.up()
    cluster_id = read_cluster_id(private_kafka)
    meta_properties = (private_kafka.data_dir / "meta.properties").read_text()
    topic = create_topic(bootstrap)
    produce(bootstrap, topic, b"k", b"kept across restart")

    with capture_logs() as logs:
        private_kafka.down()
        stopped = private_kafka.status()
        restarted_bootstrap = private_kafka.up()

    assert stopped is not None and False is stopped["running"]
    assert ["kafka_stopped", "kafka_started"] == [entry["event"] for entry in logs]
    assert bootstrap == restarted_bootstrap
    assert cluster_id == read_cluster_id(private_kafka)
    assert meta_properties == (private_kafka.data_dir / "meta.properties").read_text()
    assert [(b"k", b"kept across restart")] == consume_all(bootstrap, topic, 1)


def test_another_process_view_finds_and_stops_the_broker(private_kafka: LocalKafka) -> None:
    """A second LocalKafka on the same home sees the running broker, reuses it and stops it."""
    first_status = private_kafka.status()
    other = LocalKafka(private_kafka.home, private_kafka.cache_dir)

    assert first_status is not None and True is first_status["running"]
    assert first_status == other.status()
    assert first_status["bootstrap"] == other.up()
    assert first_status == other.status()

    other.down()
    other.down()

    assert {
        "pid": None,
        "bootstrap": first_status["bootstrap"],
        "running": False,
        "log_file": first_status["log_file"],
    } == private_kafka.status()


def test_broker_logs_through_log4j_to_its_home(private_kafka: LocalKafka) -> None:
    """One slf4j 2 API bound to one Log4j version sends the broker log to logs/server.log."""
    jars = sorted(path.name for path in (private_kafka.cache_dir / "libs").glob("*.jar"))
    slf4j = [jar for jar in jars if jar.startswith("slf4j-")]
    log4j_versions = {
        jar.rsplit("-", 1)[1] for jar in jars if jar.startswith("log4j-") and "slf4j" not in jar
    }
    binding = [jar for jar in jars if jar.startswith("log4j-slf4j2-impl-")]

    assert 1 == len(slf4j) and slf4j[0].startswith("slf4j-api-2.")
    assert 1 == len(log4j_versions)
    assert [f"log4j-slf4j2-impl-{next(iter(log4j_versions))}"] == binding
    assert "Kafka Server started" in private_kafka.log_file.read_text()
    assert "" == private_kafka.stdout_file.read_text()


def test_broker_that_exits_at_start_raises_with_its_log(tmp_path: Path) -> None:
    """A broker that dies during start-up is a KafkaStartError quoting the broker log."""
    broker = LocalKafka(tmp_path / "kafka", JAR_CACHE)
    broker.data_dir.mkdir(parents=True)
    (broker.data_dir / "meta.properties").write_text(
        "version=1\nnode.id=7\ncluster.id=MkU3OEVBNTcwNTJENDM2Qg\n"
        "directory.id=Y3G2eu2tRhyIf0Tcv6LjCA\n"
    )

    with pytest.raises(KafkaStartError, match="Stored node id 7") as raised:
        start_local_kafka(broker)

    assert broker.log_file == raised.value.log_file
    assert str(broker.log_file) in str(raised.value)
    status = broker.status()
    assert status is not None and False is status["running"]


def read_cluster_id(broker: LocalKafka) -> str:
    state = broker.read_state()
    assert state is not None
    return state.cluster_id
