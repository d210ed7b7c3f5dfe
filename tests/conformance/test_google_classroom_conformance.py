"""Google Classroom records shaped as the API v1 discovery document describes them.

Held to (see SOURCES.md): the `classroom.v1` discovery document's `Course`, `CourseWork`,
`Student`, `Teacher`, `UserProfile`, `Name` and `StudentSubmission` schemas, the list
responses' record keys, and the course and submission state enumerations.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from connectors.lms import google_classroom as classroom
from schemas.lms import ScoreStatus
from tests.conformance.support import vendor_json

DOC = vendor_json("google", "classroom_v1.json")
SCHEMAS: dict[str, dict[str, str]] = DOC["schemas"]
SAMPLE = {"string": "s1", "number": 7.0, "boolean": True, "date-time": "2025-10-01T08:00:00.000Z"}


def _fields(model: type[BaseModel]) -> set[str]:
    return {f.alias or name for name, f in model.model_fields.items()}


def _maximal(schema: str) -> dict[str, Any]:
    """A record with every plain property of the schema set (nested ones left out)."""
    return {k: SAMPLE[t] for k, t in SCHEMAS[schema].items() if t in SAMPLE}


def test_every_field_read_is_published():
    """Each raw model reads only properties its discovery schema publishes."""
    published = {
        classroom._Course: "Course",
        classroom._CourseWork: "CourseWork",
        classroom._Member: "Student",
        classroom._Profile: "UserProfile",
        classroom._Name: "Name",
        classroom._Submission: "StudentSubmission",
    }
    for model, schema in published.items():
        assert set() == _fields(model) - set(SCHEMAS[schema]), schema
    assert set() == _fields(classroom._Member) - set(SCHEMAS["Teacher"])


def test_the_streams_read_the_list_responses_record_keys():
    """Each stream reads its records under the key its list response publishes."""
    keys = {
        classroom._Courses: "ListCoursesResponse",
        classroom._Students: "ListStudentsResponse",
        classroom._Teachers: "ListTeachersResponse",
        classroom._CourseWorks: "ListCourseWorkResponse",
        classroom._Submissions: "ListStudentSubmissionsResponse",
    }
    for stream, response in keys.items():
        assert {stream.records_key, "nextPageToken"} == set(SCHEMAS[response]), response


def test_the_state_vocabularies_are_the_published_ones():
    """The course states read and the submission states mapped are the published values."""
    states = classroom.GoogleClassroomSourceSettings.model_fields["course_states"]
    assert set(states.default) <= set(DOC["enums"]["Course.courseState"])
    assert set(classroom.SUBMISSION_STATES) <= set(DOC["enums"]["StudentSubmission.state"])
    assert {ScoreStatus.FULLY_GRADED, ScoreStatus.SUBMITTED} == set(
        classroom.SUBMISSION_STATES.values()
    )


def test_maximal_records_validate():
    """A record with every plain published property validates with the raw models."""
    course = classroom._Course.model_validate({**_maximal("Course"), "courseState": "ACTIVE"})
    work = classroom._CourseWork.model_validate(_maximal("CourseWork"))
    submission = classroom._Submission.model_validate(
        {**_maximal("StudentSubmission"), "state": "RETURNED"}
    )
    assert ("s1", "s1", 7.0) == (course.id, work.id, submission.assignedGrade)


def test_the_email_scope_is_requested():
    """`profile.emailAddress` needs `classroom.profile.emails`, which the default asks for."""
    (needed,) = DOC["scopes"]["UserProfile.emailAddress"]
    assert needed in classroom.CLASSROOM_SCOPES
    assert set(classroom.CLASSROOM_SCOPES) - {needed} <= {
        *DOC["scopes"]["courses.list"],
        *DOC["scopes"]["students.list"],
        "https://www.googleapis.com/auth/classroom.coursework.students.readonly",
    }
