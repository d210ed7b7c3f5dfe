"""MDM sync throughput: the sandbox Intune, Jamf Pro and Google through the sync runner into Kafka.

Starts a local Kafka broker (or uses `--bootstrap`) and the sandbox MDMs in a process of
their own (`python -m hub.sandbox.mdm`) for one tenant of `--scale` people, runs a full
sync of each MDM source (connector → fingerprints → SQLite state store → idempotent
producer with acks=all), then, in the same run and against the same broker, sends the
same number of equally sized messages with a bare kafka-python producer of the same
durability settings. Prints devices per second per source and in total, the ratio of the
hub's rate to the bare producer's, and the time of a second, unchanged sync.

    .venv/bin/python bench/mdm.py --scale 20000
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hub.kafka_io import Publisher, ensure_topics, entity_topic  # noqa: E402
from hub.kafka_local import LocalKafka, default_cache_dir  # noqa: E402
from hub.logging import configure  # noqa: E402
from hub.sandbox.mdm import mdm_source_configs, secrets_env  # noqa: E402
from hub.settings import HubSettings, parse_settings  # noqa: E402
from hub.store import StateStore  # noqa: E402
from hub.sync import SyncReport, SyncRunner  # noqa: E402
from schemas.mdm import Device  # noqa: E402

TENANT = "benchby"
SOURCES = ("intune", "jamf", "chromebooks")


def start_sandbox(home: Path, scale: int, timeout: float = 300.0) -> tuple[subprocess.Popen, str]:
    """The sandbox MDMs in a child process, and their URL once they listen."""
    state = home / "mdm-server.json"
    log = (home / "mdm-server.log").open("w")
    child = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
        [sys.executable, "-m", "hub.sandbox.mdm", "--home", str(home), "--tenants", TENANT,
         "--scale", str(scale)],
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
    )  # fmt: skip
    deadline = time.monotonic() + timeout
    while not state.exists():
        if child.poll() is not None or time.monotonic() > deadline:
            child.kill()
            raise SystemExit(f"the sandbox MDMs did not start; see {home / 'mdm-server.log'}")
        time.sleep(0.2)  # polling a child process's state file, with a deadline
    return child, str(json.loads(state.read_text())["url"])


def hub_settings(bootstrap: str, url: str, store: Path, prefix: str) -> HubSettings:
    """One tenant with its three MDM sources at their largest page sizes."""
    sources = mdm_source_configs(TENANT, url, page_size=2000, jamf_concurrency=5)
    return parse_settings(
        {
            "kafka": {"bootstrap": bootstrap, "topic_prefix": prefix, "partitions": 3,
                      "batch_size": 2000},
            "database_url": f"sqlite:///{store}",
            "tenants": [{"id": TENANT, "name": "Benchby kommune", "sources": sources,
                         "deletion_guard": {"max_deletes": 1_000_000, "max_share": 1.0}}],
        }
    )  # fmt: skip


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
    bootstrap: str, topic: str, messages: int, value_size: int, header_size: int
) -> float:
    """Seconds a bare idempotent producer (acks=all) needs for `messages` such messages."""
    producer = KafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=10,
        batch_size=256 * 1024, max_in_flight_requests_per_connection=5,
    )  # fmt: skip
    value = b"x" * value_size
    headers = [("ce_id", b"h" * max(1, header_size - 5))]
    started = time.monotonic()
    for n in range(messages):
        producer.send(topic, key=f"{TENANT}:device:{n}".encode(), value=value, headers=headers)
    producer.flush()
    elapsed = time.monotonic() - started
    producer.close()
    return elapsed


def sync(settings: HubSettings, store: StateStore, publisher: Publisher, source: str) -> SyncReport:
    """One sync; a failure ends the benchmark."""
    report = SyncRunner(settings, store, publisher).sync(TENANT, source)
    if report.status != "success":
        raise SystemExit(f"the {source} sync failed: {report.error}")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--scale", type=int, default=20_000, help="people in the tenant")
    parser.add_argument("--bootstrap", help="an existing broker (default: start a local one)")
    args = parser.parse_args(argv)
    configure(fmt="console", level="warning")

    work = Path(tempfile.mkdtemp(prefix="skolehub-bench-mdm-"))
    broker = None if args.bootstrap else LocalKafka(work / "kafka", default_cache_dir(ROOT / "var"))
    started = time.monotonic()
    child = None
    try:
        bootstrap = args.bootstrap or broker.up()  # type: ignore[union-attr]
        child, url = start_sandbox(work, args.scale)
        os.environ.update(secrets_env(work, [TENANT]))
        print(f"services up in {time.monotonic() - started:.1f} s (broker {bootstrap}, "
              f"sandbox {url})")  # fmt: skip
        prefix = f"bench{uuid.uuid4().hex[:8]}"
        settings = hub_settings(bootstrap, url, work / "hub.db", prefix)
        ensure_topics(bootstrap, settings.kafka, [Device])
        store = StateStore(settings.store_url)
        publisher = Publisher(bootstrap, settings.kafka)
        try:
            full: dict[str, tuple[SyncReport, float]] = {}
            for source in SOURCES:
                began = time.monotonic()
                full[source] = (sync(settings, store, publisher, source), time.monotonic() - began)
            began = time.monotonic()
            again = [sync(settings, store, publisher, source) for source in SOURCES]
            unchanged_seconds = time.monotonic() - began
        finally:
            publisher.close()
            store.close()

        devices = sum(report.created for report, _ in full.values())
        hub_seconds = sum(seconds for _, seconds in full.values())
        topic = entity_topic(prefix, Device)
        value_size, header_size = sample_sizes(bootstrap, topic)
        bare_topic = f"{prefix}.bare"
        admin = KafkaAdminClient(bootstrap_servers=bootstrap)
        admin.create_topics([NewTopic(bare_topic, settings.kafka.partitions, 1)])
        admin.close()
        bare_seconds = bare_producer(bootstrap, bare_topic, devices, value_size, header_size)

        hub_rate, bare_rate = devices / hub_seconds, devices / bare_seconds
        print(f"tenant {TENANT}: scale {args.scale:,}, {devices:,} devices in three MDMs")
        for source, (report, seconds) in full.items():
            print(f"  {source:<12} {report.created:>8,} devices in {seconds:6.1f} s = "
                  f"{report.created / seconds:>8,.0f} devices/s")  # fmt: skip
        print(f"hub full syncs:  {devices:,} devices in {hub_seconds:.1f} s = "
              f"{hub_rate:,.0f} devices/s")  # fmt: skip
        print(f"bare producer:   {devices:,} messages of {value_size} B (+{header_size} B "
              f"headers) in {bare_seconds:.1f} s = {bare_rate:,.0f} msgs/s")  # fmt: skip
        print(f"ratio hub/bare:  {hub_rate / bare_rate:.3f} (the hub sustains "
              f"{hub_rate / bare_rate:.1%} of a bare producer's rate)")  # fmt: skip
        print(f"unchanged run:   {sum(r.unchanged for r in again):,} devices read, "
              f"{sum(r.published for r in again)} published, {unchanged_seconds:.1f} s "
              f"({unchanged_seconds / hub_seconds:.2f} of the first)")  # fmt: skip
        return 0
    finally:
        if child is not None:
            child.terminate()
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
        if broker is not None:
            broker.down()


if __name__ == "__main__":
    sys.exit(main())
