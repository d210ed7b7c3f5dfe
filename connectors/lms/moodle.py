"""Moodle web services (REST, JSON): schools, courses, participants, completion, grade items.

Every call is `GET <base>/webservice/rest/server.php?wstoken=…&wsfunction=…&
moodlewsrestformat=json` with the function's parameters. Read, in this order:
`core_course_get_categories` (categories as schools), `core_course_get_courses` (each
course is the hub's `Course` and its one `Class`; the site course is left out), then per
course `core_enrol_get_enrolled_users` (→ `Person` once per user, and `Enrollment` with
`lastcourseaccess` as last activity), per enrolled student of a course with completion
enabled `core_completion_get_course_completion_status` (→ a completion `Result`), and per
course `gradereport_user_get_grade_items` (→ `Result` per grade item and user; an item's
`idnumber` is its learning objective).

Moodle answers errors with HTTP 200 and `{"exception", "errorcode", "message"}`; such a
body is never read as data: an invalid or expired token is an `AuthError`, a missing
permission too, anything else a `FatalError` naming the function and the error code. A
course without completion criteria (`nocriteriaset`) is a note on the run, not a failure.
Functions answer whole lists (no paging); each course's calls (and its students'
completion calls) are made right after the course, as child collections
(`connectors/lms/_children.py`). The token
travels in the query string, as Moodle requires; it is scrubbed from every message and
never logged (logs carry paths only).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Literal

import requests
from pydantic import BaseModel, ConfigDict, Field

from connectors._http_auth import Authenticator, without_secrets
from connectors.base import Item
from connectors.errors import AuthError, ConfigError, FatalError
from connectors.http import (
    HttpPage,
    HttpPaginator,
    HttpSourceSettings,
    HttpStream,
    LinkHeaderPaginator,
)
from connectors.lms._children import ChildStream, ChildStreams, read_children
from connectors.lms._common import course_as_class, eppn_of
from connectors.registry import ConnectionForm, ConnectorSpec, Pool, with_secret
from schemas.entities import Organisation, OrganisationKind, Person
from schemas.lms import Class, Course, Enrollment, EnrollmentRole, Result, ScoreStatus

__all__ = ["Moodle", "MoodleSourceSettings"]

SERVER_PATH = "/webservice/rest/server.php"
#: Moodle role short names → enrolment roles (the first role of a participant decides).
ROLES: dict[str, EnrollmentRole] = {
    "student": EnrollmentRole.STUDENT,
    "editingteacher": EnrollmentRole.TEACHER,
    "teacher": EnrollmentRole.AIDE,
    "manager": EnrollmentRole.ADMINISTRATOR,
    "coursecreator": EnrollmentRole.ADMINISTRATOR,
    "guest": EnrollmentRole.OTHER,
}
#: Error codes that mean the token is refused or lacks a capability.
AUTH_ERRORS = frozenset(
    {"invalidtoken", "accessexception", "nopermissions", "requireloginerror", "servicenotavailable"}
)
#: Error codes of a course that has no completion criteria: a note, not a failure.
NO_CRITERIA = frozenset({"nocriteriaset", "completionnotenabled"})
#: Where `page_of` notes the course (and user) of a per-course answer (not Moodle fields).
COURSE_FIELD, USER_FIELD = "_course_id", "_user_id"


class _Raw(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class _Category(_Raw):
    id: int
    name: Annotated[str, Field(min_length=1)]
    idnumber: str | None = None
    parent: int = 0


class _Course(_Raw):
    id: int
    fullname: Annotated[str, Field(min_length=1)]
    shortname: str | None = None
    categoryid: int
    idnumber: str | None = None
    format: str | None = None
    enablecompletion: int | bool = 0
    timemodified: int | None = None


class _Role(_Raw):
    roleid: int | None = None
    shortname: str


class _Participant(_Raw):
    id: int
    username: str | None = None
    firstname: str | None = None
    lastname: str | None = None
    fullname: str | None = None
    email: str | None = None
    idnumber: str | None = None
    roles: list[_Role] = []
    lastcourseaccess: int | None = None
    course: int = Field(alias=COURSE_FIELD)


class _CompletionStatus(_Raw):
    completed: bool
    course: int = Field(alias=COURSE_FIELD)
    user: int = Field(alias=USER_FIELD)
    timecompleted: int | None = None


class _GradeItem(_Raw):
    id: int
    itemname: str | None = None
    itemtype: str | None = None
    idnumber: str | None = None
    graderaw: float | None = None
    grademin: float | None = None
    grademax: float | None = None
    gradedategraded: int | None = None


class _UserGrades(_Raw):
    courseid: int
    userid: int
    gradeitems: list[_GradeItem] = []


def _moment(seconds: int | None) -> datetime | None:
    """A Moodle time (Unix seconds; 0 means never) as a UTC moment."""
    return datetime.fromtimestamp(seconds, UTC) if seconds else None


class _QueryToken(Authenticator):
    """Moodle's token goes in the query (`wstoken`), not a header; it is still a secret."""

    def __init__(self, token: str) -> None:
        self.token = token

    def headers(self) -> dict[str, str]:
        """No header: the streams put `wstoken` in the query."""
        return {}

    def secrets(self) -> tuple[str, ...]:
        """The token."""
        return (self.token,)


