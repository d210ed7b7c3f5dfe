"""The Google Classroom connector: mapping of courses, rosters and submissions; errors."""

from __future__ import annotations

from collections import Counter

import pytest

from connectors.errors import AuthError
from connectors.lms.google_classroom import GoogleClassroom, _Submission, _Submissions, _Work
from hub.dev.sandbox.classroom import resource_exhausted_body
from hub.dev.sandbox.mdm.google import rate_limit_body
from schemas.entities import Person, SourceRef
from schemas.lms import (
    Class,
    CompetenceArea,
    Course,
    Enrollment,
    EnrollmentRole,
    Result,
    ScoreStatus,
)
from tests.contract.suite import Waits
from tests.fixtures.lms_native import ClassroomSandbox


def _submission(state: str, grade: float | None = None) -> Result:
    source = GoogleClassroom.__new__(GoogleClassroom)
    source.tenant, source.course_work = "t", {"w1": _Work("Quiz", 10.0)}
    source.ref = SourceRef(system="google_classroom", instance="classroom")
    stream = _Submissions(source, "c1")
    raw = _Submission.model_validate(
        {"id": "s1", "courseWorkId": "w1", "userId": "u1", "state": state,
         "assignedGrade": grade, "updateTime": "2026-02-03T10:00:00Z"}
    )  # fmt: skip
    return stream.to_entity(raw)


@pytest.mark.parametrize(
    ("state", "status"),
    [
        ("RETURNED", ScoreStatus.FULLY_GRADED),
        ("TURNED_IN", ScoreStatus.SUBMITTED),
        ("CREATED", ScoreStatus.NOT_SUBMITTED),
        ("NEW", ScoreStatus.NOT_SUBMITTED),
        ("RECLAIMED_BY_STUDENT", ScoreStatus.NOT_SUBMITTED),
    ],
)
def test_submission_states_map_to_score_statuses(state: str, status: ScoreStatus):
    """Returned is fully graded (a completion), turned in is submitted, the rest not."""
    assert status == _submission(state).score_status


def test_a_returned_submission_keeps_its_grade_range_and_last_activity():
    """The grade, the course work's points and the update time (last activity) are kept."""
    result = _submission("RETURNED", 8.0)
    assert (8.0, 0.0, 10.0, "Quiz") == (
        result.score,
        result.score_min,
        result.score_max,
        result.line_item_title,
    )
    assert ("w1:s1", "c1", "2026-02-03") == (
        result.key,
        result.class_key,
        str(result.score_date),
    )
    assert result.source_modified is not None and result.source_modified.hour == 10


def test_a_full_read_gives_courses_rosters_and_completions(classroom_sandbox: ClassroomSandbox):
    """Courses and classes, each member once, teachers and students, returned work."""
    with classroom_sandbox.connector() as source:
        items = list(source.read())
    kinds = Counter(type(i).__name__ for i in items)
    assert kinds["Course"] == kinds["Class"] > 0
    people = [i for i in items if isinstance(i, Person)]
    assert len(people) == len({p.key for p in people})
    assert all(p.email and p.email.endswith("@skola.solberga.se") for p in people)
    roles = Counter(i.role for i in items if isinstance(i, Enrollment))
    assert roles[EnrollmentRole.TEACHER] > 0 and roles[EnrollmentRole.STUDENT] > 0
    statuses = Counter(i.score_status for i in items if isinstance(i, Result))
    assert statuses[ScoreStatus.FULLY_GRADED] > statuses[ScoreStatus.SUBMITTED] > 0
    areas = {a for i in items if isinstance(i, Course) for a in i.competence_areas}
    assert CompetenceArea.INFORMATION_SECURITY in areas
    assert all(i.school_key == "unassigned" for i in items if isinstance(i, Class))


def test_archived_courses_are_read_only_when_asked(classroom_sandbox: ClassroomSandbox):
    """`course_states` decides which courses are read."""
    sandbox = classroom_sandbox
    with sandbox.connector() as source:
        first = next(i for i in source.read() if isinstance(i, Course))
    sandbox.app.control(sandbox.tenant, "archive", {"course": first.key})
    with sandbox.connector(course_states=["ACTIVE"]) as source:
        keys = {i.key for i in source.read() if isinstance(i, Course)}
    assert first.key not in keys
    with sandbox.connector() as source:
        assert first.key in {i.key for i in source.read() if isinstance(i, Course)}


def test_without_the_email_scope_people_come_without_addresses(
    classroom_sandbox: ClassroomSandbox,
):
    """Classroom leaves `emailAddress` out unless `classroom.profile.emails` was granted."""
    scopes = [
        "https://www.googleapis.com/auth/classroom.courses.readonly",
        "https://www.googleapis.com/auth/classroom.rosters.readonly",
        "https://www.googleapis.com/auth/classroom.coursework.students.readonly",
    ]
    entry = classroom_sandbox.source_entry()
    auth = {**entry["auth"], "scopes": scopes}
    with classroom_sandbox.connector(auth=auth) as source:
        people = [i for i in source.read() if isinstance(i, Person)]
    assert people and all(p.email is None for p in people)


@pytest.mark.parametrize(
    ("status", "body"), [(429, resource_exhausted_body()), (403, rate_limit_body())]
)
def test_quota_errors_are_retried(classroom_sandbox: ClassroomSandbox, status: int, body: dict):
    """429 RESOURCE_EXHAUSTED and Google's 403 rateLimitExceeded are waited out."""
    sandbox = classroom_sandbox
    sandbox.server.add_fault(
        vendor="classroom", kind="status", status=status, body=body, path="/students", times=2
    )
    waits = Waits()
    with sandbox.connector(retry=waits.policy()) as source:
        items = list(source.read())
    assert len(waits.seconds) == 2 and any(isinstance(i, Enrollment) for i in items)


def test_a_scope_not_delegated_is_refused(classroom_sandbox: ClassroomSandbox):
    """A grant for a scope the tenant did not delegate fails as an `AuthError`."""
    entry = classroom_sandbox.source_entry()
    auth = {**entry["auth"], "scopes": ["https://www.googleapis.com/auth/classroom.courses"]}
    with classroom_sandbox.connector(auth=auth) as source, pytest.raises(AuthError):
        source.check()
