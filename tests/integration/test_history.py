"""Dated figures from the reporting store's history, through Kafka and the real materialiser.

The golden tenant is synced on three days (the sync's clock is set to each day, so the
events carry that day's `ce_time`), materialised after each, and compiled for past days.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest
import sqlalchemy as sa

import hub.sync
from connectors.base import Item, Source
from hub.followup import compile_snapshot
from hub.followup.compile import HistoryError
from hub.followup.jobs import compile_tenant, rebuild
from hub.followup.snapshots import SnapshotStore, row_json
from hub.kafka_io import Publisher, ensure_topics
from hub.materialise import Materialiser, history_span, prune_history, report_history
from hub.settings import FollowupSettings, HubSettings, TenantSettings
from hub.store import StateStore
from hub.sync import SyncRunner
from schemas.entities import Entity
from tests.conftest import TEST_HMAC_KEY
from tests.support import settings_for, unique_prefix
from tests.unit.followup import golden

pytestmark = pytest.mark.integration

KEY = TEST_HMAC_KEY.encode()
DAY1, DAY2, DAY3 = date(2026, 9, 1), date(2026, 9, 8), date(2026, 9, 15)
#: The pupil who leaves between day 1 and day 2.
LEAVER = "d4"


class _Entities(Source):
    name: ClassVar[str] = "test.history"
    system: ClassVar[str] = "golden"
    entity_types: ClassVar[tuple[type[Entity], ...]] = ()

    def __init__(self, instance: str, entities: list[Entity], types: tuple[type[Entity], ...]):
        super().__init__(golden.TENANT, instance)
        self.entities = entities
        self.entity_types = types  # type: ignore[misc]

    def check(self) -> None:
        """Nothing to connect to."""

    def read(self) -> Iterator[Item]:
        """The entities of this day."""
        yield from self.entities


def _sync_day(
    settings: HubSettings, url: str, day: date, monkeypatch: pytest.MonkeyPatch, leaver_gone: bool
) -> None:
    """Sync the golden tenant as it is on `day`, with the sync's clock at noon that day."""
    monkeypatch.setattr(
        hub.sync, "now", lambda: datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    )
    everything = golden.entities()
    by_source: dict[str, list[Entity]] = {}
    for entity in everything:
        by_source.setdefault(entity.source.instance, [])
        if leaver_gone and entity.key == LEAVER:
            continue
        by_source[entity.source.instance].append(entity)
    ensure_topics(settings.bootstrap, settings.kafka, {type(e) for e in everything})
    store = StateStore(url)
    publisher = Publisher(settings.bootstrap, settings.kafka)
    try:
        runner = SyncRunner(settings, store, publisher)
        for instance, entities in by_source.items():
            types = tuple(
                dict.fromkeys(type(e) for e in everything if e.source.instance == instance)
            )
            report = runner.sync(
                golden.TENANT, instance, source=_Entities(instance, entities, types)
            )
            assert "success" == report.status
    finally:
        publisher.close()
        store.close()


def _rows(snapshot: Any) -> list[str]:
    return [row_json(r) for _, r in snapshot.every_row()]


def _tenant(settings: HubSettings, **policy: Any) -> TenantSettings:
    tenant = settings.tenant(golden.TENANT)
    return tenant.model_copy(update={"policy": tenant.policy.model_copy(update=policy)})


