"""itslearning Data Warehouse rows in the documented shapes become hub entities; its paging."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from connectors.base import Removed
from connectors.http import HttpPage
from connectors.lms.itslearning import Itslearning, ODataNextLink
from hub.settings import parse_settings
from schemas.entities import Organisation, OrganisationKind, Person, Role
from schemas.lms import Class, CompetenceArea, Course, Enrollment, EnrollmentRole, ScoreStatus

STREAMS = {s.name: s for s in Itslearning.streams}


def source(**settings: Any) -> Itslearning:
    """An itslearning connector that is never asked to connect."""
    entry = {
        "type": "itslearning",
        "id": "its",
        "base_url": "https://reporting.itslearning.com/odata/fjellby",
        "auth": {"kind": "basic", "username": "odata", "secret": {"env": "UNUSED"}},
        **settings,
    }
    config = parse_settings({"tenants": [{"id": "t", "name": "T", "sources": [entry]}]})
    return Itslearning(config.tenants[0].sources[0], tenant="t", secret="unused")  # type: ignore[arg-type]


def parse(connector: Itslearning, stream: str, record: dict[str, Any]) -> list[Any]:
    """The items of one record of a stream."""
    return STREAMS[stream](connector).parse(record, 0)


def test_a_current_membership_has_no_end_and_its_latest_session_as_last_activity() -> None:
    """ValidTo 9999-12-31 is no end date; last activity is the later of LastOnline and sessions."""
    its = source()
    parse(its, "courseProfiles", {"CourseProfileId": 2, "Title": "Elev", "ProfileType": "Learner"})
    parse(
        its,
        "userCourseSessions",
        {
            "DateId": 20260301,
            "UserId": 7,
            "CourseId": 12,
            "CourseSessionStartDate": "2026-03-01T09:00:00",
            "CourseSessionEndDate": "2026-03-01T09:40:00",
        },
    )
    [enrollment] = parse(
        its,
        "courseMemberships",
        {
            "CourseId": 12,
            "UserId": 7,
            "CourseProfileId": 2,
            "CourseOrganizationId": 3,
            "FirstOnline": "2025-08-20T08:00:00",
            "LastOnline": "2026-02-10T10:00:00",
            "ValidFrom": "2025-08-15T00:00:00",
            "ValidTo": "9999-12-31T00:00:00",
            "T_ModifiedDate": "2026-03-02T02:00:00",
        },
    )
    assert isinstance(enrollment, Enrollment)
    assert ("12-7", "7", "12", "3", EnrollmentRole.STUDENT) == (
        enrollment.key,
        enrollment.person_key,
        enrollment.class_key,
        enrollment.school_key,
        enrollment.role,
    )
    assert (date(2025, 8, 20), None) == (enrollment.begin_date, enrollment.end_date)
    assert datetime(2026, 3, 1, 9, 40, tzinfo=UTC) == enrollment.last_activity


def test_a_withdrawn_membership_ends_on_its_valid_to() -> None:
    """A past ValidTo is the enrolment's end date; without a profile the role is other."""
    [enrollment] = parse(
        source(),
        "courseMemberships",
        {"CourseId": 1, "UserId": 2, "ValidTo": "2026-01-31T00:00:00", "LastOnline": None},
    )
    assert (date(2026, 1, 31), EnrollmentRole.OTHER, None) == (
        enrollment.end_date,
        enrollment.role,
        enrollment.last_activity,
    )


def test_a_course_is_a_course_and_its_class_with_competence_areas_from_its_title() -> None:
    """A course yields Course and Class keyed by CourseId; its title names the area."""
    course, klass = parse(
        source(),
        "courses",
        {
            "CourseId": 40,
            "CourseTitle": "Informasjonssikkerhet – e-læring for alle ansatte – Fjellheim skole",
            "CourseCode": "KOMP-INFOSEC-FJS",
            "OrganizationId": 3,
            "CourseStatus": "Active",
            "IsCourseArchived": False,
        },
    )
    assert isinstance(course, Course) and isinstance(klass, Class)
    assert (CompetenceArea.INFORMATION_SECURITY,) == course.competence_areas
    assert ("40", "40", "3") == (course.key, klass.course_key, klass.school_key)


@pytest.mark.parametrize("status", ["TrashCan", "Deleted"])
def test_a_deleted_course_is_a_delete_on_an_incremental_run_only(status: str) -> None:
    """A trashed or deleted course: Removed (course, class) incrementally; nothing in a full run."""
    record = {"CourseId": 5, "CourseTitle": "Gammel", "CourseStatus": status}
    its = source()
    assert [] == parse(its, "courses", record)
    its.full_snapshot = False
    assert [Removed(Course, "5"), Removed(Class, "5")] == parse(its, "courses", record)


