"""Moodle's web services: records become entities; errors in HTTP 200 bodies are errors."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import structlog

from connectors.errors import AuthError, ConfigError, FatalError
from connectors.lms.moodle import COURSE_FIELD, PER_COURSE, USER_FIELD, Moodle
from hub.settings import parse_settings
from schemas.entities import Person
from schemas.lms import Enrollment, EnrollmentRole, Result, ScoreStatus
from tests.fixtures.lms_vendors import MOODLE_TOKEN, MoodleSandbox

STREAMS = {s.name: s for s in (*Moodle.streams, *PER_COURSE)}


def source() -> Moodle:
    """A Moodle connector that is never asked to connect."""
    entry = {
        "type": "moodle",
        "id": "moodle",
        "base_url": "https://moodle.example",
        "auth": {"kind": "bearer", "secret": {"env": "UNUSED"}},
    }
    config = parse_settings({"tenants": [{"id": "t", "name": "T", "sources": [entry]}]})
    return Moodle(config.tenants[0].sources[0], tenant="t", secret="tok-123")  # type: ignore[arg-type]


def parse(connector: Moodle, stream: str, record: dict[str, Any]) -> list[Any]:
    """The items of one record of a stream."""
    return STREAMS[stream](connector).parse(record, 0)


def test_a_participant_is_a_person_once_and_an_enrolment_per_course() -> None:
    """The Feide user name becomes eppn; the first role the enrolment's; last access kept."""
    moodle = source()
    record = {"id": 7, "username": "olan@fjellby.kommune.no", "firstname": "Ola",
              "lastname": "Nordmann", "email": "ola@fjellby.kommune.no", "idnumber": "lms7",
              "roles": [{"roleid": 5, "shortname": "student"}],
              "lastcourseaccess": 1767225600, COURSE_FIELD: 12}  # fmt: skip
    person, enrollment = parse(moodle, "enrolled_users", record)
    assert isinstance(person, Person) and isinstance(enrollment, Enrollment)
    assert ("olan@fjellby.kommune.no", ("idnumber:lms7",)) == (person.eppn, person.external_ids)
    assert ("12-7", EnrollmentRole.STUDENT) == (enrollment.key, enrollment.role)
    assert datetime(2026, 1, 1, tzinfo=UTC) == enrollment.last_activity
    [again] = parse(moodle, "enrolled_users", {**record, COURSE_FIELD: 13})
    assert isinstance(again, Enrollment)


def test_completion_and_grade_items_become_results() -> None:
    """A completed course is fully graded; a grade item's idnumber is its objective."""
    [done] = parse(source(), "course_completion_status",
                   {"completed": True, "timecompleted": 1773583200, COURSE_FIELD: 40,
                    USER_FIELD: 7})  # fmt: skip
    assert isinstance(done, Result)
    assert ("completion-40-7", ScoreStatus.FULLY_GRADED) == (done.key, done.score_status)
    results = parse(
        source(),
        "grade_items",
        {"courseid": 12, "userid": 7, "gradeitems": [
            {"id": 1, "itemname": "Produsere", "itemtype": "manual",
             "idnumber": "trinn05.produsere",
             "graderaw": 3.0, "grademin": 0.0, "grademax": 4.0, "gradedategraded": 1773583200},
            {"id": 2, "itemtype": "course", "graderaw": 75.0}]},
    )  # fmt: skip
    assert [("moodle:trinn05.produsere",)] == [r.learning_objective_ids for r in results]


@pytest.mark.parametrize(
    ("errorcode", "error"),
    [("invalidtoken", AuthError), ("invalidparameter", ConfigError), ("coding", FatalError)],
)
def test_an_exception_body_is_an_error_never_data(errorcode: str, error: type) -> None:
    """`{"exception", "errorcode", "message"}` with HTTP 200 raises, naming the function."""
    stream = STREAMS["courses"](source())
    body = {"exception": "moodle_exception", "errorcode": errorcode,
            "message": "Bad thing for token tok-123"}  # fmt: skip
    with pytest.raises(error) as caught:
        stream.records_in(body)
    assert "core_course_get_courses" in caught.value.message
    assert errorcode in caught.value.message
    assert "tok-123" not in str(caught.value)


def test_a_course_without_completion_criteria_is_a_note(moodle_sandbox: MoodleSandbox) -> None:
    """Homerooms have completion enabled without criteria: noted once each, read goes on."""
    with structlog.testing.capture_logs() as logs, moodle_sandbox.connector() as moodle:
        items = list(moodle.read())
    notes = [n for n in moodle.notes if "no completion criteria" in n]
    homerooms = sum(1 for row in moodle_sandbox.site.lms._classes if row[2])
    assert homerooms == len(notes)
    assert any(isinstance(i, Result) and i.line_item_key.startswith("completion-") for i in items)
    assert MOODLE_TOKEN not in repr(logs)


def test_a_wrong_token_fails_the_check_as_an_auth_error(moodle_sandbox: MoodleSandbox) -> None:
    """Moodle refuses a token with HTTP 200 and `invalidtoken`: an AuthError, token unseen."""
    with pytest.raises(AuthError) as caught, moodle_sandbox.connector(secret="wrong") as moodle:
        moodle.check()
    assert "invalidtoken" in caught.value.message
