"""The golden tenant through the real pipeline: sync runner → Kafka → materialiser → compile.

On SQLite and on PostgreSQL; then the records are published to `hub.followup.*.v1` with
the entities' envelope, and published again without duplicates.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
import sqlalchemy as sa

from connectors.base import Item, Source
from hub.followup import compile_snapshot
from hub.followup.publish import publish_snapshot
from hub.kafka_io import Publisher, ensure_topics, entity_topic
from hub.materialise import Materialiser
from hub.settings import HubSettings
from hub.store import StateStore
from hub.sync import SyncRunner
from schemas.entities import Entity
from schemas.followup import FOLLOWUP_RECORD_TYPES
from tests.conftest import TEST_HMAC_KEY
from tests.support import consume_all, settings_for, unique_prefix
from tests.unit.followup import golden
from tests.unit.followup.test_golden import check_golden

pytestmark = pytest.mark.integration


class _Entities(Source):
    """An in-memory source: the golden tenant's entities of one system and instance."""

    name: ClassVar[str] = "test.golden"
    system: ClassVar[str] = "golden"
    entity_types: ClassVar[tuple[type[Entity], ...]] = ()

    def __init__(self, entities: list[Entity]) -> None:
        super().__init__(golden.TENANT, entities[0].source.instance)
        self.ref = entities[0].source
        self.entities = entities
        self.entity_types = tuple(dict.fromkeys(type(e) for e in entities))  # type: ignore[misc]

    def check(self) -> None:
        """Nothing to connect to."""

    def read(self) -> Iterator[Item]:
        """Every entity, in the order given."""
        yield from self.entities


def _sync_golden(settings: HubSettings, url: str) -> None:
    by_source: dict[str, list[Entity]] = {}
    for entity in golden.entities():
        by_source.setdefault(entity.source.instance, []).append(entity)
    ensure_topics(settings.bootstrap, settings.kafka, {type(e) for e in golden.entities()})
    store = StateStore(url)
    publisher = Publisher(settings.bootstrap, settings.kafka)
    try:
        runner = SyncRunner(settings, store, publisher)
        for instance, entities in by_source.items():
            report = runner.sync(golden.TENANT, instance, source=_Entities(entities))
            assert ("success", len(entities)) == (report.status, report.created)
    finally:
        publisher.close()
        store.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'hub.db'}"
    return str(request.getfixturevalue("fresh_postgres_url"))


def test_golden_tenant_through_kafka_compiles_to_the_hand_written_figures(
    kafka_bootstrap: str, store_url: str
):
    """Published, consumed and materialised, the golden tenant still compiles to its figures."""
    settings = settings_for(
        golden.TENANT, [], kafka_bootstrap, store_url, unique_prefix(), policy=golden.POLICY
    )
    _sync_golden(settings, store_url)
    engine = sa.create_engine(store_url)
    progress = Materialiser(engine, kafka_bootstrap, settings.kafka.topic_prefix, "g").run()
    assert len(golden.entities()) == progress.upserts
    snapshot = compile_snapshot(
        engine,
        settings.tenant(golden.TENANT),
        golden.AS_OF,
        pseudonym_key=TEST_HMAC_KEY.encode(),
        consumer_group="g",
    )
    check_golden(snapshot)
    assert progress.records == sum(snapshot.offsets.values())
    engine.dispose()


def test_records_are_published_with_the_envelope_and_not_twice(
    kafka_bootstrap: str, tmp_path: Path
):
    """Rows go to hub.followup.<record>.v1 keyed `<tenant>:<record>:<row key>`, once each."""
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    prefix = unique_prefix()
    settings = settings_for(golden.TENANT, [], kafka_bootstrap, url, prefix, policy=golden.POLICY)
    engine = sa.create_engine(url)
    golden.write_entities(engine, golden.entities())
    tenant = settings.tenant(golden.TENANT)
    key = TEST_HMAC_KEY.encode()
    snapshot = compile_snapshot(engine, tenant, golden.AS_OF, pseudonym_key=key)
    first = publish_snapshot(engine, settings, snapshot)
    rows = sum(snapshot.counts().values())
    assert (rows, 0, 0) == (first.created, first.updated, first.deleted)
    topics = [entity_topic(prefix, t) for t in FOLLOWUP_RECORD_TYPES]
    records = consume_all(kafka_bootstrap, topics)
    coverage = [r for r in records if r.key == "guldby:device_coverage:ek|pupils"]
    assert 1 == len(coverage)
    headers = coverage[0].headers
    assert (b"no.skolehub.followup.device_coverage.created", b"ek|pupils") == (
        headers["ce_type"],
        headers["ce_subject"],
    )
    assert b"/tenants/guldby/skolehub/followup" == headers["ce_source"]
    value: dict[str, Any] = json.loads(coverage[0].value or b"{}")
    assert ("c", 8, "2026-06-15") == (
        value["op"],
        value["after"]["devices"],
        value["after"]["as_of"],
    )

    again = publish_snapshot(engine, settings, snapshot)
    assert (0, rows) == (again.created + again.updated + again.deleted, again.unchanged)
    assert len(records) == len(consume_all(kafka_bootstrap, topics))

    # One pupil fewer at Björkskolan: its coverage row changes; the materialiser ignores
    # the follow-up topics it produced.
    with engine.begin() as conn:
        conn.execute(sa.text("delete from report_entities where key = 'd4'"))
    changed = compile_snapshot(engine, tenant, golden.AS_OF, pseudonym_key=key)
    update = publish_snapshot(engine, settings, changed)
    assert update.updated >= 1 and update.created == 0
    assert 0 == Materialiser(engine, kafka_bootstrap, prefix, "g").run().records
    engine.dispose()
