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
from kafka.admin import KafkaAdminClient, NewTopic

from connectors.base import Item, Source
from hub.followup import compile_snapshot
from hub.followup.privacy import pseudonym
from hub.followup.publish import followup_published, publish_snapshot
from hub.kafka_io import Publisher, ensure_topics, entity_topic
from hub.materialise import Materialiser
from hub.settings import HubSettings
from hub.store import StateStore, create_tables
from hub.sync import SyncRunner
from schemas.entities import Entity
from schemas.followup import FOLLOWUP_RECORD_TYPES, StaffCompetence
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
    golden.move_history_back(engine)
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
    first = publish_snapshot(engine, settings, snapshot, pseudonym_key=key)
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

    again = publish_snapshot(engine, settings, snapshot, pseudonym_key=key)
    assert (0, rows) == (again.created + again.updated + again.deleted, again.unchanged)
    assert len(records) == len(consume_all(kafka_bootstrap, topics))

    # One pupil fewer at Björkskolan: its coverage row changes; the materialiser ignores
    # the follow-up topics it produced.
    with engine.begin() as conn:
        conn.execute(sa.text("delete from report_entities where key = 'd4'"))
        conn.execute(sa.text("delete from report_history where key = 'd4'"))
    changed = compile_snapshot(engine, tenant, golden.AS_OF, pseudonym_key=key)
    update = publish_snapshot(engine, settings, changed, pseudonym_key=key)
    assert update.updated >= 1 and update.created == 0
    assert 0 == Materialiser(engine, kafka_bootstrap, prefix, "g").run().records
    engine.dispose()


def test_person_level_rows_leave_the_hub_under_pseudonyms_and_v1_is_retired(
    kafka_bootstrap: str, tmp_path: Path
):
    """`staff_competence` rows go to v2 with the pseudonym, never the directory key.

    Rows published under v1 (keyed by the person's eppn) get tombstones there and leave
    the state.
    """
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    prefix = unique_prefix()
    settings = settings_for(golden.TENANT, [], kafka_bootstrap, url, prefix, policy=golden.POLICY)
    engine = sa.create_engine(url)
    golden.write_entities(engine, golden.entities())
    key = TEST_HMAC_KEY.encode()
    snapshot = compile_snapshot(
        engine, settings.tenant(golden.TENANT), golden.AS_OF, pseudonym_key=key
    )
    staff = snapshot.rows("staff_competence")
    people = {row.person_key for row in staff}  # type: ignore[attr-defined]
    assert people, "the golden tenant has staff"
    # What an earlier release published: v1 rows keyed `<eppn>|<area>`.
    v1 = f"{prefix}.followup.staff_competence.v1"
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    admin.create_topics([NewTopic(v1, num_partitions=1, replication_factor=1)])
    admin.close()
    old_keys = [staff[0].key, staff[1].key]
    old_payload = staff[0].model_dump_json()
    with engine.begin() as conn:
        create_tables(engine, [followup_published])
        conn.execute(
            followup_published.insert(),
            [
                {
                    "tenant": golden.TENANT,
                    "record": "staff_competence",
                    "key": k,
                    "fingerprint": "0" * 64,
                    "payload": old_payload,
                    "as_of": golden.AS_OF,
                }
                for k in old_keys
            ],
        )
    report = publish_snapshot(engine, settings, snapshot, pseudonym_key=key)
    assert (2, 0) == (report.retired, report.deleted)

    v2 = entity_topic(prefix, StaffCompetence)
    assert v2.endswith(".followup.staff_competence.v2")
    published = consume_all(kafka_bootstrap, [v2])
    assert len(staff) == len(published)
    for record in published:
        text = (record.key or "") + (record.value or b"").decode()
        assert not [p for p in people if p in text], "a directory key reached the topic"
    values = [json.loads(r.value or b"{}")["after"] for r in published]
    assert {pseudonym(key, p) for p in people} == {v["person_key"] for v in values}

    retired = consume_all(kafka_bootstrap, [v1])
    assert {f"{golden.TENANT}:staff_competence:{k}" for k in old_keys} == {r.key for r in retired}
    assert [None, None] == [r.value for r in retired]
    with engine.connect() as conn:
        left = conn.execute(
            sa.select(followup_published.c.key).where(
                followup_published.c.record == "staff_competence"
            )
        ).all()
    assert [] == left
    engine.dispose()
