"""LMS sync throughput: the sandbox OneRoster provider through the sync runner into Kafka.

Starts a local Kafka broker (or uses `--bootstrap`) and the sandbox web server in its own
process for one tenant of `--scale` people, runs a full sync of the OneRoster source
(connector → fingerprints → SQLite state store → idempotent producer with acks=all),
then, in the same run and against the same broker, sends the same number of equally
sized messages with a bare kafka-python producer of the same durability settings.
Prints enrollments per second and the ratio of the hub's rate to the bare producer's.

    .venv/bin/python bench/lms.py --scale 20000
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import requests
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic

from hub.kafka_io import Publisher, ensure_topics, entity_topic
from hub.kafka_local import LocalKafka, default_cache_dir
from hub.logging import configure
from hub.sandbox.oneroster import client_credentials, oneroster_source_config, secret_env
from hub.sandbox.webserver import start_detached, stop_detached
from hub.settings import HubSettings, parse_settings
from hub.sources import entity_types_of
from hub.store import StateStore
from hub.sync import SyncReport, SyncRunner
from schemas.lms import Enrollment

REPO = Path(__file__).resolve().parents[1]
TENANT = "benchby"


def _settings(
    bootstrap: str, base_url: str, store: Path, prefix: str, page_size: int
) -> HubSettings:
    source = oneroster_source_config(TENANT, base_url, page_size=page_size)
    return parse_settings(
        {
            "kafka": {"bootstrap": bootstrap, "topic_prefix": prefix, "partitions": 3,
                      "batch_size": 2000},
            "database_url": f"sqlite:///{store}",
            "tenants": [{"id": TENANT, "name": "Benchby kommune", "sources": [source],
                         "deletion_guard": {"max_deletes": 1_000_000, "max_share": 1.0}}],
        }
    )  # fmt: skip


def _sample_sizes(bootstrap: str, topic: str, count: int = 2000) -> tuple[int, int]:
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


def _bare_producer(
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
        producer.send(topic, key=f"{TENANT}:enrollment:{n}".encode(), value=value, headers=headers)
    producer.flush()
    elapsed = time.monotonic() - started
    producer.close()
    return elapsed


def _count(base_url: str, secret: str, collection: str) -> int:
    token = requests.post(
        f"{base_url}/oauth/token", data={"grant_type": "client_credentials"},
        auth=(f"skolehub-{TENANT}", secret), timeout=30,
    ).json()["access_token"]  # fmt: skip
    response = requests.get(
        f"{base_url}/ims/oneroster/rostering/v1p2/{collection}", params={"limit": 1},
        headers={"Authorization": f"Bearer {token}"}, timeout=30,
    )  # fmt: skip
    return int(response.headers["X-Total-Count"])


def _sync(settings: HubSettings, store: StateStore, publisher: Publisher, **kw: Any) -> SyncReport:
    report = SyncRunner(settings, store, publisher).sync(TENANT, "oneroster", **kw)
    if report.status != "success":
        raise SystemExit(f"the sync failed: {report.error}")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--scale", type=int, default=20_000, help="people in the tenant")
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--bootstrap", help="an existing broker (default: start a local one)")
    args = parser.parse_args(argv)
    configure(fmt="console", level="warning")

    work = Path(tempfile.mkdtemp(prefix="skolehub-bench-lms-"))
    broker = None if args.bootstrap else LocalKafka(work / "kafka", default_cache_dir(REPO / "var"))
    web = work / "web"
    started = time.monotonic()
    try:
        bootstrap = args.bootstrap or broker.up()  # type: ignore[union-attr]
        state = start_detached(web, tenants=[TENANT], scale=args.scale)
        print(f"services up in {time.monotonic() - started:.1f} s (broker {bootstrap}, "
              f"sandbox {state['url']})")  # fmt: skip
        secret = client_credentials(web, [TENANT])[TENANT][1]
        os.environ[secret_env(TENANT)] = secret
        os.environ.setdefault("HUB_HMAC_KEY", uuid.uuid4().hex)
        base_url = f"{state['url']}/{TENANT}/oneroster"
        enrollments = _count(base_url, secret, "enrollments")
        users = _count(base_url, secret, "users")

        prefix = f"bench{uuid.uuid4().hex[:8]}"
        settings = _settings(bootstrap, base_url, work / "hub.db", prefix, args.page_size)
        types = entity_types_of(settings.tenants[0].sources[0])
        ensure_topics(bootstrap, settings.kafka, types)
        store = StateStore(settings.store_url)
        publisher = Publisher(bootstrap, settings.kafka)
        try:
            began = time.monotonic()
            full = _sync(settings, store, publisher)
            full_seconds = time.monotonic() - began
            began = time.monotonic()
            again = _sync(settings, store, publisher)
            incremental_seconds = time.monotonic() - began
        finally:
            publisher.close()
            store.close()

        topic = entity_topic(prefix, Enrollment)
        value_size, header_size = _sample_sizes(bootstrap, topic)
        bare_topic = f"{prefix}.bare"
        admin = KafkaAdminClient(bootstrap_servers=bootstrap)
        admin.create_topics([NewTopic(bare_topic, settings.kafka.partitions, 1)])
        admin.close()
        bare_seconds = _bare_producer(bootstrap, bare_topic, full.created, value_size, header_size)

        hub_rate = full.created / full_seconds
        bare_rate = full.created / bare_seconds
        print(
            f"tenant {TENANT}: scale {args.scale:,}, {users:,} users, "
            f"{enrollments:,} enrollments, page size {args.page_size}"
        )
        print(
            f"hub full sync:   {full.created:,} events in {full_seconds:.1f} s = "
            f"{hub_rate:,.0f} events/s = {enrollments / full_seconds:,.0f} enrollments/s"
        )
        print(
            f"bare producer:   {full.created:,} messages of {value_size} B "
            f"(+{header_size} B headers) in {bare_seconds:.1f} s = {bare_rate:,.0f} msgs/s"
        )
        print(
            f"ratio hub/bare:  {hub_rate / bare_rate:.3f} "
            f"(the hub sustains {hub_rate / bare_rate:.1%} of a bare producer's rate)"
        )
        print(f"incremental run: {again.unchanged:,} records re-read (overlap), "
              f"{again.created + again.updated} changes, {incremental_seconds:.1f} s")  # fmt: skip
        return 0
    finally:
        stop_detached(web)
        if broker is not None:
            broker.down()


if __name__ == "__main__":
    sys.exit(main())
