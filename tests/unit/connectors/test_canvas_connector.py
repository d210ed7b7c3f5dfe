"""Canvas records become hub entities; throttling, per-course paging and completion."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlsplit

import pytest

from connectors.errors import AuthError
from connectors.lms.canvas import COURSE_FIELD, PER_COURSE, Canvas
from hub.dev.sandbox.canvas import RATE_LIMIT_403
from hub.settings import parse_settings
from schemas.entities import Person
from schemas.lms import Enrollment, EnrollmentRole, Result, ScoreStatus
from tests.contract.suite import Waits
from tests.fixtures.lms_vendors import CanvasSandbox

STREAMS = {s.name: s for s in (*Canvas.streams, *PER_COURSE)}


def source() -> Canvas:
    """A Canvas connector that is never asked to connect."""
    entry = {
        "type": "canvas",
        "id": "canvas",
        "base_url": "https://skole.instructure.com",
        "auth": {"kind": "bearer", "secret": {"env": "UNUSED"}},
    }
    config = parse_settings({"tenants": [{"id": "t", "name": "T", "sources": [entry]}]})
    return Canvas(config.tenants[0].sources[0], tenant="t", secret="unused")  # type: ignore[arg-type]


def parse(connector: Canvas, stream: str, record: dict[str, Any]) -> list[Any]:
    """The items of one record of a stream."""
    return STREAMS[stream](connector).parse(record, 0)


def test_a_user_with_a_feide_login_is_matched_by_eppn() -> None:
    """`login_id` that is a Feide id becomes eppn; the SIS id is kept as an external id."""
    [person] = parse(
        source(),
        "users",
        {"id": 4, "name": "Kari Nordmann", "sortable_name": "Nordmann, Kari",
         "short_name": "Kari", "sis_user_id": "lms4", "login_id": "KARIN@fjellby.kommune.no",
         "email": "kari@fjellby.kommune.no"},
    )  # fmt: skip
    assert isinstance(person, Person)
    assert ("karin@fjellby.kommune.no", ("sis_user_id:lms4",), "Kari", "Nordmann") == (
        person.eppn,
        person.external_ids,
        person.given_name,
        person.family_name,
    )


def test_an_enrolment_keeps_its_role_and_last_activity() -> None:
    """Enrolment type gives the role; `last_activity_at` the last activity."""
    [enrollment] = parse(
        source(),
        "enrollments",
        {"id": 77, "course_id": 12, "user_id": 4, "type": "TaEnrollment",
         "enrollment_state": "active", "created_at": "2025-08-15T06:00:00Z",
         "last_activity_at": "2026-02-03T10:15:00Z"},
    )  # fmt: skip
    assert isinstance(enrollment, Enrollment)
    assert ("77", EnrollmentRole.AIDE, date(2025, 8, 15)) == (
        enrollment.key,
        enrollment.role,
        enrollment.begin_date,
    )
    assert datetime(2026, 2, 3, 10, 15, tzinfo=UTC) == enrollment.last_activity
    assert [] == parse(source(), "enrollments", {"id": 78, "course_id": 12, "user_id": 5,
                                                  "type": "StudentEnrollment",
                                                  "enrollment_state": "deleted"})  # fmt: skip


def test_module_completion_is_a_completion_result_and_no_requirements_none() -> None:
    """`completed_at` is fully graded; requirements met in part are partial; none: no result."""
    row = {"id": 4, COURSE_FIELD: 40,
           "progress": {"requirement_count": 4, "requirement_completed_count": 4,
                        "completed_at": "2026-03-15T14:00:00Z"}}  # fmt: skip
    [done] = parse(source(), "bulk_user_progress", row)
    assert isinstance(done, Result)
    assert ("completion-40-4", ScoreStatus.FULLY_GRADED, "40", date(2026, 3, 15)) == (
        done.key,
        done.score_status,
        done.class_key,
        done.score_date,
    )
    partial = {**row, "progress": {"requirement_count": 4, "requirement_completed_count": 2}}
    assert (
        ScoreStatus.PARTIALLY_GRADED
        == parse(source(), "bulk_user_progress", partial)[0].score_status
    )
    none = {**row, "progress": {"requirement_count": 0, "requirement_completed_count": 0}}
    assert [] == parse(source(), "bulk_user_progress", none)


def test_outcome_results_carry_the_outcome_and_its_points() -> None:
    """An outcome result is a result on the outcome, its range from the linked outcome."""
    canvas = source()
    stream = STREAMS["outcome_results"](canvas)
    records = stream.records_in(
        {"outcome_results": [{"id": 9, "score": 3.0, COURSE_FIELD: 12,
                              "submitted_or_assessed_at": "2026-03-15T12:00:00Z",
                              "links": {"user": "4", "learning_outcome": "50",
                                        "alignment": "assignment_12"}}],
         "linked": {"outcomes": [{"id": 50, "title": "trinn05.produsere",
                                  "points_possible": 4}]}}
    )  # fmt: skip
    [result] = stream.parse(records[0], 0)
    assert ("canvas:50",) == result.learning_objective_ids
    assert (3.0, 0.0, 4.0, "trinn05.produsere", "12", "4") == (
        result.score,
        result.score_min,
        result.score_max,
        result.line_item_title,
        result.class_key,
        result.person_key,
    )


def test_the_legacy_403_rate_limit_is_retried_and_other_403s_are_fatal(
    canvas_sandbox: CanvasSandbox,
) -> None:
    """403 `Rate Limit Exceeded` is throttling (waited out); a plain 403 is an AuthError."""
    users = f"{urlsplit(canvas_sandbox.base_url).path}/api/v1/accounts/1/users"
    waits = Waits()
    canvas_sandbox.server.add_fault(
        vendor="canvas", kind="status", status=403, body=RATE_LIMIT_403, path=users, times=2
    )
    with canvas_sandbox.connector(retry=waits.policy(), per_course=False) as canvas:
        assert [i for i in canvas.read() if isinstance(i, Person)]
    assert 2 == len(waits.seconds)
    canvas_sandbox.server.add_fault(vendor="canvas", kind="status", status=403, path=users)
    with pytest.raises(AuthError), canvas_sandbox.connector(retry=Waits().policy()) as canvas:
        list(canvas.read())


def test_every_course_is_read_in_turn_as_one_stream(canvas_sandbox: CanvasSandbox) -> None:
    """The per-course streams ask each course once (pages of 100), and read every enrolment."""
    with canvas_sandbox.connector() as canvas:
        items = list(canvas.read())
    courses = canvas_sandbox.instance.lms.tables["classes"].count
    enrolled = sum(isinstance(i, Enrollment) for i in items)
    assert courses == canvas_sandbox.server.count("/enrollments")
    assert len(canvas_sandbox.instance._members) == enrolled
    assert courses == canvas_sandbox.server.count("/bulk_user_progress")
