"""The `data_quality` record: per tenant and source, what the figures stand on (issue 13)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from hub.followup import compile_snapshot
from hub.store import metadata, sync_runs
from hub.web.dependencies import _templates
from hub.web.followup_view import build_page
from schemas.entities import Membership, MembershipRole, Person, Role
from schemas.followup import DataQuality, DeviceCoverage, Population
from tests.conftest import TEST_HMAC_KEY
from tests.unit.followup import golden


@pytest.fixture
def engine(tmp_path: Path) -> sa.Engine:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'report.db'}")
    yield engine
    engine.dispose()


def _sis_person(key: str, unit: str, **extra: object) -> Person:
    return Person(
        tenant=golden.TENANT,
        source=golden.SIS,
        key=key,
        roles=(Role.PUPIL,),
        unit_keys=(unit,),
        grade=5,
        **extra,  # type: ignore[arg-type]
    )


def _record(engine: sa.Engine, source: str) -> DataQuality:
    snapshot = compile_snapshot(
        engine, golden.tenant_settings(), golden.AS_OF, pseudonym_key=TEST_HMAC_KEY.encode()
    )
    rows = {r.source_ref: r for r in snapshot.rows("data_quality") if isinstance(r, DataQuality)}
    return rows[source]


def test_invalid_identifiers_dangling_links_and_dead_letters_are_counted_per_source(
    engine: sa.Engine,
):
    """A flagged person, a link to nothing and the last run's dead letters show in the record."""
    base = golden.entities()
    unit = next(p for p in base if isinstance(p, Person) and p.source == golden.SIS).unit_keys[0]
    extra = [
        _sis_person("bad-nin", unit, nin_invalid=True),
        _sis_person("lost", "no-such-unit"),
        Membership(
            tenant=golden.TENANT,
            source=golden.SIS,
            key="no-such-group|bad-nin",
            group_key="no-such-group",
            person_key="bad-nin",
            role=MembershipRole.STUDENT,
        ),
    ]
    golden.write_entities(engine, base)
    before = _record(engine, "ss12000/sis")
    assert (0, 0) == (before.invalid_identifiers, before.dead_lettered)
    golden.write_entities(engine, extra)
    metadata.create_all(engine, tables=[sync_runs])
    started = datetime(2026, 6, 14, 3, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(
            sync_runs.insert(),
            [
                {
                    "run_id": run,
                    "tenant": golden.TENANT,
                    "source": "sis",
                    "status": "success",
                    "full": True,
                    "started_at": started,
                    "finished_at": started.replace(hour=hour),
                    "dead_lettered": count,
                }
                for run, hour, count in (("old", 4, 9), ("new", 5, 3))
            ],
        )
    people = sum(1 for e in base if isinstance(e, Person) and e.source == golden.SIS)
    record = _record(engine, "ss12000/sis")
    assert (people + 2, 1, 3, before.unresolved_links + 2) == (
        record.people,
        record.invalid_identifiers,
        record.dead_lettered,
        record.unresolved_links,
    )


def test_a_person_with_an_invalid_number_still_counts_at_their_unit(engine: sa.Engine):
    """Keeping the person keeps the unit's headcount: the flagged pupil is counted like others."""
    base = golden.entities()
    golden.write_entities(engine, base)
    before = _headcounts(engine)
    pupils = [p for p in base if isinstance(p, Person) and Role.PUPIL in p.roles]
    pupil = next(p for p in pupils if p.source == golden.SIS)
    twin = pupil.model_copy(update={"key": "flagged-twin", "eppn": None, "username": None})
    golden.write_entities(engine, [twin.model_copy(update={"nin_invalid": True})])
    after = _headcounts(engine)
    unit = pupil.unit_keys[0]
    assert before[unit] + 1 == after[unit]
    assert 1 == _record(engine, "ss12000/sis").invalid_identifiers


def _headcounts(engine: sa.Engine) -> dict[str, int]:
    snapshot = compile_snapshot(
        engine, golden.tenant_settings(), golden.AS_OF, pseudonym_key=TEST_HMAC_KEY.encode()
    )
    return {
        r.unit_key: r.headcount or 0
        for r in snapshot.rows("device_coverage")
        if isinstance(r, DeviceCoverage) and r.population is Population.PUPILS
    }


def test_the_follow_up_page_shows_the_data_quality_table(engine: sa.Engine):
    """The page lists each source's data-quality counts, as the record holds them."""
    golden.write_entities(engine, golden.entities())
    snapshot = compile_snapshot(
        engine, golden.tenant_settings(), golden.AS_OF, pseudonym_key=TEST_HMAC_KEY.encode()
    )
    tenant = golden.tenant_settings()
    html = _templates.get_template("followup.html").render(
        tenant=tenant, page=build_page(snapshot, 5), days=[golden.AS_OF], user=_Viewer(), base=""
    )
    table = html[html.index('<table class="data-quality">') :]
    people = sum(1 for e in golden.entities() if isinstance(e, Person) and e.source == golden.LMS)
    row = f'<tr data-source="oneroster/lms"><td class="text">oneroster/lms</td><td>{people}</td>'
    assert row in table


class _Viewer:
    """A signed-in user as the page template sees one."""

    def get_name(self) -> str:
        return "viewer"
