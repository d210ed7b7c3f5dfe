"""The compiler materialises topics into the reporting store, crash-safe, on two databases."""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from pathlib import Path
from typing import Any

import ldap3
import pytest
import sqlalchemy as sa

from hub.leases import Lease
from hub.materialise import (
    Materialiser,
    entity_topic_pattern,
    materialised_rows,
    report_entities,
    report_offsets,
)
from hub.store import now
from schemas.envelope import RecordKey
from tests.support import Hub

pytestmark = pytest.mark.integration


@pytest.fixture
def published(
    directory: Any,
    kafka_bootstrap: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    ldap_admin: ldap3.Connection,
) -> Hub:
    """A tenant synced, then changed and partly deleted: c, u, d and tombstones on the topics."""
    monkeypatch.setenv("TEST_LDAP_PASSWORD", directory.server.reader_password)
    hub = Hub(directory, kafka_bootstrap, tmp_path)
    hub.sync()
    people = [p for p in directory.owner.people() if p.has_feide_account]
    for person in people[:3]:
        dn = f"uid={person.username},{directory.people_dn}"
        assert ldap_admin.modify(dn, {"mail": [(ldap3.MODIFY_REPLACE, ["endret@example.no"])]})
    for person in people[3:5]:
        assert ldap_admin.delete(f"uid={person.username},{directory.people_dn}")
    assert "success" == hub.sync().status
    yield hub
    hub.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'report.db'}"
    return str(request.getfixturevalue("fresh_postgres_url"))


def _crash_in_second_batch(url: str, bootstrap: str, prefix: str) -> None:
    """Run in a child process: materialise, and die (no clean-up) mid-way through batch two."""
    engine = sa.create_engine(url)
    materialiser = Materialiser(engine, bootstrap, prefix, group="g", batch_size=300)
    batches = {"n": 0}

    def crash(row: int) -> None:
        if row == 0:
            batches["n"] += 1
        if batches["n"] == 2 and row == 150:
            os._exit(17)  # like kill -9: the open transaction is never committed

    materialiser.on_row = crash
    materialiser.run()
    os._exit(0)


def test_crash_mid_batch_then_restart_equals_clean_replay(
    published: Hub, store_url: str, monkeypatch: pytest.MonkeyPatch
):
    """A compiler killed mid-batch and restarted leaves exactly what a clean replay leaves."""
    monkeypatch.setenv("HUB_LEASE_TTL_SECONDS", "1")  # the dead child's lease lapses soon
    prefix = published.settings.kafka.topic_prefix
    bootstrap = published.bootstrap
    child = multiprocessing.get_context("fork").Process(
        target=_crash_in_second_batch, args=(store_url, bootstrap, prefix)
    )
    child.start()
    child.join(120)
    assert 17 == child.exitcode

    engine = sa.create_engine(store_url)
    stored = Materialiser(engine, bootstrap, prefix, group="g").stored_offsets()
    assert 300 == sum(stored.values())  # exactly the first, committed batch
    _wait_for_expiry(engine, "materialise:g")
    resumed = Materialiser(engine, bootstrap, prefix, group="g").run()
    total = len(published.records()) - sum(1 for r in published.records() if "dlq" in r.topic)
    assert total - 300 == resumed.records

    after_crash = materialised_rows(engine)

    with engine.begin() as conn:  # a clean replay from the beginning, in the same database
        conn.execute(report_entities.delete())
        conn.execute(report_offsets.delete())
    Materialiser(engine, bootstrap, prefix, group="g").run()
    assert materialised_rows(engine) == after_crash
    assert _replay_rows(published) == after_crash
    engine.dispose()


def _wait_for_expiry(engine: sa.Engine, name: str, timeout: float = 30.0) -> None:
    """Poll until the lease a dead process left behind has expired."""
    deadline = time.monotonic() + timeout
    while (info := Lease(engine, name).info()) is not None and info.expires_at > now():
        assert time.monotonic() < deadline, f"{name} did not expire"
        time.sleep(0.2)


def _replay_rows(hub: Hub) -> list[tuple[Any, ...]]:
    """Expected rows computed from the topics directly: the latest non-deleted value per key."""
    latest: dict[tuple[str, str, str, str], tuple[Any, ...]] = {}
    for record in sorted(hub.records(), key=lambda r: (r.topic, r.partition, r.offset)):
        if not entity_topic_pattern(hub.settings.kafka.topic_prefix).match(record.topic):
            continue
        if record.value is None:
            continue
        value = json.loads(record.value)
        body = value["after"] or value["before"]
        ident = (
            body["tenant"],
            RecordKey.parse(record.key).entity,
            f"{body['source']['system']}/{body['source']['instance']}",
            body["key"],
        )
        if value["op"] == "d":
            latest.pop(ident, None)
        else:
            latest[ident] = (
                *ident,
                json.dumps(body, sort_keys=True, ensure_ascii=False),
                record.headers["ce_id"].decode(),
            )
    return [latest[k] for k in sorted(latest)]


def test_materialised_state_matches_the_state_store(published: Hub, tmp_path: Path):
    """After a pass, the reporting store holds what the sync's state store holds, no more."""
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'r.db'}")
    progress = Materialiser(
        engine, published.bootstrap, published.settings.kafka.topic_prefix
    ).run()
    assert progress.deletes >= 2
    rows = materialised_rows(engine)
    assert published.store.count(published.tenant, "feide") == len(rows)
    again = Materialiser(engine, published.bootstrap, published.settings.kafka.topic_prefix).run()
    assert 0 == again.records
    engine.dispose()


def test_topic_pattern_skips_the_dead_letter_topic():
    """Entity topics match; the DLQ and foreign prefixes do not."""
    pattern = entity_topic_pattern("hub")
    assert pattern.match("hub.identity.person.v2")
    assert pattern.match("hub.mdm.device.v2")
    assert not pattern.match("hub.dlq.v1")
    assert not pattern.match("other.identity.person.v2")


def test_an_event_larger_than_the_fetch_limit_is_still_materialised(
    kafka_bootstrap: str, tmp_path: Path
):
    """The materialiser's fetch limit (256 KiB a partition) does not stall on a larger event.

    Kafka returns a record batch whole even when it is larger than the consumer's limits,
    so a 400 KB entity between small ones is read, and so is everything after it.
    """
    from kafka import KafkaProducer
    from kafka.admin import KafkaAdminClient, NewTopic

    from hub.kafka_security import TOPIC_READER_FETCH
    from schemas.envelope import Op, encode_change

    large = 400 * 1024
    assert large > TOPIC_READER_FETCH["max_partition_fetch_bytes"]
    prefix = f"fetch{os.getpid()}"
    topic = f"{prefix}.identity.person.v1"
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, linger_ms=0)
    notes = {"p1": "small", "p2": "x" * large, "p3": "small after the large one"}
    for key, note in notes.items():
        entity = {"source": {"system": "feide_ldap", "instance": "feide"}, "key": key, "note": note}
        record_key = str(RecordKey("t1", "feide", "person", key))
        value = encode_change(Op.CREATED, None, json.dumps(entity))
        producer.send(topic, key=record_key.encode(), value=value).get(timeout=30)
    producer.close()

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'report.db'}")
    progress = Materialiser(engine, kafka_bootstrap, prefix, group="g").run(timeout=30)
    assert (3, 0) == (progress.records, progress.skipped)
    stored = {row[3]: json.loads(row[4])["note"] for row in materialised_rows(engine)}
    assert notes == stored
    engine.dispose()
