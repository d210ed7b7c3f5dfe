"""Each source's `schedule`: the sync DAGs look every few minutes and sync what is due."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from connectors.settings import SettingsError
from hub.settings import parse_settings
from hub.store import StateStore, sync_runs
from hub.sync import full_read_due
from hub.sync_tasks import DEFAULT_SCHEDULE, due, schedule_of, sync_plan


def feide(source_id: str, schedule: str | None = None) -> dict[str, object]:
    entry: dict[str, object] = {
        "type": "feide_ldap",
        "id": source_id,
        "uri": "ldap://127.0.0.1:1",
        "base_dn": "o=lillevik,dc=test",
        "bind_dn": "cn=reader,dc=test",
        "secret": {"env": "UNUSED"},
    }
    if schedule is not None:
        entry["schedule"] = schedule
    return entry


def test_a_source_is_due_once_per_tick_of_its_schedule():
    at = datetime(2026, 12, 7, 7, 3, tzinfo=UTC)
    assert due("@hourly", None, at)  # never synced
    assert due("@hourly", datetime(2026, 12, 7, 6, 59, tzinfo=UTC), at)  # 07:00 passed since
    assert not due("@hourly", datetime(2026, 12, 7, 7, 1, tzinfo=UTC), at)
    assert not due("@daily", datetime(2026, 12, 7, 0, 0, 5, tzinfo=UTC), at)
    assert due("*/2 * * * *", datetime(2026, 12, 7, 7, 1, tzinfo=UTC), at)  # 07:02 passed


def test_a_source_without_a_schedule_follows_its_domain():
    assert "@daily" == schedule_of("licences", None)
    assert DEFAULT_SCHEDULE == "@hourly" == schedule_of("identity", None)
    assert "*/10 * * * *" == schedule_of("licences", "*/10 * * * *")


def test_a_schedule_that_is_not_cron_is_refused_with_the_field_named():
    with pytest.raises(SettingsError) as caught:
        parse_settings(
            {"tenants": [{"id": "lillevik", "name": "L", "sources": [feide("feide", "hourly")]}]}
        )
    assert "schedule" in str(caught.value) and "cron" in str(caught.value)


def test_a_scheduled_run_plans_only_the_due_sources_and_a_triggered_run_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    store_url = f"sqlite:///{tmp_path / 'hub.db'}"
    sources = [
        feide("often", "*/10 * * * *"),
        feide("hourly"),  # the identity domain's cadence
        feide("yearly", "0 0 1 1 *"),
        feide("new", "0 0 1 1 *"),  # never synced: due at once whatever its schedule
    ]
    config = tmp_path / "hub.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "database_url": store_url,
                "tenants": [{"id": "lillevik", "name": "L", "sources": sources}],
            }
        )
    )
    monkeypatch.setenv("HUB_CONFIG", str(config))
    store = StateStore(store_url)
    for n, source in enumerate(("often", "hourly", "yearly")):
        store.begin_run(f"run-{n}", "lillevik", source, full=True)
    started = datetime(2026, 12, 7, 7, 3, tzinfo=UTC)  # fixed: the ticks do not hang on the clock
    with store.engine.begin() as conn:
        conn.execute(sa.update(sync_runs).values(started_at=started))
    store.close()

    def planned(at: datetime, every_source: bool = False) -> set[str]:
        plan = sync_plan("identity", every_source=every_source, at=at)
        assert all(p["tenant"] == "lillevik" for p in plan)
        return {p["source"] for p in plan}

    assert {"new"} == planned(started + timedelta(minutes=2))
    assert {"new", "often"} == planned(datetime(2026, 12, 7, 7, 10, 1, tzinfo=UTC))
    assert {"new", "often", "hourly"} == planned(datetime(2026, 12, 7, 8, 0, 1, tzinfo=UTC))
    assert {"new", "often", "hourly", "yearly"} == planned(started, every_source=True)


def test_a_daily_full_read_is_due_at_each_daily_run():
    """A run a day after the last full one is full, though it starts a little earlier in the day.

    The sync DAGs look every five minutes, so a daily source starts a few seconds to minutes
    after midnight, a little earlier or later each day. Measured to the second, a daily
    full read would wait for every other day.
    """
    last_full = datetime(2026, 12, 6, 0, 0, 40, tzinfo=UTC)
    day = timedelta(days=1)
    assert full_read_due(last_full, day, datetime(2026, 12, 7, 0, 0, 10, tzinfo=UTC))
    assert full_read_due(last_full, day, datetime(2026, 12, 7, 0, 5, 0, tzinfo=UTC))
    assert not full_read_due(last_full, day, datetime(2026, 12, 6, 23, 0, 0, tzinfo=UTC))
    # A short period keeps most of itself: two minutes are not cut to nothing.
    every = timedelta(minutes=2)
    assert not full_read_due(last_full, every, last_full + timedelta(minutes=1))
    assert full_read_due(last_full, every, last_full + timedelta(seconds=110))
