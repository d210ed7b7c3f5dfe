"""Google Classroom (API v1): courses, rosters, coursework and submissions, as LMS entities.

Reads `GET /v1/courses?courseStates=…&pageSize=…`, then `pageToken=<nextPageToken>` until a
page has none (a token that comes back is a loop), and for each course its `/teachers`,
`/students`, `/courseWork` (a lookup: title and maximum points) and
`/courseWork/-/studentSubmissions` (every submission of the course in one listing). A
course is a `Course` and a `Class` of its own (Classroom has no sections below a course),
a teacher or student a `Person` (once per read) and an `Enrollment`, a submission a
`Result` on its course work.

**Completion and last activity.** A submission `RETURNED` by the teacher is `fully
graded` (with `assignedGrade` of `maxPoints` where graded): the follow-up counts it as a
completion in a competence course. `TURNED_IN` is `submitted`; `NEW`, `CREATED` and
`RECLAIMED_BY_STUDENT` are `not submitted`. The submission's `updateTime` is the result's
`source_modified` and `score_date`: the learner's last activity on it.

Authentication is a service account with domain-wide delegation, as the ChromeOS
connector's (`GoogleApiSource`): the administrator in `auth.subject`, scopes
`classroom.courses.readonly`, `classroom.rosters.readonly`,
`classroom.coursework.students.readonly` and `classroom.profile.emails` (without the last,
Classroom leaves `profile.emailAddress` out and people cannot be matched to the
directory). 429 (`RESOURCE_EXHAUSTED`) and 503 are retried with backoff or `Retry-After`;
Google's 403 quota errors are throttling too.

People are matched to the directory by `profile.emailAddress` (the `email` rule, with the
policy's domain rewrites for a Workspace domain beside the realm). Every run is full:
Classroom has no change feed for rosters.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from connectors.base import Item
from connectors.http import HttpSourceSettings, HttpStream, PageTokenPaginator
from connectors.lms._children import ChildStream, ChildStreams, read_children
from connectors.lms._tags import competence_areas, tag_words
from connectors.mdm.google_chromeos import GoogleApiSource, GoogleServiceAccount
from connectors.registry import ConnectionForm, ConnectorSpec, Pool, with_secret
from schemas.entities import Key, Person, Timestamp, as_key
from schemas.lms import Class, ClassType, Course, Enrollment, EnrollmentRole, Result, ScoreStatus

COURSES = "/v1/courses"
CLASSROOM_SCOPES: tuple[str, ...] = (
    "https://www.googleapis.com/auth/classroom.courses.readonly",
    "https://www.googleapis.com/auth/classroom.rosters.readonly",
    "https://www.googleapis.com/auth/classroom.coursework.students.readonly",
    "https://www.googleapis.com/auth/classroom.profile.emails",
)
SUBMISSION_STATES: dict[str, ScoreStatus] = {
    "RETURNED": ScoreStatus.FULLY_GRADED,
    "TURNED_IN": ScoreStatus.SUBMITTED,
}
#: The school key of a course: Classroom courses belong to no school.
NO_SCHOOL = "unassigned"


def _paginator() -> PageTokenPaginator:
    return PageTokenPaginator("nextPageToken", "pageToken", page_size_param="pageSize")


class _Raw(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Course(_Raw):
    id: Key
    name: Annotated[str, Field(min_length=1)]
    section: str | None = None
    descriptionHeading: str | None = None
    description: str | None = None
    ownerId: str | None = None
    courseState: str | None = None
    updateTime: Timestamp | None = None


class _Name(_Raw):
    givenName: str | None = None
    familyName: str | None = None
    fullName: str | None = None


class _Profile(_Raw):
    id: str | None = None
    name: _Name | None = None
    emailAddress: str | None = None


class _Member(_Raw):
    userId: Key
    profile: _Profile | None = None


class _CourseWork(_Raw):
    id: Key
    title: str | None = None
    maxPoints: float | None = None


class _Submission(_Raw):
    id: Key
    courseWorkId: Key
    userId: Key
    state: str | None = None
    assignedGrade: float | None = None
    updateTime: Timestamp | None = None


@dataclass(frozen=True)
class _Work:
    title: str | None
    max_points: float | None


class _Child(ChildStream):
    paginator = _paginator()
    source: GoogleClassroom


class _Roster(_Child):
    """Teachers or students of a course: each a person (once) and an enrolment."""

    raw_model = _Member
    entity_type = Enrollment
    role: ClassVar[EnrollmentRole]

    def record_ref(self, record: Any, index: int) -> str:
        """`userId`, or the stream and position."""
        if isinstance(record, dict) and isinstance(record.get("userId"), str):
            return f"{self.parent_id}:{record['userId']}"
        return super().record_ref(record, index)

    def record_key(self, record: Any) -> str | None:
        """The enrolment key `<course id>:<user id>` of a member that failed."""
        user = as_key(record.get("userId")) if isinstance(record, dict) else None
        return f"{self.parent_id}:{user}" if user else None

    def to_items(self, raw: _Member) -> Iterator[Item]:
        """The person (the first time this read meets them) and the enrolment."""
        source = self.source
        if raw.userId not in source.people_seen:
            source.people_seen.add(raw.userId)
            yield source.person(raw)
        yield Enrollment(
            tenant=source.tenant,
            source=source.ref,
            key=f"{self.parent_id}:{raw.userId}",
            person_key=raw.userId,
            class_key=self.parent_id,
            role=self.role,
            primary=self.role is EnrollmentRole.TEACHER
            and source.owners.get(self.parent_id) == raw.userId,
        )


class _Teachers(_Roster):
    name = "teachers"
    path = COURSES + "/{id}/teachers"
    records_key = "teachers"
    role = EnrollmentRole.TEACHER


class _Students(_Roster):
    name = "students"
    path = COURSES + "/{id}/students"
    records_key = "students"
    role = EnrollmentRole.STUDENT


class _CourseWorks(_Child):
    """Not published: the title and maximum points submissions are read with."""

    name = "courseWork"
    path = COURSES + "/{id}/courseWork"
    records_key = "courseWork"
    raw_model = _CourseWork
    entity_type = Result
    dead_letter_entity = "course_work"

    def to_items(self, raw: _CourseWork) -> tuple[()]:
        """Remember the course work; yield nothing."""
        self.source.course_work[raw.id] = _Work(raw.title, raw.maxPoints)
        return ()


class _Submissions(_Child):
    name = "studentSubmissions"
    path = COURSES + "/{id}/courseWork/-/studentSubmissions"
    records_key = "studentSubmissions"
    raw_model = _Submission
    entity_type = Result

    def record_key(self, record: Any) -> str | None:
        """The result key `<course work id>:<submission id>` of a submission that failed."""
        if not isinstance(record, dict):
            return None
        work, own = as_key(record.get("courseWorkId")), as_key(record.get("id"))
        return f"{work}:{own}" if work and own else None

    def to_entity(self, raw: _Submission) -> Result:
        """The submission as a result on its course work; `updateTime` is the last activity."""
        work = self.source.course_work.get(raw.courseWorkId, _Work(None, None))
        status = SUBMISSION_STATES.get(raw.state or "", ScoreStatus.NOT_SUBMITTED)
        return Result(
            tenant=self.source.tenant,
            source=self.source.ref,
            key=f"{raw.courseWorkId}:{raw.id}",
            source_modified=raw.updateTime,
            line_item_key=raw.courseWorkId,
            line_item_title=work.title,
            person_key=raw.userId,
            class_key=self.parent_id,
            score_status=status,
            score=raw.assignedGrade if status is ScoreStatus.FULLY_GRADED else None,
            score_date=raw.updateTime.date() if isinstance(raw.updateTime, datetime) else None,
            score_min=0.0 if work.max_points is not None else None,
            score_max=work.max_points,
        )


class _Courses(HttpStream[_Course, Course]):
    name = "courses"
    path = COURSES
    records_key = "courses"
    paginator = _paginator()
    raw_model = _Course
    entity_type = Course
    source: GoogleClassroom

    def params(self) -> dict[str, Any]:
        """The course states read (`courseStates`, repeated)."""
        return {"courseStates": list(self.source.settings.course_states)}

    def to_items(self, raw: _Course) -> Iterator[Item]:
        """The course and its class, then its roster, course work and submissions."""
        source = self.source
        words = tag_words(raw.section, raw.descriptionHeading, split=raw.description)
        common = {
            "tenant": source.tenant,
            "source": source.ref,
            "key": raw.id,
            "source_modified": raw.updateTime,
        }
        yield Course(
            **common,
            title=raw.name,
            subjects=(raw.section.strip(),) if raw.section and raw.section.strip() else (),
            tags=tuple(sorted(words)),
            competence_areas=competence_areas(words),
        )
        yield Class(
            **common,
            title=raw.name,
            class_type=ClassType.SCHEDULED,
            course_key=raw.id,
            school_key=NO_SCHOOL,
        )
        if raw.ownerId:
            source.owners[raw.id] = raw.ownerId
        yield from read_children(source, _Teachers(source, raw.id))
        yield from read_children(source, _Students(source, raw.id))
        yield from read_children(source, _CourseWorks(source, raw.id))
        yield from read_children(source, _Submissions(source, raw.id))


class ClassroomServiceAccount(GoogleServiceAccount):
    """The service account, delegated the Classroom read scopes."""

    scopes: tuple[str, ...] = CLASSROOM_SCOPES


class GoogleClassroomSourceSettings(HttpSourceSettings):
    """Google Classroom API v1: courses, rosters, coursework and student submissions."""

    type: Literal["google_classroom"]
    base_url: Annotated[str, Field(pattern=r"^https?://")] = "https://classroom.googleapis.com"
    auth: ClassroomServiceAccount  # type: ignore[assignment]  # not an HttpAuth: a JWT grant
    #: Which courses are read (`courseStates`); PROVISIONED, DECLINED and SUSPENDED
    #: courses have no class running.
    course_states: tuple[
        Literal["ACTIVE", "ARCHIVED", "PROVISIONED", "DECLINED", "SUSPENDED"], ...
    ] = ("ACTIVE", "ARCHIVED")
    #: Classroom's `pageSize`.
    page_size: Annotated[int, Field(ge=1, le=1000)] = 500


class GoogleClassroom(GoogleApiSource, ChildStreams):
    """Courses, rosters and submissions from Google Classroom, as LMS entities."""

    name: ClassVar[str] = "lms.google_classroom"
    system: ClassVar[str] = "google_classroom"
    entity_types = (Person, Course, Class, Enrollment, Result)
    streams = (_Courses,)
    settings: GoogleClassroomSourceSettings

    def prepare(self) -> None:
        """Start a read: nobody seen, no course work known."""
        self.people_seen: set[str] = set()
        self.owners: dict[str, str] = {}
        self.course_work: dict[str, _Work] = {}

    def person(self, raw: _Member) -> Person:
        """A member as a `Person`, matched to the directory by e-mail address."""
        profile = raw.profile or _Profile()
        name = profile.name or _Name()
        email = (profile.emailAddress or "").strip().lower() or None
        return Person(
            tenant=self.tenant,
            source=self.ref,
            key=raw.userId,
            email=email,
            given_name=name.givenName or None,
            family_name=name.familyName or None,
            display_name=name.fullName or None,
        )


CONNECTOR = ConnectorSpec(
    settings=GoogleClassroomSourceSettings,
    connector=GoogleClassroom,
    domain="lms",
    pool=Pool("hub_lms_google_classroom", 4, "Google Classroom syncs"),
    title="Google Classroom",
    build=with_secret(GoogleClassroom),
    doc="docs/lms.md",
    connection=ConnectionForm(
        host_label="Classroom API URL",
        login_field=None,
        form_fields=("auth.subject",),
        defaults=(("auth.kind", "google_service_account"),),
    ),
)
