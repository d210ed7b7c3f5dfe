"""Publish throughput of the sync runner against a bare kafka-python producer, in one run.

Generates a sandbox tenant of `--people` people, loads it into a private slapd, starts a
private Kafka broker, then measures on the same broker:

1. the first sync through the hub (read LDAP, fingerprint, stage, publish with acks=all,
   commit state), in change events per second;
2. a bare kafka-python producer with the hub's producer settings
   (`hub.kafka_io.producer_tuning`) sending as many messages, copies of records the hub
   published (the same values and headers; keys made distinct), in messages per second;
3. a second, unchanged sync, as a ratio of the first sync's time: with the source's
   `incremental` setting on, it reads only the people changed since the first sync
   (`modifyTimestamp`), as every run between two full reads does; and, for comparison,
   an unchanged run forced to read in full;
and prints the process's peak RSS and the CPU time of the first sync and of the bare
producer (wall-clock ratios on a machine shared with other work swing with its load).
Last, a second first sync of the same directory (its own store and topics) runs under
cProfile, and its CPU time is printed by library (`bench/_harness.py`,
`profile_by_library`): how much is the LDAP client, the Kafka client, the store, and the
hub's own mapping and guards.
Run: `make bench` or `.venv/bin/python bench/publish.py`.

The directory is loaded as a directory in service looks: entries last modified at
different times, the newest a day ago (`load_with_old_stamps`).
"""

from __future__ import annotations

import argparse
import os
import resource
import secrets
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from _harness import (
    kafka_broker,
    profile_by_library,
    replay_producer,
    sample_records,
    tenant_settings,
)

from hub.dev.sandbox.ldif import format_entry, owner_entries, tenant_dn
from hub.dev.sandbox.population import generate
from hub.dev.sandbox.slapd import SlapdServer
from hub.kafka_io import OutRecord, Publisher, ensure_topics, producer_tuning
from hub.settings import parse_settings
from hub.store import StateStore
from hub.sync import SyncRunner
from schemas import ENTITY_TYPES


class MeasuringPublisher(Publisher):
    """A publisher that counts the records and value bytes it publishes."""

    records = 0
    value_bytes = 0

    def publish(self, records: list[OutRecord]) -> None:  # type: ignore[override]  # noqa: D102
        super().publish(records)
        for record in records:
            if record.value is not None:
                self.records += 1
                self.value_bytes += len(record.value)


def load_with_old_stamps(slapd: SlapdServer, owner: Any, path: Path) -> None:
    """Load the tenant as a directory in service: entries last modified a minute apart.

    The newest entry was modified a day ago, each one before it a minute earlier (slapadd
    keeps given stamps). Loaded with one stamp, every entry would sit inside the
    incremental read's overlap window before the newest stamp.
    """
    entries = list(owner_entries(owner, suffix=slapd.suffix))
    newest = datetime.now(UTC) - timedelta(days=1)
    with path.open("w", encoding="utf-8", newline="\n") as out:
        for n, (dn, attributes) in enumerate(entries):  # parents first, as slapadd needs
            age = timedelta(minutes=len(entries) - 1 - n)
            stamp = (newest - age).strftime("%Y%m%d%H%M%SZ")
            out.write(format_entry(dn, [*attributes, ("modifyTimestamp", stamp)]))
    slapd.load_ldif(path)


def profile_first_sync(bootstrap: str, work: Path, source: dict[str, Any], name: str) -> Any:
    """Profile a first sync of the same directory into a store and topics of its own."""
    settings = tenant_settings(
        bootstrap, work / "profiled.db", tenant="benchmark", name=name, sources=[source],
        prefix="profiled",
    )  # fmt: skip
    ensure_topics(bootstrap, settings.kafka, ENTITY_TYPES)
    store = StateStore(settings.store_url)
    publisher = Publisher(bootstrap, settings.kafka)
    try:
        report, profile = profile_by_library(
            lambda: SyncRunner(settings, store, publisher).sync("benchmark", "feide")
        )
        assert report.status == "success", report.error
        return profile
    finally:
        publisher.close()
        store.close()


