"""Two materialisers or compiles at once: leases keep one, and the store stays a clean replay."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from kafka import KafkaAdminClient

from hub.followup import jobs
from hub.followup.publish import followup_published
from hub.followup.snapshots import SnapshotStore
from hub.kafka_io import OutRecord, Publisher, dumps, ensure_topics, entity_topic
from hub.leases import Lease, LeaseHeld, LeaseLost
from hub.materialise import Materialiser, materialised_rows
from hub.settings import HubSettings
from schemas.mdm import Device
from tests.support import consume_all, settings_for, unique_prefix
from tests.unit.followup import golden

pytestmark = pytest.mark.integration

TENANT = "lillevik"
INSTANCES = ("jamf", "jamf_lab")
KEYS = 40
BATCH = 50
#: The child's exit code when its fenced commit found the lease taken over.
LOST = 5


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'report.db'}"
    return str(request.getfixturevalue("fresh_postgres_url"))


@pytest.fixture
def settings(kafka_bootstrap: str, store_url: str) -> HubSettings:
    """Hub settings with topics of the test's own, their device topic holding a history.

    Two Jamf instances share every key; each key is created, updated twice, and every
    fifth key of the first instance deleted (an event, then a tombstone).
    """
    hub = settings_for(TENANT, [], kafka_bootstrap, store_url, unique_prefix())
    ensure_topics(kafka_bootstrap, hub.kafka, [Device])
    topic = entity_topic(hub.kafka.topic_prefix, Device)
    records = []
    for version in range(3):
        for instance in INSTANCES:
            for n in range(KEYS):
                records.append(_event(topic, instance, n, version))
    for n in range(0, KEYS, 5):
        key = f"{TENANT}:jamf:device:computers/{n}"
        deleted = {"op": "d", "before": _device("jamf", n, 2), "after": None, "changed": []}
        records.append(OutRecord(topic, key, dumps(deleted), [("ce_id", f"d-{n}".encode())]))
        records.append(OutRecord(topic, key, None, []))
    publisher = Publisher(kafka_bootstrap, hub.kafka)
    try:
        publisher.publish(records)
    finally:
        publisher.close()
    return hub


def _device(instance: str, n: int, version: int) -> dict[str, Any]:
    return {
        "tenant": TENANT,
        "source": {"system": "jamf_pro", "instance": instance},
        "key": f"computers/{n}",
        "serial": f"{instance}-{n}-v{version}",
    }


def _event(topic: str, instance: str, n: int, version: int) -> OutRecord:
    value = {"op": "u" if version else "c", "before": None, "after": _device(instance, n, version)}
    headers = [("ce_id", f"{instance}-{n}-{version}".encode())]
    return OutRecord(topic, f"{TENANT}:{instance}:device:computers/{n}", dumps(value), headers)


def _folded(settings: HubSettings) -> list[tuple[Any, ...]]:
    """The rows a store must hold, folded from the topic: latest value per key, no tombstones."""
    latest: dict[tuple[str, str], tuple[Any, ...]] = {}
    topic = entity_topic(settings.kafka.topic_prefix, Device)
    for record in sorted(consume_all(settings.bootstrap, [topic]), key=lambda r: r.offset):
        ident = (record.key.split(":")[1], record.key.split(":", 3)[3])
        value = json.loads(record.value) if record.value is not None else None
        if value is None or value["op"] == "d":
            latest.pop(ident, None)
            continue
        body = value["after"]
        latest[ident] = (
            TENANT,
            "device",
            f"jamf_pro/{ident[0]}",
            ident[1],
            json.dumps(body, sort_keys=True, ensure_ascii=False),
            record.headers["ce_id"].decode(),
        )
    return sorted(latest.values())


def _clean_replay(settings: HubSettings, tmp_path: Path) -> list[tuple[Any, ...]]:
    """What one materialiser alone makes of the topics in a fresh store."""
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'replay.db'}")
    try:
        Materialiser(engine, settings.bootstrap, settings.kafka.topic_prefix, group="g").run()
        return materialised_rows(engine)
    finally:
        engine.dispose()


def _end_offsets(settings: HubSettings) -> dict[tuple[str, int], int]:
    topic = entity_topic(settings.kafka.topic_prefix, Device)
    ends: dict[tuple[str, int], int] = {}
    for record in consume_all(settings.bootstrap, [topic]):
        ends[(record.topic, record.partition)] = max(
            record.offset + 1, ends.get((record.topic, record.partition), 0)
        )
    return ends


def _materialiser(settings: HubSettings, engine: sa.Engine) -> Materialiser:
    prefix = settings.kafka.topic_prefix
    return Materialiser(engine, settings.bootstrap, prefix, group="g", batch_size=BATCH)


def test_second_materialiser_at_once_is_skipped_and_store_equals_replay(
    settings: HubSettings, tmp_path: Path
):
    """A materialiser started while another runs gets `LeaseHeld`; the store is a clean replay."""
    engine = sa.create_engine(settings.store_url)
    first = _materialiser(settings, engine)
    inside, second_tried = threading.Event(), threading.Event()

    def wait_for_second(row: int) -> None:
        if not inside.is_set():
            inside.set()
            assert second_tried.wait(60), "the second materialiser never tried"

    first.on_row = wait_for_second
    failures: list[BaseException] = []

    def run_first() -> None:
        try:
            first.run()
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)

    thread = threading.Thread(target=run_first)
    thread.start()
    try:
        assert inside.wait(60), "the first materialiser never reached its first batch"
        with pytest.raises(LeaseHeld) as held:
            _materialiser(settings, engine).run()
        assert "materialise:g" == held.value.info.name
    finally:
        second_tried.set()
        thread.join(120)
    assert [] == failures
    assert _end_offsets(settings) == first.stored_offsets()
    assert _folded(settings) == materialised_rows(engine)
    assert _clean_replay(settings, tmp_path) == materialised_rows(engine)
    engine.dispose()


class _StallingMaterialiser(Materialiser):
    """Freezes its whole process (heartbeat included) before its second batch, as a VM pause."""

    batches = 0

    def _apply(self, *args: Any, **kwargs: Any) -> None:
        self.batches += 1
        if self.batches == 2:
            os.kill(os.getpid(), signal.SIGSTOP)
        super()._apply(*args, **kwargs)
        if self.batches == 2:
            os._exit(0)  # the stalled batch committed: stop here so the test sees its offsets


def _stall_in_second_batch(url: str, bootstrap: str, prefix: str) -> None:
    """Run in a child process: materialise with a short lease, freeze before batch two."""
    os.environ["HUB_LEASE_TTL_SECONDS"] = "1.5"
    engine = sa.create_engine(url)
    materialiser = _StallingMaterialiser(engine, bootstrap, prefix, group="g", batch_size=BATCH)
    try:
        materialiser.run()
    except LeaseLost:
        os._exit(LOST)
    os._exit(0)


def _wait_until(predicate: Any, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.05)


def _stopped(pid: int) -> bool:
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0] == "T"


def test_stalled_materialiser_cannot_commit_over_its_successor(
    settings: HubSettings, tmp_path: Path
):
    """A materialiser frozen past its lease's expiry finds it taken over: no offset goes back."""
    prefix = settings.kafka.topic_prefix
    child = multiprocessing.get_context("fork").Process(
        target=_stall_in_second_batch, args=(settings.store_url, settings.bootstrap, prefix)
    )
    child.start()
    engine = sa.create_engine(settings.store_url)
    try:
        assert child.pid is not None
        _wait_until(lambda: _stopped(child.pid), "the first materialiser froze")
        lease = Lease(engine, "materialise:g")
        _wait_until(
            lambda: (info := lease.info()) is None or info.expires_at < datetime.now(UTC),
            "the frozen materialiser's lease expired",
        )
        successor = _materialiser(settings, engine)
        successor.run()
        assert _end_offsets(settings) == successor.stored_offsets()
    finally:
        os.kill(child.pid, signal.SIGCONT)
        child.join(60)
    assert _end_offsets(settings) == successor.stored_offsets()  # not moved back by the child
    assert _folded(settings) == materialised_rows(engine)
    assert _clean_replay(settings, tmp_path) == materialised_rows(engine)
    assert LOST == child.exitcode
    engine.dispose()