# -- streams -------------------------------------------------------------------------------


class _Function(HttpStream[Any, Any]):
    """One web-service function; its answer is the body (a list) or under `records_key`."""

    path = SERVER_PATH
    records_key = ""
    paginator: ClassVar[HttpPaginator] = LinkHeaderPaginator()
    #: The `wsfunction` this stream calls.
    function: ClassVar[str]
    source: Moodle

    def params(self) -> dict[str, Any]:
        """The function, the token and the JSON format."""
        return self.source.call(self.function)

    def records_in(self, body: Any) -> Any:
        """The answer's records; an exception body is an error, never data."""
        if isinstance(body, dict) and "exception" in body:
            self.source.raise_exception(self, body)
        return super().records_in(body)

    def common(self, key: str, modified: datetime | None = None) -> dict[str, Any]:
        """The fields every entity of this source has."""
        return {
            "tenant": self.source.tenant,
            "source": self.source.ref,
            "key": key,
            "source_modified": modified,
        }

    def record_key(self, record: Any) -> str | None:
        """Keys are composed by the mapping; a dead letter is not keyed."""
        return None


class _Categories(_Function):
    name = "categories"
    function = "core_course_get_categories"
    raw_model = _Category
    entity_type = Organisation

    def to_entity(self, raw: _Category) -> Organisation:
        number = (raw.idnumber or "").strip().upper().removeprefix("NO")
        return Organisation(
            **self.common(str(raw.id)),
            kind=OrganisationKind.SCHOOL_UNIT if raw.parent else OrganisationKind.OWNER,
            name=raw.name,
            org_number=number if number.isdigit() and len(number) == 9 else None,
            parent_key=str(raw.parent) if raw.parent else None,
        )


class _Courses(_Function):
    name = "courses"
    function = "core_course_get_courses"
    raw_model = _Course
    entity_type = Course

    def to_items(self, raw: _Course) -> Iterator[Item]:
        """The course and its class, then its participants, completion and grade items.

        A course without completion criteria answers every student alike: once it has
        been noted, its other students are not asked.
        """
        if raw.format == "site":
            return  # the front page is a course in Moodle's tables, not a course
        source, key = self.source, str(raw.id)
        if raw.enablecompletion:
            source.completion_courses.add(raw.id)
        common = self.common(key, _moment(raw.timemodified))
        yield from course_as_class(
            common,
            title=raw.fullname,
            code=raw.shortname or None,
            school_key=str(raw.categoryid),
        )
        yield from read_children(source, _EnrolledUsers(source, key))
        if source.settings.completion:
            for course, user in source.completion_targets:
                if course == raw.id and course not in source.noted:
                    stream = _CompletionStatuses(source, key, userid=str(user))
                    yield from read_children(source, stream)
        yield from read_children(source, _GradeItems(source, key))


class _PerTarget(_Function, ChildStream):
    """A function called once per course (`courseid`: the parent), or course and `userid`."""

    def params(self) -> dict[str, Any]:
        """The call's parameters and its target's."""
        target = {"courseid": self.parent_id, **self.ids} if self.has_parent else {}
        return {**super().params(), **target}


