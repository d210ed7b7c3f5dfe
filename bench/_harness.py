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


#: Where a function's own time is counted, by the file it is defined in (first match).
PROFILE_BUCKETS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("LDAP client (ldap3: receive, BER decode, attribute dicts)", ("/ldap3/",)),
    ("Kafka client (kafka-python: send, batch, partition; fetch, decode)", ("/kafka/",)),
    ("store (SQLAlchemy, sqlite3)", ("/sqlalchemy/", "sqlite3")),
    ("validation (pydantic)", ("/pydantic", "pydantic_core")),
    ("identity-number guard (connectors/privacy.py)", ("connectors/privacy.py",)),
    ("mapping (connectors/, schemas/)", ("/connectors/", "/schemas/")),
    ("runner (hub/: fingerprint, stage, events)", ("/hub/",)),
)
#: What `_owners` cannot trace to one of the buckets above.
UNTRACED = "standard library, not traced to a caller above"


def _bucket(function: tuple[str, int, str]) -> str | None:
    """The bucket of a function defined in a library or in the hub; None for the stdlib."""
    filename, _line, name = function
    if "/lib/python3" in filename and "site-packages" not in filename:
        return None  # the standard library works for whoever called it
    if filename == "~" and "sqlite3" not in name and "pydantic_core" not in name:
        return None  # a built-in (isinstance, len, str.encode, hashlib…): likewise
    where = f"{filename}:{name}"
    return next((b for b, marks in PROFILE_BUCKETS if any(m in where for m in marks)), None)


def _owners(
    function: tuple[str, int, str], stats: dict[Any, Any], memo: dict[Any, dict[str, float]]
) -> dict[str, float]:
    """Shares of `function`'s own time per bucket: its own, or its callers' by their calls.

    Standard-library and built-in functions are charged to whoever called them, in the
    proportion of the time each caller spent in them, up the call graph until a caller
    belongs to a bucket (json.dumps called by the runner is the runner's time).
    """
    if function in memo:
        return memo[function]
    memo[function] = {UNTRACED: 1.0}  # a cycle back here stays untraced
    bucket = _bucket(function)
    if bucket is not None:
        memo[function] = {bucket: 1.0}
        return memo[function]
    callers = stats.get(function, (0, 0, 0, 0, {}))[4]
    weights = {caller: timing[2] for caller, timing in callers.items()}
    total = sum(weights.values())
    if not total:
        return memo[function]
    shares: dict[str, float] = {}
    for caller, weight in weights.items():
        for owner, share in _owners(caller, stats, memo).items():
            shares[owner] = shares.get(owner, 0.0) + share * weight / total
    memo[function] = shares
    return shares


@dataclass
class Profile:
    """A call's CPU time split by library: the main thread's own time, and other threads."""

    main_thread: dict[str, float]
    other_threads: float

    def rows(self) -> list[tuple[str, float, float]]:
        """(bucket, seconds, share of the process's CPU) rows, largest first."""
        rows = [
            *self.main_thread.items(),
            ("other threads (kafka-python's sender)", self.other_threads),
        ]
        total = sum(seconds for _, seconds in rows) or 1.0
        return sorted(((b, s, s / total) for b, s in rows), key=lambda r: -r[1])


def profile_by_library(call: Any) -> tuple[Any, Profile]:
    """Run `call()` under cProfile and sum each function's own time into `PROFILE_BUCKETS`.

    cProfile sees only the thread it runs in; the CPU time of the process's other threads
    in the same span (kafka-python's sender thread: network, compression) is the process
    CPU time less the main thread's. Profiling slows Python code about twice, so the
    seconds are the profile's, and the shares are what to read.
    """
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    process0, thread0 = time.process_time(), time.thread_time()
    profiler.enable()
    try:
        result = call()
    finally:
        profiler.disable()
    process, thread = time.process_time() - process0, time.thread_time() - thread0
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    buckets = {name: 0.0 for name, _ in PROFILE_BUCKETS} | {UNTRACED: 0.0}
    for function, (_cc, _nc, own, _cum, _callers) in stats.items():
        for bucket, share in _owners(function, stats, {}).items():
            buckets[bucket] += own * share
    # The profile's own time is the main thread's CPU time; scale it to what it measured.
    measured = sum(buckets.values()) or 1.0
    main = {name: seconds * thread / measured for name, seconds in buckets.items()}
    return result, Profile(main, max(process - thread, 0.0))
