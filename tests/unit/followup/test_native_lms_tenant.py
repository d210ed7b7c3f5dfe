"""A Swedish sandbox tenant on Teams, Google Classroom, Canvas or Moodle has its course figures."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from connectors.base import Item
from hub.dev.sandbox.roster import roster, sandbox_policy
from hub.followup import Snapshot, compile_snapshot
from hub.settings import parse_settings
from schemas.entities import Entity, Person
from tests.conftest import TEST_HMAC_KEY
from tests.fixtures.lms_native import TENANT, ClassroomSandbox, GraphEducationSandbox
from tests.fixtures.lms_vendors import CanvasSandboxFactory, MoodleSandboxFactory
from tests.fixtures.ss12000 import SS12000SandboxFactory
from tests.unit.followup import golden


def _entities(items: list[Item]) -> list[Entity]:
    return [i for i in items if isinstance(i, Entity)]


def _compile(tmp_path: Path, directory: list[Entity], lms: list[Entity]) -> Snapshot:
    """The tenant's follow-up on 1 March 2026 from its directory and LMS entities."""
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'report.db'}")
    golden.write_entities(engine, [*directory, *lms])
    owner = roster(TENANT, 150, 1)
    settings = parse_settings(
        {"tenants": [{"id": TENANT, "name": "S", "country": "SE", "policy": sandbox_policy(owner)}]}
    ).tenant(TENANT)
    try:
        return compile_snapshot(
            engine, settings, date(2026, 3, 1), pseudonym_key=TEST_HMAC_KEY.encode()
        )
    finally:
        engine.dispose()


def _directory(factory: SS12000SandboxFactory) -> list[Entity]:
    """The tenant's SS 12000 register, read by its connector."""
    with factory(scale=150, tenant=TENANT).connector() as source:
        return _entities(list(source.read()))


def test_classroom_gives_participation_and_completions(
    tmp_path: Path,
    ss12000_sandbox_factory: SS12000SandboxFactory,
    classroom_sandbox: ClassroomSandbox,
):
    """SS 12000 directory and Google Classroom LMS: returned work counts as completion.

    The competence courses count students and completions; Workspace addresses match the
    directory through the policy's domain rewrite.
    """
    directory = _directory(ss12000_sandbox_factory)
    with classroom_sandbox.connector() as source:
        lms = _entities(list(source.read()))
    snapshot = _compile(tmp_path, directory, lms)
    rows = [
        r
        for r in snapshot.rows("course_participation")
        if r.lms_source == "google_classroom/classroom"
    ]  # type: ignore[attr-defined]
    competence = [r for r in rows if r.competence_areas and r.level == "course"]  # type: ignore[attr-defined]
    assert competence
    assert sum(r.completed or 0 for r in competence) > 0  # type: ignore[attr-defined]
    unmatched = {r.key: r.count for r in snapshot.rows("unmatched_identities")}  # type: ignore[attr-defined]
    people = sum(1 for e in lms if e.entity == "person")
    assert sum(n for k, n in unmatched.items() if k.startswith("google_classroom")) < people / 10


def test_teams_classes_give_the_course_participation_figures(
    tmp_path: Path,
    ss12000_sandbox_factory: SS12000SandboxFactory,
    graph_education_sandbox: GraphEducationSandbox,
):
    """SS 12000 directory and Graph education LMS: participation, completions, competence.

    The competence courses are recognised and count their students and, from the classes'
    assignments, their completions; staff have information-security completions; nearly
    every Teams member is linked to a directory person.
    """
    directory = _directory(ss12000_sandbox_factory)
    with graph_education_sandbox.connector() as source:
        lms = _entities(list(source.read()))
    snapshot = _compile(tmp_path, directory, lms)
    rows = [
        r for r in snapshot.rows("course_participation") if r.lms_source == "graph_education/teams"
    ]  # type: ignore[attr-defined]
    classes = [r for r in rows if r.level == "class"]  # type: ignore[attr-defined]
    assert classes and all(r.unit_key for r in classes)  # type: ignore[attr-defined]
    competence = [r for r in rows if r.competence_areas and r.level == "course"]  # type: ignore[attr-defined]
    assert competence
    # Staff are students of the competence classes they take (Graph: members, not owners).
    assert sum(r.students or 0 for r in competence) > 0  # type: ignore[attr-defined]
    assert sum(r.completed or 0 for r in competence) > 0  # type: ignore[attr-defined]
    staff = [r for r in snapshot.rows("staff_competence") if r.area == "information_security"]  # type: ignore[attr-defined]
    assert staff and any(r.completed for r in staff)  # type: ignore[attr-defined]
    unmatched = {r.key: r.count for r in snapshot.rows("unmatched_identities")}  # type: ignore[attr-defined]
    linked = sum(1 for e in lms if e.entity == "person")
    assert sum(n for k, n in unmatched.items() if k.startswith("graph_education")) < linked / 10


@pytest.mark.parametrize(
    ("platform", "lms_source"), [("canvas", "canvas/canvas"), ("moodle", "moodle/moodle")]
)
def test_canvas_and_moodle_give_the_course_participation_figures(
    tmp_path: Path,
    ss12000_sandbox_factory: SS12000SandboxFactory,
    canvas_sandbox_factory: CanvasSandboxFactory,
    moodle_sandbox_factory: MoodleSandboxFactory,
    platform: str,
    lms_source: str,
):
    """SS 12000 directory and Canvas or Moodle LMS: participation, completions, competence.

    The competence courses (recognised by their titles) count their students and, from
    module progress or course completion, their completions by the compile date; staff
    have information-security completions; platform users are linked to directory people
    but for those the directory cannot know (guardians, outsiders, protected people).
    """
    directory = _directory(ss12000_sandbox_factory)
    factory = canvas_sandbox_factory if platform == "canvas" else moodle_sandbox_factory
    with factory(150, tenant=TENANT).connector() as source:
        lms = _entities(list(source.read()))
    snapshot = _compile(tmp_path, directory, lms)
    rows = [r for r in snapshot.rows("course_participation") if r.lms_source == lms_source]  # type: ignore[attr-defined]
    competence = [r for r in rows if r.competence_areas and r.level == "course"]  # type: ignore[attr-defined]
    assert competence
    assert sum(r.students or 0 for r in competence) > 0  # type: ignore[attr-defined]
    assert sum(r.completed or 0 for r in competence) > 0  # type: ignore[attr-defined]
    staff = [r for r in snapshot.rows("staff_competence") if r.area == "information_security"]  # type: ignore[attr-defined]
    assert staff and any(r.completed for r in staff)  # type: ignore[attr-defined]
    # Every area whose sandbox courses have completions is recognised from the titles.
    done = {r.area for r in snapshot.rows("staff_competence") if r.completed}  # type: ignore[attr-defined]
    assert {"digital_didactics", "learning_platforms", "information_security"} <= done
    # Left unlinked: users without a Feide id and no address the directory knows (guardians,
    # external course leaders), and protected staff, whom the directory gives no identifiers.
    unmatched = {r.key: r.count for r in snapshot.rows("unmatched_identities")}  # type: ignore[attr-defined]
    people = [e for e in lms if isinstance(e, Person)]
    without_feide_id = sum(1 for p in people if p.eppn is None)
    protected = sum(1 for p in directory if isinstance(p, Person) and p.protected and not p.eppn)
    assert sum(n for k, n in unmatched.items() if k.startswith(platform)) <= (
        without_feide_id + protected
    )
    assert without_feide_id < len(people) / 8