class _PerCourse(_PerTarget):
    """A function called once per course, below it."""


class _EnrolledUsers(_PerCourse):
    name = "enrolled_users"
    function = "core_enrol_get_enrolled_users"
    raw_model = _Participant
    entity_type = Enrollment

    def to_items(self, raw: _Participant) -> list[Item]:
        items: list[Item] = []
        if raw.id not in self.source.people:
            self.source.people.add(raw.id)
            eppn = eppn_of(raw.username) or eppn_of(raw.idnumber)
            items.append(
                Person(
                    **self.common(str(raw.id)),
                    eppn=eppn,
                    username=raw.username or None,
                    email=raw.email or None,
                    given_name=raw.firstname or None,
                    family_name=raw.lastname or None,
                    display_name=raw.fullname or None,
                    external_ids=(f"idnumber:{raw.idnumber}",)
                    if raw.idnumber and eppn_of(raw.idnumber) != eppn
                    else (),
                )
            )
        role = ROLES.get(raw.roles[0].shortname, EnrollmentRole.OTHER) if raw.roles else None
        if role is EnrollmentRole.STUDENT and raw.course in self.source.completion_courses:
            self.source.completion_targets.append((raw.course, raw.id))
        items.append(
            Enrollment(
                **self.common(f"{raw.course}-{raw.id}"),
                person_key=str(raw.id),
                class_key=str(raw.course),
                role=role or EnrollmentRole.OTHER,
                last_activity=_moment(raw.lastcourseaccess),
            )
        )
        return items


class _CompletionStatuses(_PerTarget):
    name = "course_completion_status"
    function = "core_completion_get_course_completion_status"
    records_key = "completionstatus"
    raw_model = _CompletionStatus
    entity_type = Result

    def records_in(self, body: Any) -> Any:
        """The one status of the answer, as a list; a course without criteria: none."""
        if isinstance(body, dict) and body.get("errorcode") in NO_CRITERIA:
            return []
        records = super().records_in(body)
        return [records] if isinstance(records, dict) else records

    def to_entity(self, raw: _CompletionStatus) -> Result:
        completed = _moment(raw.timecompleted)
        return Result(
            **self.common(f"completion-{raw.course}-{raw.user}", completed),
            line_item_key=f"completion-{raw.course}",
            line_item_title="Course completion",
            person_key=str(raw.user),
            class_key=str(raw.course),
            score_status=ScoreStatus.FULLY_GRADED if raw.completed else ScoreStatus.SUBMITTED,
            score=1.0 if raw.completed else 0.0,
            score_date=completed.date() if completed else None,
            score_min=0.0,
            score_max=1.0,
        )


class _GradeItems(_PerCourse):
    name = "grade_items"
    function = "gradereport_user_get_grade_items"
    records_key = "usergrades"
    raw_model = _UserGrades
    entity_type = Result

    def to_items(self, raw: _UserGrades) -> list[Item]:
        results: list[Item] = []
        for item in raw.gradeitems:
            if item.itemtype in ("course", "category"):
                continue  # totals, not assessed items
            graded = _moment(item.gradedategraded)
            objective = (item.idnumber or "").strip()
            results.append(
                Result(
                    **self.common(f"grade-{item.id}-{raw.userid}", graded),
                    line_item_key=f"item-{item.id}",
                    line_item_title=item.itemname,
                    person_key=str(raw.userid),
                    class_key=str(raw.courseid),
                    score_status=ScoreStatus.FULLY_GRADED
                    if item.graderaw is not None
                    else ScoreStatus.NOT_SUBMITTED,
                    score=item.graderaw,
                    score_date=graded.date() if graded else None,
                    score_min=item.grademin,
                    score_max=item.grademax,
                    learning_objective_ids=(f"moodle:{objective}",) if objective else (),
                )
            )
        return results


#: The calls made below each course, in order (completion: per student of the course).
PER_COURSE: tuple[type[_PerTarget], ...] = (_EnrolledUsers, _CompletionStatuses, _GradeItems)


# -- the source ------------------------------------------------------------------------------