def main() -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=20_000, help="sandbox people (scale)")
    args = parser.parse_args()
    os.environ.setdefault("HUB_HMAC_KEY", secrets.token_urlsafe(32))
    work = Path(tempfile.mkdtemp(prefix="skolehub-bench-"))
    slapd = SlapdServer(work / "slapd")
    started = time.perf_counter()
    with kafka_broker(work) as bootstrap:
        try:
            owner = generate("benchmark", args.people, 1)
            load_with_old_stamps(slapd, owner, work / "tenant.ldif")
            slapd.start()
            print(
                f"setup: {owner.person_count:,} people loaded and broker up in "
                f"{time.perf_counter() - started:.1f} s"
            )
            os.environ["BENCH_LDAP_PASSWORD"] = slapd.reader_password
            source = {
                "type": "feide_ldap",
                "id": "feide",
                "uri": slapd.uri,
                "base_dn": tenant_dn("benchmark", slapd.suffix),
                "bind_dn": slapd.reader_dn,
                "secret": {"env": "BENCH_LDAP_PASSWORD"},
                "page_size": 1000,
                "incremental": True,
            }
            settings = tenant_settings(
                bootstrap,
                work / "hub.db",
                tenant="benchmark",
                name=owner.name,
                sources=[source],
                prefix="bench",
            )
            ensure_topics(bootstrap, settings.kafka, ENTITY_TYPES)
            store = StateStore(settings.store_url)
            publisher = MeasuringPublisher(bootstrap, settings.kafka)
            runner = SyncRunner(settings, store, publisher)

            t0, c0 = time.perf_counter(), time.process_time()
            first = runner.sync("benchmark", "feide")
            first_seconds = time.perf_counter() - t0
            first_cpu = time.process_time() - c0
            assert first.status == "success", first.error
            events = publisher.records
            average = publisher.value_bytes // max(events, 1)

            t0 = time.perf_counter()
            second = runner.sync("benchmark", "feide")
            second_seconds = time.perf_counter() - t0
            assert second.status == "success" and second.created == 0, second.error
            assert not second.full, "the unchanged re-sync was meant to be incremental"
            t0 = time.perf_counter()
            third = runner.sync("benchmark", "feide", full=True)
            full_seconds = time.perf_counter() - t0
            assert third.status == "success" and third.created == 0, third.error
            publisher.close()
            store.close()
            profile = profile_first_sync(bootstrap, work, source, owner.name)
            hub_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

            admin_topics = parse_settings(
                {
                    "kafka": {"bootstrap": bootstrap, "topic_prefix": "bare", "partitions": 3},
                    "tenants": [],
                }
            )
            ensure_topics(bootstrap, admin_topics.kafka, ENTITY_TYPES[:1])
            bare_topic = "bare.identity.organisation.v2"
            samples = sample_records(bootstrap, first.topics)
            c0 = time.process_time()
            bare_seconds = replay_producer(bootstrap, bare_topic, samples, events, settings.kafka)
            bare_cpu = time.process_time() - c0

            hub_rate = events / first_seconds
            bare_rate = events / bare_seconds
            rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(
                f"entities: {events:,} change events "
                f"({first.created:,} created: people, groups, memberships, units), "
                f"average value {average} bytes"
            )
            print(f"producer settings (hub and bare): {producer_tuning(settings.kafka)}")
            print(f"hub sync, first run:     {first_seconds:8.2f} s  {hub_rate:10,.0f} events/s")
            print(
                f"bare producer, same n:   {bare_seconds:8.2f} s  {bare_rate:10,.0f} messages/s "
                f"(the hub's records, {len(samples):,} sampled, sent again)"
            )
            print(f"ratio hub / bare producer throughput: {hub_rate / bare_rate:.3f}")
            print(
                f"CPU seconds of this process (all threads): hub {first_cpu:.2f}, bare "
                f"{bare_cpu:.2f}; ratio bare / hub: {bare_cpu / first_cpu:.3f} (a check on the "
                "wall-clock ratio on a busy machine; slapd's and the broker's CPU not counted)"
            )
            print(
                f"hub sync, unchanged run (incremental): {second_seconds:8.2f} s  "
                f"ratio to first run: {second_seconds / first_seconds:.3f} "
                f"({second.records_read:,} records read)"
            )
            print(
                f"hub sync, unchanged run (full read):   {full_seconds:8.2f} s  "
                f"ratio to first run: {full_seconds / first_seconds:.3f} "
                f"({third.records_read:,} records read)"
            )
            print("where the first sync's CPU time goes (a second first sync, profiled):")
            for bucket, seconds, share in profile.rows():
                print(f"  {share:6.1%}  {seconds:7.2f} s  {bucket}")
            print(
                f"peak RSS after the hub's syncs: {hub_rss_mib:,.0f} MiB; "
                f"after the bare producer too: {rss_mib:,.0f} MiB"
            )
            return 0
        finally:
            slapd.stop()


if __name__ == "__main__":
    sys.exit(main())
