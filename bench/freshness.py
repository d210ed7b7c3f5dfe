"""Freshness: how long a change in a source that pushes takes to reach Kafka (target p95 ≤ 60 s).

Starts a local Kafka broker (or uses `--bootstrap`), the sandbox SS 12000 API for one
Swedish tenant of `--scale` people and the hub's webhook receiver (`hub listen`'s
`Listener`, standalone mode: it syncs what a notification names). After a first full
sync the hub subscribes; then `--changes` people are renamed in the sandbox, one every
`--gap` seconds, through its control API (`POST /_sandbox/ss12000/<tenant>/modify`), which
notifies the subscription. A consumer of the person topic notes when each rename's `u`
event arrives. Prints the distribution of change → event on Kafka (p50, p95, max) against
the 60 s target, with where the time goes (notification delivery, sync) and the polling
bound for comparison (a polling source's change waits up to one schedule interval).

    .venv/bin/python bench/freshness.py --changes 30
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path

import requests
from _harness import kafka_broker, sync, tenant_settings
from kafka import KafkaConsumer, TopicPartition

from connectors.identity.ss12000 import SS12000
from hub.dev.sandbox.ss12000 import SS12000App, client_id, secret_env, ss12000_source_config
from hub.dev.sandbox.webserver import start_in_thread
from hub.kafka_io import Publisher, ensure_topics, entity_topic
from hub.logging import configure
from hub.push import ensure_subscriptions
from hub.push_receiver import Dispatcher, Listener, LocalSync, Receiver
from hub.store import StateStore
from schemas.entities import Person

TENANT = "solberga"
TARGET_SECONDS = 60.0
SECRET = "bench-push-secret-0123456789"  # noqa: S105 - a benchmark's own value


class Arrivals:
    """Consumes the person topic from its end and notes when each family name first arrives."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.seen: dict[str, float] = {}
        self._stop = threading.Event()
        self._consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        partitions = [
            TopicPartition(topic, p) for p in self._consumer.partitions_for_topic(topic) or ()
        ]
        self._consumer.assign(partitions)
        self._consumer.seek_to_end(*partitions)
        for tp in partitions:  # resolve the end offsets now, before any change is made
            self._consumer.position(tp)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for batch in self._consumer.poll(timeout_ms=200).values():
                arrived = time.time()
                for record in batch:
                    if record.value is None:
                        continue
                    value = json.loads(record.value)
                    name = (value.get("after") or {}).get("family_name")
                    if value["op"] == "u" and name and name not in self.seen:
                        self.seen[name] = arrived

    def close(self) -> None:
        """Stop consuming."""
        self._stop.set()
        self._thread.join(timeout=10)
        self._consumer.close()


def percentile(values: list[float], share: float) -> float:
    """The `share` quantile (nearest rank) of `values`."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(share * len(ordered) + 0.5) - 1))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--changes", type=int, default=30, help="renames to measure")
    parser.add_argument("--gap", type=float, default=1.0, help="seconds between renames")
    parser.add_argument("--scale", type=int, default=2000, help="people in the tenant")
    parser.add_argument("--bootstrap", help="an existing broker (default: start a local one)")
    parser.add_argument(
        "--poll-interval", type=float, default=3600.0, help="the polling schedule to compare"
    )
    args = parser.parse_args(argv)
    configure(level="warning")

    work = Path(tempfile.mkdtemp(prefix="skolehub-bench-freshness-"))
    secret = uuid.uuid4().hex
    os.environ[secret_env(TENANT)] = secret
    os.environ.setdefault("HUB_HMAC_KEY", "bench-hmac-key-0123456789abcdef")
    app = SS12000App.generate([TENANT], args.scale, clients={TENANT: (client_id(TENANT), secret)})
    server = start_in_thread({"ss12000": app})
    with kafka_broker(work, args.bootstrap) as bootstrap:
        source = ss12000_source_config(TENANT, server.base_url(TENANT, "ss12000"))
        settings = tenant_settings(
            bootstrap,
            work / "hub.db",
            tenant=TENANT,
            name="Solberga kommun",
            sources=[{**source, "subscribe": True}],
            prefix=f"bench{uuid.uuid4().hex[:8]}",
        )
        ensure_topics(bootstrap, settings.kafka, SS12000.entity_types)
        store = StateStore(settings.store_url)
        publisher = Publisher(bootstrap, settings.kafka)
        started = time.perf_counter()
        first = sync(settings, store, publisher, TENANT, "ss12000")
        first_seconds = time.perf_counter() - started
        publisher.close()
        store.close()

        changes = LocalSync(settings)
        listener = Listener(Receiver.for_settings(settings, SECRET, Dispatcher(changes))).start()
        (status,) = ensure_subscriptions(settings, listener.url, SECRET)
        if status.action != "created":
            raise SystemExit(f"subscribing failed: {status.error}")
        arrivals = Arrivals(bootstrap, entity_topic(settings.kafka.topic_prefix, Person))
        tenant = app.data[TENANT]
        control = f"{server.url}/_sandbox/ss12000/{TENANT}/modify"
        made: dict[str, float] = {}
        try:
            for n in range(args.changes):
                person = tenant.id_of("persons", (n * 37 + 11) % tenant.count("persons"))
                name = f"Färsk-{n:03d}"
                made[name] = time.time()
                answer = requests.post(
                    control,
                    json={"collection": "persons", "id": person, "changes": {"familyName": name}},
                    timeout=10,
                )
                answer.raise_for_status()
                time.sleep(args.gap)  # the pace of the changes, not a wait for a result
            deadline = time.monotonic() + 300
            while set(made) - set(arrivals.seen) and time.monotonic() < deadline:
                time.sleep(0.2)
        finally:
            arrivals.close()
            listener.stop()
            changes.close()
            server.stop()

    latencies = [arrivals.seen[name] - at for name, at in made.items() if name in arrivals.seen]
    missing = len(made) - len(latencies)
    deliveries = list(app.subscriptions.deliveries)
    notify = [d.sent_at - d.changed_at for d in deliveries]
    handled = listener.receiver.dispatcher.handled
    p50, p95, worst = (
        percentile(latencies, 0.5),
        percentile(latencies, 0.95),
        max(latencies, default=float("nan")),
    )
    print(
        f"freshness: {args.changes} renames in an SS 12000 register of {args.scale:,} people "
        f"(first full sync {first.created:,} entities in {first_seconds:.1f} s), one every "
        f"{args.gap:g} s"
    )
    print(
        f"change -> event on Kafka: p50 {p50:.2f} s, p95 {p95:.2f} s, max {worst:.2f} s, "
        f"mean {statistics.fmean(latencies):.2f} s ({len(latencies)} arrived, {missing} missing)"
    )
    print(
        f"  notifications sent: {len(deliveries)} (delivery p95 {percentile(notify, 0.95):.2f} s);"
        f" targeted syncs: {len(handled)} "
        f"({sum(1 for *_, s in handled if s == 'success')} succeeded)"
    )
    verdict = "met" if p95 <= TARGET_SECONDS and not missing else "NOT met"
    print(f"target p95 <= {TARGET_SECONDS:.0f} s: {verdict} (p95 / target = {p95 / 60:.3f})")
    print(
        f"polling (no push): a change waits up to one schedule interval, "
        f"{args.poll_interval:,.0f} s, plus the incremental sync"
    )
    return 0 if verdict == "met" else 1


if __name__ == "__main__":
    raise SystemExit(main())