@pytest.fixture
def synced(kafka_bootstrap: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A store holding the golden tenant as synced on day 1, and a way to sync later days."""
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    prefix = unique_prefix()
    settings = settings_for(golden.TENANT, [], kafka_bootstrap, url, prefix, policy=golden.POLICY)
    engine = sa.create_engine(url)
    materialiser = Materialiser(engine, kafka_bootstrap, prefix, "g")

    def sync(day: date, leaver_gone: bool) -> None:
        _sync_day(settings, url, day, monkeypatch, leaver_gone)
        materialiser.run()

    sync(DAY1, leaver_gone=False)
    yield settings, engine, sync
    engine.dispose()


def test_a_past_day_compiles_to_the_figures_it_had_on_the_day(synced):
    """Compile day 1, let a pupil leave on day 2, recompile day 1: the same bytes."""
    settings, engine, sync = synced
    tenant = settings.tenant(golden.TENANT)
    on_the_day = compile_snapshot(engine, tenant, DAY1, pseudonym_key=KEY, consumer_group="g")

    sync(DAY2, leaver_gone=True)
    sync(DAY3, leaver_gone=True)  # nothing changes on day 3: no new versions
    later = compile_snapshot(engine, tenant, DAY1, pseudonym_key=KEY, consumer_group="g")
    assert _rows(on_the_day) == _rows(later)

    # Day 2 is different: the leaver's person, and with it a pupil, is gone.
    day2 = compile_snapshot(engine, tenant, DAY2, pseudonym_key=KEY, consumer_group="g")
    assert day2.entity_counts["people"] == on_the_day.entity_counts["people"] - 1
    assert _rows(day2) != _rows(on_the_day)
    with engine.connect() as conn:
        versions = conn.execute(
            sa.select(report_history.c.valid_from, report_history.c.valid_to).where(
                report_history.c.key == LEAVER
            )
        ).all()
    # One version, valid from day 1 at noon until the day-2 delete at noon.
    assert [(datetime(2026, 9, 1, 12), datetime(2026, 9, 8, 12))] == [
        (f.replace(tzinfo=None), t.replace(tzinfo=None)) for f, t in versions
    ]


def test_days_the_history_does_not_cover_are_refused(synced):
    """Before day 1 and after today fail, naming the days that can be compiled."""
    settings, engine, _sync = synced
    tenant = settings.tenant(golden.TENANT)
    today = datetime.now(UTC).date()
    with pytest.raises(HistoryError) as early:
        compile_snapshot(engine, tenant, DAY1 - timedelta(days=1), pseudonym_key=KEY)
    assert (
        f"cannot compile guldby as of 2026-08-31: the hub's history of guldby begins on "
        f"2026-09-01, and figures for an earlier day would describe the entities as they are "
        f"later; days from 2026-09-01 to {today} can be compiled"
    ) == str(early.value)
    with pytest.raises(HistoryError, match="that is in the future; days from 2026-09-01"):
        compile_snapshot(engine, tenant, today + timedelta(days=1), pseudonym_key=KEY)
    assert [] == SnapshotStore(engine).days(golden.TENANT)


def test_the_first_snapshot_is_pinned_as_baseline_and_an_earlier_day_does_not_replace_it(synced):
    """`baseline: first` pins the first day compiled; compiling an earlier day later keeps it."""
    settings, engine, sync = synced
    sync(DAY2, leaver_gone=True)
    tenant = _tenant(settings, baseline="first")
    compile_snapshot(engine, tenant, DAY2, pseudonym_key=KEY, consumer_group="g")
    compile_snapshot(engine, tenant, DAY1, pseudonym_key=KEY, consumer_group="g")
    assert DAY2 == SnapshotStore(engine).pinned_baseline(golden.TENANT)
    day3 = compile_snapshot(engine, tenant, DAY3, pseudonym_key=KEY, consumer_group="g")
    assert DAY2 == day3.baseline_as_of


def test_a_baseline_the_policy_names_is_compiled_from_the_history(synced):
    """`baseline: <day 1>` compiles day 1 from the history when day 3 is compiled first."""
    settings, engine, sync = synced
    sync(DAY2, leaver_gone=True)
    tenant = _tenant(settings, baseline=DAY1)
    day3 = compile_snapshot(engine, tenant, DAY3, pseudonym_key=KEY, consumer_group="g")
    store = SnapshotStore(engine)
    assert (DAY1, [DAY1, DAY3]) == (day3.baseline_as_of, store.days(golden.TENANT))
    day1 = store.load(golden.TENANT, DAY1)
    assert day1 is not None
    # The trend's baseline values are day 1's own headline measures.
    assert {k: v for k, v in day1.measures.items()} == {
        r.measure: r.baseline for r in day3.rows("trend") if hasattr(r, "baseline")
    }


def test_retention_prunes_ended_versions_and_moves_the_first_compilable_day(synced):
    """Pruning drops versions that ended before the horizon; the history then begins there."""
    settings, engine, sync = synced
    sync(DAY2, leaver_gone=True)
    horizon = datetime(2026, 9, 10, tzinfo=UTC)
    assert 1 == prune_history(engine, horizon)  # the leaver's only version ended on day 2
    span = history_span(engine, golden.TENANT)
    assert span is not None and horizon == span[0]
    with pytest.raises(HistoryError, match="begins on 2026-09-10"):
        compile_snapshot(engine, settings.tenant(golden.TENANT), DAY2, pseudonym_key=KEY)


def test_a_rebuild_reads_the_topics_again_and_trusts_them_from_the_newest_event(synced):
    """`rebuild` empties the store and consumes again; days before the newest event are refused."""
    settings, engine, sync = synced
    sync(DAY2, leaver_gone=True)
    tenant = settings.tenant(golden.TENANT)
    before = compile_snapshot(engine, tenant, DAY2, pseudonym_key=KEY, consumer_group="g")
    with engine.begin() as conn:  # something the topics do not hold must not survive
        conn.execute(report_history.update().values(payload="{}"))

    rebuilt = rebuild(
        settings.model_copy(update={"followup": FollowupSettings(consumer_group="g")})
    )
    assert DAY2 == rebuilt.days[golden.TENANT][0]
    after = compile_snapshot(engine, tenant, DAY2, pseudonym_key=KEY, consumer_group="g")
    assert _rows(before) == _rows(after)
    with pytest.raises(HistoryError, match="begins on 2026-09-08"):
        compile_snapshot(engine, tenant, DAY1, pseudonym_key=KEY, consumer_group="g")


def test_the_policys_measurement_days_are_compiled_from_the_history(synced):
    """`measurements: [day 1]`: compiling day 2 stores day 1 as well, from the history."""
    settings, engine, sync = synced
    sync(DAY2, leaver_gone=True)
    tenant = _tenant(settings, measurements=(DAY1, DAY3))
    settings = settings.model_copy(
        update={
            "tenants": (tenant,),
            "followup": FollowupSettings(consumer_group="g"),
        }
    )
    compile_tenant(settings, golden.TENANT, DAY2, publish=False)
    # Day 3 is after the day compiled: not yet.
    assert [DAY1, DAY2] == SnapshotStore(engine).days(golden.TENANT)
