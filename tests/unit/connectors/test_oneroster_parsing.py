"""OneRoster 1.2 records, in the shapes the specification documents, become hub entities."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from connectors.base import Item, Rejected, Removed
from connectors.http import HttpStream
from connectors.lms.oneroster import OneRoster, bookmark_text
from connectors.privacy import national_id_hmac
from hub.settings import parse_settings
from schemas.entities import Organisation, OrganisationKind, Person, Role
from schemas.lms import (
    AcademicSession,
    Class,
    ClassType,
    CompetenceArea,
    Course,
    Enrollment,
    EnrollmentRole,
    ObjectiveResult,
    Result,
    ScoreStatus,
    SessionKind,
)

DATA = Path(__file__).parent / "data" / "oneroster"
HMAC_KEY = b"test-hmac-key-0123456789abcdef"
STREAMS: dict[str, type[HttpStream[Any, Any]]] = {s.name: s for s in OneRoster.streams}


def source(**settings: Any) -> OneRoster:
    """A OneRoster connector that is never asked to connect."""
    entry = {
        "type": "oneroster",
        "id": "lms",
        "base_url": "https://lms.example",
        "auth": {"kind": "bearer", "secret": {"env": "UNUSED"}},
        **settings,
    }
    config = parse_settings({"tenants": [{"id": "t", "name": "T", "sources": [entry]}]})
    return OneRoster(
        config.tenants[0].sources[0],  # type: ignore[arg-type]
        tenant="t",
        secret="unused",
        hmac_key=HMAC_KEY,
    )


def records(name: str) -> list[dict[str, Any]]:
    """The example records of one collection."""
    return json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))[name]


def parse(name: str, connector: OneRoster | None = None) -> dict[str, Item | None]:
    """Every example record of a collection parsed, by sourcedId."""
    connector = connector or source()
    stream = STREAMS[name](connector)
    parsed = {r["sourcedId"]: stream.parse(r, i) for i, r in enumerate(records(name))}
    return {key: items[0] if items else None for key, items in parsed.items()}


def test_orgs_become_organisations_with_kind_number_and_parent():
    """A district is the owner, a school a school unit; the identifier is the org number."""
    orgs = parse("orgs")
    district, school, department = orgs["org-district"], orgs["org-school-1"], orgs["org-dept-1"]
    assert isinstance(district, Organisation) and isinstance(school, Organisation)
    assert (OrganisationKind.OWNER, "943626979", None) == (
        district.kind,
        district.org_number,
        district.parent_key,
    )
    assert (OrganisationKind.SCHOOL_UNIT, "Lade skole", "org-district") == (
        school.kind,
        school.name,
        school.parent_key,
    )
    assert isinstance(department, Organisation)
    assert (OrganisationKind.OTHER, None) == (department.kind, department.org_number)
    assert datetime(2025, 8, 2, 7, 30, tzinfo=UTC) == school.source_modified


def test_academic_sessions_keep_type_dates_and_parent():
    """A school year and its term keep their kind, dates, year and parent."""
    sessions = parse("academicSessions")
    year, term = sessions["as-2025"], sessions["as-2025-h"]
    assert isinstance(year, AcademicSession) and isinstance(term, AcademicSession)
    assert (SessionKind.SCHOOL_YEAR, date(2025, 8, 18), date(2026, 6, 19), 2026) == (
        year.kind,
        year.start_date,
        year.end_date,
        year.school_year,
    )
    assert (SessionKind.TERM, "as-2025") == (term.kind, term.parent_key)


def test_competence_courses_are_recognised_from_tags_subjects_and_codes():
    """Tags, keywords and subjects mark competence areas; an ordinary subject course has none."""
    courses = parse("courses")
    maths, didactics, security = (
        courses["course-mat7"],
        courses["course-digdid"],
        courses["course-infosec"],
    )
    assert isinstance(maths, Course) and isinstance(didactics, Course)
    assert isinstance(security, Course)
    assert ((), ("07",), ("MAT0007",), "as-2025") == (
        maths.competence_areas,
        maths.grades,
        maths.subject_codes,
        maths.school_year_key,
    )
    assert (CompetenceArea.DIGITAL_DIDACTICS,) == didactics.competence_areas
    assert ("competence-development", "digital-didaktikk") == didactics.tags
    assert (
        CompetenceArea.INFORMATION_SECURITY,
        CompetenceArea.PROGRAMMING_ROBOTICS,
    ) == security.competence_areas


def test_classes_keep_type_course_school_terms_and_grades():
    """A homeroom and a scheduled class keep their links and codes."""
    classes = parse("classes")
    homeroom, maths = classes["class-7a"], classes["class-7a-mat"]
    assert isinstance(homeroom, Class) and isinstance(maths, Class)
    assert (ClassType.HOMEROOM, "course-home7", "org-school-1", ("as-2025",), ("07",)) == (
        homeroom.class_type,
        homeroom.course_key,
        homeroom.school_key,
        homeroom.term_keys,
        homeroom.grades,
    )
    assert (ClassType.SCHEDULED, None, ("MAT0007",)) == (
        maths.class_type,
        maths.class_code,
        maths.subject_codes,
    )


def test_a_pupil_keeps_every_identifier_for_matching_and_only_a_hash_of_the_nin():
    """Username, email, the lower-cased Feide id and other userIds are kept; the NIN hashed."""
    pupil = parse("users")["user-pupil"]
    assert isinstance(pupil, Person)
    assert ("user-pupil", "noraber1001@lillevik.kommune.no", "noraber1001") == (
        pupil.key,
        pupil.eppn,
        pupil.username,
    )
    assert ("Feide:NoraBer1001@Lillevik.Kommune.NO", "LMS:lms1001") == pupil.external_ids
    assert national_id_hmac(HMAC_KEY, "NO", "17851250034") == pupil.nin_hmac
    assert ((Role.PUPIL,), 7, ("org-school-1",), "org-school-1") == (
        pupil.roles,
        pupil.grade,
        pupil.unit_keys,
        pupil.primary_unit_key,
    )
    dumped = json.dumps(pupil.model_dump(mode="json"))
    assert "17851250034" not in dumped and "not-a-real-password" not in dumped


def test_roles_put_the_primary_first_and_use_the_preferred_name():
    """A teacher's primary role comes first, roles are unique, every org is a unit."""
    teacher = parse("users")["user-teacher"]
    assert isinstance(teacher, Person)
    assert ((Role.TEACHER, Role.SCHOOL_LEADER), ("org-school-1", "org-school-2")) == (
        teacher.roles,
        teacher.unit_keys,
    )
    assert ("org-school-1", "Inga", "Inga Olsen", None) == (
        teacher.primary_unit_key,
        teacher.given_name,
        teacher.display_name,
        teacher.grade,
    )