def test_a_user_keeps_the_feide_id_from_the_sync_key_and_its_type_as_role() -> None:
    """SyncKey that is a Feide id becomes eppn; another one an external id; UserType the role."""
    [pupil] = parse(
        source(),
        "users",
        {
            "UserId": 9,
            "FirstName": "Ola",
            "LastName": "Nordmann",
            "UserName": "olan",
            "Email": "ola@fjellby.kommune.no",
            "SyncKey": "OLAN@fjellby.kommune.no",
            "UserStatus": "Active",
            "UserType": "Student",
            "OrganizationId": 3,
        },
    )
    assert isinstance(pupil, Person)
    assert ("olan@fjellby.kommune.no", (Role.PUPIL,), "3", ()) == (
        pupil.eppn,
        pupil.roles,
        pupil.primary_unit_key,
        pupil.external_ids,
    )
    [staff] = parse(source(), "users", {"UserId": 10, "SyncKey": "lms77", "UserType": "Staff"})
    assert (None, ("SyncKey:lms77",), (Role.TEACHER,)) == (
        staff.eppn,
        staff.external_ids,
        staff.roles,
    )


def test_an_organisation_with_a_norwegian_org_number_in_its_sync_key() -> None:
    """`NO` + nine digits is the org number; the top organisation is the owner."""
    [owner] = parse(source(), "organizations", {"OrganizationId": 1, "Title": "Fjellby kommune"})
    [school] = parse(
        source(),
        "organizations",
        {"OrganizationId": 3, "Title": "Fjellheim skole", "ParentOrganizationId": 1,
         "SyncKey": "NO974123456"},
    )  # fmt: skip
    assert isinstance(school, Organisation)
    assert (OrganisationKind.OWNER, OrganisationKind.SCHOOL_UNIT) == (owner.kind, school.kind)
    assert ("974123456", "1") == (school.org_number, school.parent_key)


def test_a_grade_with_a_completed_status_is_a_completion() -> None:
    """UserGrade with a status titled Completed is fully graded on its review day."""
    its = source()
    parse(its, "assessmentStatuses", {"AssessmentStatusId": 1, "Title": "Completed"})
    parse(its, "assessmentStatuses", {"AssessmentStatusId": 2, "Title": "In progress"})
    row = {
        "LearningItemId": 20, "CourseId": 40, "UserId": 9, "AssessmentGradeId": 1,
        "AssessmentStatusId": 1, "Score": 1.0, "SubmittedDate": "2026-03-15T14:00:00",
        "ReviewDate": "2026-03-16T08:00:00", "NumberOfAttempts": 1,
        "T_ModifiedDate": "2026-03-16T09:00:00",
    }  # fmt: skip
    [done] = parse(its, "userGrades", row)
    [busy] = parse(its, "userGrades", {**row, "AssessmentStatusId": 2, "ReviewDate": None})
    assert (ScoreStatus.FULLY_GRADED, date(2026, 3, 16), "40") == (
        done.score_status,
        done.score_date,
        done.class_key,
    )
    assert ScoreStatus.SUBMITTED == busy.score_status


def test_objective_progress_keeps_the_objective_and_its_percentage() -> None:
    """LearningObjectiveProgress becomes a result on the objective, scored 0-100."""
    its = source()
    parse(its, "learningObjectives", {"LearningObjectiveId": 50, "Title": "trinn05.produsere"})
    [result] = parse(
        its,
        "learningObjectiveProgress",
        {"LearningObjectiveId": 50, "UserId": 9, "CourseId": 12, "DateId": 20260315,
         "ScorePercentage": 75.0},
    )  # fmt: skip
    assert ("itslearning:50",) == result.learning_objective_ids
    assert (75.0, 0.0, 100.0, date(2026, 3, 15), "trinn05.produsere") == (
        result.score,
        result.score_min,
        result.score_max,
        result.score_date,
        result.line_item_title,
    )


def test_fact_tables_are_always_filtered_by_date_and_changes_by_modification_time() -> None:
    """DateId tables ask from `activity_since` on every run; dimension tables by T_ModifiedDate."""
    its = source(activity_since="2025-08-01")
    assert {"$filter": "DateId ge 20250801"} == STREAMS["userCourseSessions"](its).params()
    assert {} == STREAMS["users"](its).params()
    its.full_snapshot = False
    its.bookmarks = {"users": "2026-03-02T02:00:00.000Z"}
    assert {"$filter": "T_ModifiedDate gt datetime'2026-03-02T01:00:00.000'"} == STREAMS["users"](
        its
    ).params()
    assert {"$filter": "DateId ge 20250801"} == STREAMS["learningObjectiveProgress"](its).params()


@pytest.mark.parametrize("field", ["odata.nextLink", "@odata.nextLink"])
def test_both_spellings_of_the_next_link_are_followed(field: str) -> None:
    """OData v3's `odata.nextLink` and v4's `@odata.nextLink` name the next page."""
    page = HttpPage(
        "https://r.example/odata/s/Users", {}, {}, {"value": [], field: "Users?$skip=10000"}, []
    )
    assert "https://r.example/odata/s/Users?$skip=10000" == ODataNextLink().next(page)
    assert None is ODataNextLink().next(HttpPage("https://r.example/x", {}, {}, {"value": []}, []))