class MoodleSourceSettings(HttpSourceSettings):
    """A Moodle site's web services (REST protocol), read with a web-service token."""

    type: Literal["moodle"]
    #: Ask each enrolled student's completion status in courses with completion enabled.
    completion: bool = True


class Moodle(ChildStreams):
    """Categories, courses, participants, completion and grade items from Moodle."""

    name: ClassVar[str] = "lms.moodle"
    system: ClassVar[str] = "moodle"
    entity_types = (Organisation, Person, Course, Class, Enrollment, Result)
    streams: ClassVar[tuple[type[HttpStream[Any, Any]], ...]] = (
        _Categories,
        _Courses,
    )
    settings: MoodleSourceSettings

    def __init__(self, settings: MoodleSourceSettings, **kwargs: Any) -> None:
        kwargs.pop("hmac_key", None)  # the hub reads no identity numbers from Moodle
        super().__init__(settings, **kwargs)
        self.completion_courses: set[int] = set()
        self.completion_targets: list[tuple[int, int]] = []
        self.people: set[int] = set()
        #: Courses noted without completion criteria.
        self.noted: set[int] = set()

    def authenticator(self, secret: str, clock: Callable[[], float]) -> Authenticator:
        """The token, sent as `wstoken` in every query."""
        return _QueryToken(secret)

    def call(self, function: str) -> dict[str, str]:
        """The query parameters of one web-service call."""
        assert isinstance(self.auth, _QueryToken)
        return {"wstoken": self.auth.token, "wsfunction": function, "moodlewsrestformat": "json"}

    def prepare(self) -> None:
        """Start a read: no course, student or person met yet."""
        self.completion_courses.clear()
        self.completion_targets.clear()
        self.people.clear()

    def check(self) -> None:
        """Call `core_webservice_get_site_info`: the token and the service answer."""
        response = self.get(self.url(SERVER_PATH), self.call("core_webservice_get_site_info"))
        body = self.read_body(response).value
        if isinstance(body, dict) and "exception" in body:
            self.raise_exception(_Categories(self), body)

    def page_of(self, stream: HttpStream[Any, Any], response: requests.Response) -> HttpPage:
        """The answer, its records told their course (and user).

        An answer with `nocriteriaset` is noted once per course.
        """
        page = super().page_of(stream, response)
        if not isinstance(stream, _Function):
            return page
        current = {k: int(v) for k, v in page.params.items() if k in ("courseid", "userid")}
        if isinstance(page.body, dict) and page.body.get("errorcode") in NO_CRITERIA:
            course = current.get("courseid", 0)
            if course not in self.noted:
                self.noted.add(course)
                self.note(f"course {course} has no completion criteria: no completion read")
        for record in page.records:
            if isinstance(record, dict):
                record.setdefault(COURSE_FIELD, current.get("courseid"))
                record.setdefault(USER_FIELD, current.get("userid"))
        return page

    def raise_exception(self, stream: HttpStream[Any, Any], body: dict[str, Any]) -> None:
        """Raise the error a Moodle exception body (HTTP 200) means."""
        code = str(body.get("errorcode") or body.get("exception") or "unknown")
        message = without_secrets(str(body.get("message") or "")[:200], self.auth.secrets())
        function = getattr(stream, "function", stream.name)
        text = f"{function} failed: {code}" + (f": {message}" if message else "")
        if code in AUTH_ERRORS:
            raise AuthError(text, connector=self.name, path=SERVER_PATH)
        if code in ("invalidparameter", "invalidrecord", "invalidfunction"):
            raise ConfigError(text, connector=self.name, path=SERVER_PATH)
        raise FatalError(text, connector=self.name, path=SERVER_PATH)


CONNECTOR = ConnectorSpec(
    settings=MoodleSourceSettings,
    connector=Moodle,
    domain="lms",
    pool=Pool("hub_lms_moodle", 4, "Moodle syncs"),
    title="Moodle (web services)",
    build=with_secret(Moodle),
    connection=ConnectionForm(
        login_field=None, form_fields=("auth.kind",), defaults=(("auth.kind", "bearer"),)
    ),
    doc="docs/lms.md",
)