def test_guardians_and_oneroster_1_1_users_map_too():
    """A guardian is a guardian; a 1.1 user's single `role` and `orgs` still map."""
    users = parse("users")
    guardian, aide = users["user-guardian"], users["user-v11-aide"]
    assert isinstance(guardian, Person) and isinstance(aide, Person)
    assert ((Role.GUARDIAN,), None, None) == (guardian.roles, guardian.username, guardian.eppn)
    assert ((Role.ASSISTANT,), ("org-school-1",)) == (aide.roles, aide.unit_keys)


def test_a_malformed_national_id_keeps_the_user_without_the_number_or_an_hmac():
    """A NIN with wrong check digits is dropped: the user is published, flagged, without it."""
    person = parse("users")["user-bad-nin"]
    assert isinstance(person, Person)
    assert (None, True) == (person.nin_hmac, person.nin_invalid)
    assert "17851250000" not in json.dumps(person.model_dump(mode="json"))


def test_tobedeleted_is_a_delete_on_incremental_reads_and_left_out_of_full_reads():
    """`status: tobedeleted` yields Removed incrementally and nothing on a full read."""
    incremental = source()
    incremental.full_snapshot = False
    assert Removed(Person, "user-leaving") == parse("users", incremental)["user-leaving"]
    assert None is parse("users", source())["user-leaving"]
    enrollment = parse("enrollments", incremental)["enr-removed"]
    assert Removed(Enrollment, "enr-removed") == enrollment


def test_the_bookmark_is_the_newest_date_last_modified_seen():
    """Each stream's bookmark advances to the newest dateLastModified, deletes included."""
    connector = source()
    parse("users", connector)
    parse("enrollments", connector)
    assert {
        "users": "2025-09-05T13:00:00.000Z",
        "enrollments": "2025-09-10T08:00:00.000Z",
    } == connector.bookmarks


def test_incremental_reads_filter_from_the_bookmark_minus_the_overlap():
    """An incremental read asks for records modified after the bookmark less the overlap."""
    connector = source(incremental_overlap=120)
    connector.bookmarks = {"users": "2025-09-05T13:00:00.000Z"}
    users = STREAMS["users"](connector)
    assert {} == users.params()  # a full read has no filter
    connector.full_snapshot = False
    assert {"filter": "dateLastModified>'2025-09-05T12:58:00.000Z'"} == users.params()
    assert {} == STREAMS["enrollments"](connector).params()  # no bookmark yet: everything
    assert {} == STREAMS["lineItems"](connector).params()  # a lookup: always in full


