"""What the benchmarks share: a broker, one tenant's settings, and the bare-producer baseline.

Each benchmark measures the hub against a bare kafka-python producer with the hub's own
producer settings (`hub.kafka_io.producer_tuning`: acks=all, idempotent, the same linger,
batch size and compression) sending as many messages to the same broker, in the same run:
either copies of records the hub published (`replay_producer`: the same keys, values and
headers) or messages of the same average sizes (`bare_producer`).
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from hub.dev.kafka_local import LocalKafka, default_cache_dir  # noqa: E402
from hub.kafka_io import producer_tuning  # noqa: E402
from hub.settings import HubSettings, KafkaSettings, parse_settings  # noqa: E402
from hub.store import StateStore  # noqa: E402
from hub.sync import SyncReport, SyncRunner  # noqa: E402


@contextmanager
def kafka_broker(work: Path, bootstrap: str | None = None) -> Iterator[str]:
    """The bootstrap of `bootstrap`, or of a local broker under `work` that stops after."""
    if bootstrap:
        yield bootstrap
        return
    broker = LocalKafka(work / "kafka", default_cache_dir(ROOT / "var"))
    try:
        yield broker.up()
    finally:
        broker.down()


def tenant_settings(
    bootstrap: str,
    store: Path,
    *,
    tenant: str,
    name: str,
    sources: Sequence[dict[str, Any]],
    prefix: str,
    batch_size: int | None = None,
) -> HubSettings:
    """Settings of one tenant with these sources, its deletion guard out of the way."""
    kafka: dict[str, Any] = {"bootstrap": bootstrap, "topic_prefix": prefix, "partitions": 3}
    if batch_size is not None:
        kafka["batch_size"] = batch_size
    return parse_settings(
        {
            "kafka": kafka,
            "database_url": f"sqlite:///{store}",
            "tenants": [
                {
                    "id": tenant,
                    "name": name,
                    "sources": list(sources),
                    "deletion_guard": {"max_deletes": 10**9, "max_share": 1.0},
                }
            ],
        }
    )


def sync(
    settings: HubSettings, store: StateStore, publisher: Any, tenant: str, source: str
) -> SyncReport:
    """One sync of a tenant's source; a failure ends the benchmark."""
    report = SyncRunner(settings, store, publisher).sync(tenant, source)
    if report.status != "success":
        raise SystemExit(f"the {source} sync failed: {report.error}")
    return report


def sample_sizes(bootstrap: str, topic: str, count: int = 2000) -> tuple[int, int]:
    """Mean value size and mean header size of up to `count` records of a topic."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        values: list[int] = []
        headers: list[int] = []
        deadline = time.monotonic() + 30
        while len(values) < count and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                for record in batch:
                    if record.value is not None:
                        values.append(len(record.value))
                        headers.append(sum(len(k) + len(v) for k, v in record.headers))
        return int(statistics.mean(values)), int(statistics.mean(headers))
    finally:
        consumer.close()


def bare_producer(
    bootstrap: str,
    topic: str,
    messages: int,
    value_size: int,
    header_size: int = 0,
    *,
    key_prefix: str = "k",
    kafka: KafkaSettings | None = None,
) -> float:
    """Seconds a bare producer with the hub's settings needs for `messages` such messages."""
    value = b"x" * value_size
    headers = [("ce_id", b"h" * max(1, header_size - 5))] if header_size else []
    samples = [Sample(key_prefix.encode(), value, headers)]
    return replay_producer(bootstrap, topic, samples, messages, kafka)


@dataclass(frozen=True)
class Sample:
    """One record to send again: its key, value and headers."""

    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


def sample_records(bootstrap: str, topics: Sequence[str], count: int = 2000) -> list[Sample]:
    """Up to `count` records (tombstones left out) from the start of `topics`, in turn."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        partitions = [
            TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t) or ()
        ]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        samples: list[Sample] = []
        deadline = time.monotonic() + 30
        while len(samples) < count and time.monotonic() < deadline:
            if all(consumer.position(tp) >= ends[tp] for tp in partitions):
                break
            for batch in consumer.poll(timeout_ms=500, max_records=count).values():
                for r in batch:
                    if r.value is not None and len(samples) < count:
                        samples.append(Sample(r.key or b"", r.value, list(r.headers)))
        return samples
    finally:
        consumer.close()


def replay_producer(
    bootstrap: str,
    topic: str,
    samples: Sequence[Sample],
    messages: int,
    kafka: KafkaSettings | None = None,
) -> float:
    """Seconds a bare producer with the hub's producer settings needs to send `messages`.

    It sends the samples in turn, each key made distinct with a running number, and waits
    for every acknowledgement, as the hub's publisher does.
    """
    producer = KafkaProducer(
        bootstrap_servers=bootstrap, **producer_tuning(kafka or KafkaSettings())
    )
    producer.send(topic, key=b"warm-up", value=b"{}").get(timeout=30)  # connected, metadata
    started = time.perf_counter()
    futures = []
    for n in range(messages):
        sample = samples[n % len(samples)]
        futures.append(
            producer.send(
                topic, key=sample.key + b"#%d" % n, value=sample.value, headers=sample.headers
            )
        )
    producer.flush()
    for future in futures:
        future.get(timeout=0)
    elapsed = time.perf_counter() - started
    producer.close()
    return elapsed


@dataclass(frozen=True)
class BareRun:
    """The bare producer's run against the hub's: what it sent and how fast."""

    messages: int
    value_size: int
    header_size: int
    seconds: float

    @property
    def rate(self) -> float:
        """Messages per second."""
        return self.messages / self.seconds

    def lines(self, hub_rate: float) -> list[str]:
        """The bare producer's figures and the hub's rate as a share of it."""
        ratio = hub_rate / self.rate
        return [
            f"bare producer:   {self.messages:,} messages of {self.value_size} B "
            f"(+{self.header_size} B headers) in {self.seconds:.1f} s = {self.rate:,.0f} msgs/s",
            f"ratio hub/bare:  {ratio:.3f} "
            f"(the hub sustains {ratio:.1%} of a bare producer's rate)",
        ]


def compare_with_bare(
    bootstrap: str, settings: HubSettings, topic: str, messages: int, *, key_prefix: str
) -> BareRun:
    """Send `messages` copies of `topic`'s records (keys made distinct) to a new topic.

    The copies keep the records' values and headers, so compression treats the bare
    producer's batches as it treats the hub's; the new topic is `<prefix>.bare`.
    """
    samples = sample_records(bootstrap, [topic])
    value_size = int(statistics.mean(len(s.value) for s in samples))
    header_size = int(statistics.mean(sum(len(k) + len(v) for k, v in s.headers) for s in samples))
    bare_topic = f"{settings.kafka.topic_prefix}.bare"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(bare_topic, settings.kafka.partitions, 1)])
    admin.close()
    keyed = [Sample(key_prefix.encode() + s.key, s.value, s.headers) for s in samples]
    seconds = replay_producer(bootstrap, bare_topic, keyed, messages, settings.kafka)
    return BareRun(messages, value_size, header_size, seconds)