@pytest.fixture
def golden_settings(kafka_bootstrap: str, tmp_path: Path) -> Iterator[HubSettings]:
    """Settings of the golden tenant whose store holds its entities, with topics of its own."""
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    engine = sa.create_engine(url)
    golden.write_entities(engine, golden.entities())
    engine.dispose()
    yield settings_for(
        golden.TENANT, [], kafka_bootstrap, url, unique_prefix(), policy=golden.POLICY
    )


def test_compile_while_the_tenant_lease_is_held_is_skipped_and_publishes_nothing(
    golden_settings: HubSettings,
):
    """A compile while another holds `compile:<tenant>` raises `LeaseHeld` and writes nothing."""
    engine = sa.create_engine(golden_settings.store_url)
    holder = Lease(engine, f"compile:{golden.TENANT}", holder="the other compile")
    with holder, pytest.raises(LeaseHeld) as held:
        jobs.compile_tenant(golden_settings, golden.TENANT)
    assert "the other compile" == held.value.info.holder
    assert [] == SnapshotStore(engine).days(golden.TENANT)
    followup_published.create(engine, checkfirst=True)
    with engine.connect() as conn:
        assert 0 == conn.scalar(sa.select(sa.func.count()).select_from(followup_published))
    followup_topics = [t for t in _topics(golden_settings) if ".followup." in t]
    assert [] == followup_topics

    released = jobs.compile_tenant(golden_settings, golden.TENANT)
    assert released.published is not None and 0 < released.published.created
    engine.dispose()


def _topics(settings: HubSettings) -> list[str]:
    admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap)
    try:
        prefix = f"{settings.kafka.topic_prefix}."
        return [t for t in admin.list_topics() if t.startswith(prefix)]
    finally:
        admin.close()