def test_enrollments_keep_role_primary_flag_and_dates():
    """An enrollment keeps person, class, school, role, primary flag and dates."""
    enrollments = parse("enrollments")
    pupil, teacher, aide = (
        enrollments["enr-pupil-7a"],
        enrollments["enr-teacher-7a-mat"],
        enrollments["enr-aide-7a"],
    )
    assert (
        Enrollment(
            tenant="t",
            source={"system": "oneroster", "instance": "lms"},
            key="enr-pupil-7a",
            source_modified=datetime(2025, 8, 20, 8, tzinfo=UTC),
            person_key="user-pupil",
            class_key="class-7a",
            school_key="org-school-1",
            role=EnrollmentRole.STUDENT,
            primary=True,
            begin_date=date(2025, 8, 18),
            end_date=date(2026, 6, 19),
        )
        == pupil
    )
    assert isinstance(teacher, Enrollment) and isinstance(aide, Enrollment)
    assert (EnrollmentRole.TEACHER, False, None) == (
        teacher.role,
        teacher.primary,
        teacher.end_date,
    )
    assert (EnrollmentRole.AIDE, date(2025, 9, 1)) == (aide.role, aide.begin_date)


def test_results_keep_the_line_items_learning_objectives_and_the_skill_scores():
    """A result carries its line item's objectives and its per-objective scores."""
    connector = source()
    assert {"li-skills-7a": None} == parse("lineItems", connector)
    result = parse("results", connector)["res-pupil-skills"]
    assert isinstance(result, Result)
    assert (
        "li-skills-7a",
        "Digitale ferdigheter – Klasse 7A",
        "user-pupil",
        "class-7a",
        ScoreStatus.FULLY_GRADED,
        75.0,
        date(2026, 3, 15),
        (0.0, 100.0),
    ) == (
        result.line_item_key,
        result.line_item_title,
        result.person_key,
        result.class_key,
        result.score_status,
        result.score,
        result.score_date,
        (result.score_min, result.score_max),
    )
    source_id = "udir:grunnleggende-digitale-ferdigheter"
    assert (
        f"{source_id}:trinn07.bruke-og-forsta",
        f"{source_id}:trinn07.produsere",
    ) == result.learning_objective_ids
    assert (
        ObjectiveResult(
            source=source_id, objective_id="trinn07.bruke-og-forsta", score=3.0, text_score="god"
        ),
        ObjectiveResult(source=source_id, objective_id="trinn07.produsere", score=2.0),
    ) == result.objective_results
    assert "mangler" not in json.dumps(result.model_dump(mode="json"))  # comments stay out


def test_a_result_of_an_unknown_line_item_keeps_what_it_has():
    """Without its line item a result still maps; a date-time score date becomes a date."""
    result = parse("results")["res-unknown-item"]
    assert isinstance(result, Result)
    assert (None, (), date(2026, 3, 16), ScoreStatus.SUBMITTED) == (
        result.line_item_title,
        result.learning_objective_ids,
        result.score_date,
        result.score_status,
    )


def test_an_unknown_score_status_is_a_dead_letter():
    """A score status outside the vocabulary rejects the result with the field named."""
    rejected = parse("results")["res-bad-status"]
    assert isinstance(rejected, Rejected)
    assert rejected.reason.startswith("results: scoreStatus: Input should be")


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (datetime(2025, 9, 1, 8, 15, tzinfo=UTC), "2025-09-01T08:15:00.000Z"),
        (
            datetime(2025, 9, 1, 10, 15, 1, 500_000, tzinfo=timezone(timedelta(hours=2))),
            "2025-09-01T08:15:01.500Z",
        ),
    ],
)
def test_bookmarks_are_utc_with_milliseconds(moment: datetime, text: str):
    """Bookmarks are written in UTC with milliseconds and a Z, as filters compare them."""
    assert text == bookmark_text(moment)


def test_danish_competence_words_mark_the_danish_areas():
    """A Danish platform's subjects and tags name it-didaktik, 3D print and digital dannelse."""
    stream = STREAMS["courses"](source())
    record = {**records("courses")[1], "subjectCodes": [], "metadata": {"tags": []}}
    areas = {}
    for subject in ("It-didaktik", "Robotter og 3D-print", "Digital dannelse",
                    "Informationssikkerhed", "Digitale læremidler"):  # fmt: skip
        (course,) = stream.parse({**record, "subjects": [subject]}, 0)
        assert isinstance(course, Course)
        areas[subject] = course.competence_areas
    assert {
        "It-didaktik": (CompetenceArea.DIGITAL_DIDACTICS,),
        "Robotter og 3D-print": (CompetenceArea.ROBOTS_3D_PRINTING,),
        "Digital dannelse": (CompetenceArea.DIGITAL_CITIZENSHIP,),
        "Informationssikkerhed": (CompetenceArea.INFORMATION_SECURITY,),
        "Digitale læremidler": (CompetenceArea.LEARNING_PLATFORMS,),
    } == areas
