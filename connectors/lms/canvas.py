"""Canvas LMS (REST API): schools, people, courses, enrolments, completion, outcome results.

Reads, with an access token (`Authorization: Bearer`), below `/api/v1`:
`accounts/:id/sub_accounts?recursive=true` (schools), `accounts/:id/users` (people, with
e-mail), `accounts/:id/courses` (each Canvas course is the hub's `Course` and its one
`Class`), then for every course `courses/:id/enrollments` (→ `Enrollment`, with
`last_activity_at`), `courses/:id/bulk_user_progress` (module completion → a completion
`Result`; a course without module requirements has none) and `courses/:id/outcome_results`
(→ `Result` per outcome and learner, the outcome's id as learning objective).

Pages follow the `Link` header's `rel="next"` (`per_page` up to 100). Each course's
collections are read below it, right after it, as child collections
(`connectors/lms/_children.py`). Canvas throttles with 429 and, on
older instances, with 403 and the body `403 Forbidden (Rate Limit Exceeded)`; both are
retried with backoff (`X-Rate-Limit-Remaining` says how much of the bucket is left).
Canvas has no change feed for these collections: every run is a full read.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

import requests
from pydantic import BaseModel, ConfigDict, Field

from connectors.base import Item
from connectors.errors import Action
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
from schemas.lms import (
    Class,
    Course,
    Enrollment,
    EnrollmentRole,
    ObjectiveResult,
    Result,
    ScoreStatus,
)

__all__ = ["Canvas", "CanvasSourceSettings"]

#: Canvas enrolment types → the hub's enrolment roles.
ENROLLMENT_TYPES: dict[str, EnrollmentRole] = {
    "StudentEnrollment": EnrollmentRole.STUDENT,
    "TeacherEnrollment": EnrollmentRole.TEACHER,
    "TaEnrollment": EnrollmentRole.AIDE,
    "ObserverEnrollment": EnrollmentRole.GUARDIAN,
    "DesignerEnrollment": EnrollmentRole.OTHER,
}
#: The body of Canvas's older throttling answer (HTTP 403).
RATE_LIMIT_TEXT = "Rate Limit Exceeded"
#: Where `page_of` notes the course of a per-course record (not a Canvas field).
COURSE_FIELD = "_course_id"


class _Raw(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class _Account(_Raw):
    id: int
    name: Annotated[str, Field(min_length=1)]
    parent_account_id: int | None = None
    root_account_id: int | None = None
    sis_account_id: str | None = None
    workflow_state: str = "active"


class _User(_Raw):
    id: int
    name: str | None = None
    sortable_name: str | None = None
    short_name: str | None = None
    sis_user_id: str | None = None
    integration_id: str | None = None
    login_id: str | None = None
    email: str | None = None


class _Course(_Raw):
    id: int
    name: Annotated[str, Field(min_length=1)]
    course_code: str | None = None
    account_id: int
    workflow_state: str = "available"
    sis_course_id: str | None = None
    start_at: datetime | None = None
    end_at: datetime | None = None


class _Enrollment(_Raw):
    id: int
    course_id: int
    user_id: int
    type: str
    enrollment_state: str = "active"
    created_at: datetime | None = None
    updated_at: datetime | None = None
    start_at: datetime | None = None
    end_at: datetime | None = None
    last_activity_at: datetime | None = None


class _ProgressFigures(_Raw):
    requirement_count: int | None = None
    requirement_completed_count: int | None = None
    completed_at: datetime | None = None


class _UserProgress(_Raw):
    id: int
    progress: _ProgressFigures
    course: int = Field(alias=COURSE_FIELD)


class _OutcomeLinks(_Raw):
    user: str
    learning_outcome: str
    alignment: str | None = None


class _OutcomeResult(_Raw):
    id: int
    score: float | None = None
    possible: float | None = None
    mastery: bool | None = None
    submitted_or_assessed_at: datetime | None = None
    links: _OutcomeLinks
    course: int = Field(alias=COURSE_FIELD)


# -- streams -----------------------------------------------------------------------------------


class _Stream(HttpStream[Any, Any]):
    records_key = ""
    paginator: ClassVar[HttpPaginator] = LinkHeaderPaginator("per_page")
    source: Canvas

    def common(self, key: str, modified: datetime | None = None) -> dict[str, Any]:
        """The fields every entity of this source has."""
        return {
            "tenant": self.source.tenant,
            "source": self.source.ref,
            "key": key,
            "source_modified": modified,
        }


class _SubAccounts(_Stream):
    name = "sub_accounts"
    path = "/api/v1/accounts/{account}/sub_accounts"
    query = {"recursive": "true"}
    raw_model = _Account
    entity_type = Organisation

    def to_items(self, raw: _Account) -> list[Item]:
        if raw.workflow_state == "deleted":
            return []
        number = (raw.sis_account_id or "").strip().upper().removeprefix("NO")
        return [
            Organisation(
                **self.common(str(raw.id)),
                kind=OrganisationKind.SCHOOL_UNIT,
                name=raw.name,
                org_number=number if number.isdigit() and len(number) == 9 else None,
                parent_key=str(raw.parent_account_id) if raw.parent_account_id else None,
            )
        ]


class _Users(_Stream):
    name = "users"
    path = "/api/v1/accounts/{account}/users"
    query = {"include[]": "email"}
    raw_model = _User
    entity_type = Person

    def to_entity(self, raw: _User) -> Person:
        eppn = eppn_of(raw.login_id) or eppn_of(raw.sis_user_id)
        external = tuple(
            f"{kind}:{value}"
            for kind, value in (
                ("sis_user_id", raw.sis_user_id),
                ("integration_id", raw.integration_id),
            )
            if value and eppn_of(value) != eppn
        )
        family, _, given = (raw.sortable_name or "").partition(", ")
        return Person(
            **self.common(str(raw.id)),
            eppn=eppn,
            username=raw.login_id or None,
            email=raw.email or None,
            given_name=given.strip() or None,
            family_name=family.strip() or None,
            display_name=raw.name or raw.short_name or None,
            external_ids=external,
        )


class _Courses(_Stream):
    name = "courses"
    path = "/api/v1/accounts/{account}/courses"
    query = {"include[]": "term"}
    raw_model = _Course
    entity_type = Course

    def to_items(self, raw: _Course) -> Iterator[Item]:
        """The course and its class, then the course's collections."""
        if raw.workflow_state == "deleted":
            return
        key = str(raw.id)
        code = (raw.course_code or "").strip() or None
        yield from course_as_class(
            self.common(key), title=raw.name, code=code, school_key=str(raw.account_id)
        )
        source = self.source
        for stream in PER_COURSE:
            if source.settings.per_course or stream is _Enrollments:
                yield from read_children(source, stream(source, key))


class _PerCourseStream(_Stream, ChildStream):
    """A collection of one course, read below it."""

    def record_key(self, record: Any) -> str | None:
        """Keys are composed by the mapping; a dead letter is not keyed."""
        return None


class _Enrollments(_PerCourseStream):
    name = "enrollments"
    path = "/api/v1/courses/{id}/enrollments"
    query = {"state[]": ["active", "completed", "inactive"]}
    raw_model = _Enrollment
    entity_type = Enrollment

    def to_items(self, raw: _Enrollment) -> list[Item]:
        if raw.enrollment_state in ("deleted", "invited", "rejected"):
            return []
        ended = raw.end_at or (raw.updated_at if raw.enrollment_state == "completed" else None)
        begun = raw.start_at or raw.created_at
        return [
            Enrollment(
                **self.common(str(raw.id), raw.updated_at),
                person_key=str(raw.user_id),
                class_key=str(raw.course_id),
                role=ENROLLMENT_TYPES.get(raw.type, EnrollmentRole.OTHER),
                begin_date=begun.date() if begun else None,
                end_date=ended.date() if ended else None,
                last_activity=raw.last_activity_at,
            )
        ]


class _BulkProgress(_PerCourseStream):
    name = "bulk_user_progress"
    path = "/api/v1/courses/{id}/bulk_user_progress"
    raw_model = _UserProgress
    entity_type = Result

    def to_items(self, raw: _UserProgress) -> list[Item]:
        progress = raw.progress
        required = progress.requirement_count or 0
        if not required:
            return []  # no module requirements: nothing to complete
        done = progress.requirement_completed_count or 0
        status = (
            ScoreStatus.FULLY_GRADED
            if progress.completed_at is not None
            else ScoreStatus.PARTIALLY_GRADED
            if done
            else ScoreStatus.NOT_SUBMITTED
        )
        return [
            Result(
                **self.common(f"completion-{raw.course}-{raw.id}", progress.completed_at),
                line_item_key=f"completion-{raw.course}",
                line_item_title="Course completion",
                person_key=str(raw.id),
                class_key=str(raw.course),
                score_status=status,
                score=float(done),
                score_date=progress.completed_at.date() if progress.completed_at else None,
                score_min=0.0,
                score_max=float(required),
            )
        ]


class _OutcomeResults(_PerCourseStream):
    name = "outcome_results"
    path = "/api/v1/courses/{id}/outcome_results"
    query = {"include[]": "outcomes"}
    records_key = "outcome_results"
    raw_model = _OutcomeResult
    entity_type = Result

    def records_in(self, body: Any) -> Any:
        """The page's results; its linked outcomes are remembered for their titles."""
        if isinstance(body, dict):
            linked = body.get("linked")
            for outcome in (linked.get("outcomes") or []) if isinstance(linked, dict) else []:
                if isinstance(outcome, dict) and "id" in outcome:
                    self.source.outcomes[str(outcome["id"])] = _outcome(outcome)
        return super().records_in(body)

    def to_entity(self, raw: _OutcomeResult) -> Result:
        outcome = raw.links.learning_outcome
        title, points = self.source.outcomes.get(outcome, (None, None))
        possible = raw.possible if raw.possible is not None else points
        when = raw.submitted_or_assessed_at
        return Result(
            **self.common(f"outcome-{raw.id}", when),
            line_item_key=f"outcome-{raw.course}-{outcome}",
            line_item_title=title,
            person_key=raw.links.user,
            class_key=str(raw.course),
            score_status=ScoreStatus.FULLY_GRADED
            if raw.score is not None
            else ScoreStatus.NOT_SUBMITTED,
            score=raw.score,
            score_date=when.date() if when else None,
            score_min=0.0 if possible is not None else None,
            score_max=possible,
            learning_objective_ids=(f"canvas:{outcome}",),
            objective_results=(
                (ObjectiveResult(source="canvas", objective_id=outcome, score=raw.score),)
                if raw.score is not None
                else ()
            ),
        )


#: The collections read below each course, in order (`per_course: false`: enrolments only).
PER_COURSE: tuple[type[_PerCourseStream], ...] = (_Enrollments, _BulkProgress, _OutcomeResults)


def _outcome(outcome: Mapping[str, Any]) -> tuple[str | None, float | None]:
    """A linked outcome's title (its display name first) and points possible."""
    title = outcome.get("display_name") or outcome.get("title")
    points = outcome.get("points_possible")
    number = (
        float(points) if isinstance(points, int | float) and not isinstance(points, bool) else None
    )
    return (str(title) if title else None), number


# -- the source ------------------------------------------------------------------------------


class CanvasSourceSettings(HttpSourceSettings):
    """A Canvas LMS instance, read for one account with an access token."""

    type: Literal["canvas"]
    #: The account whose sub-accounts, users and courses are read (`self`: the token's).
    account_id: Annotated[str, Field(pattern=r"^(self|\d+)$")] = "self"
    #: Read module completion (`bulk_user_progress`) and outcome results per course.
    per_course: bool = True
    page_size: Annotated[int, Field(ge=1, le=100)] = 100


class Canvas(ChildStreams):
    """Schools, people, courses, enrolments, completion and outcome results from Canvas."""

    name: ClassVar[str] = "lms.canvas"
    system: ClassVar[str] = "canvas"
    entity_types = (Organisation, Person, Course, Class, Enrollment, Result)
    streams: ClassVar[tuple[type[HttpStream[Any, Any]], ...]] = (
        _SubAccounts,
        _Users,
        _Courses,
    )
    settings: CanvasSourceSettings

    def __init__(self, settings: CanvasSourceSettings, **kwargs: Any) -> None:
        kwargs.pop("hmac_key", None)  # Canvas holds no identity numbers the hub reads
        super().__init__(settings, **kwargs)
        #: Linked outcomes by id: (title, points possible).
        self.outcomes: dict[str, tuple[str | None, float | None]] = {}

    def stream_url(self, stream: HttpStream[Any, Any]) -> str:
        """The account's collection, or a course's."""
        if isinstance(stream, ChildStream):
            return super().stream_url(stream)
        return self.url(stream.path.format(account=self.settings.account_id))

    def page_of(self, stream: HttpStream[Any, Any], response: requests.Response) -> HttpPage:
        """The page; a per-course stream's records are told their course."""
        page = super().page_of(stream, response)
        if isinstance(stream, _PerCourseStream) and stream.has_parent:
            for record in page.records:
                if isinstance(record, dict):
                    record[COURSE_FIELD] = int(stream.parent_id)
        return page

    def classify_error(self, response: requests.Response) -> Action | None:
        """Canvas's older throttling answer, 403 `Rate Limit Exceeded`, is throttling."""
        if response.status_code == 403 and RATE_LIMIT_TEXT in response.text:
            return Action.RATE_LIMITED
        return None


CONNECTOR = ConnectorSpec(
    settings=CanvasSourceSettings,
    connector=Canvas,
    domain="lms",
    pool=Pool("hub_lms_canvas", 4, "Canvas syncs"),
    title="Canvas LMS",
    build=with_secret(Canvas),
    connection=ConnectionForm(
        login_field=None,
        form_fields=("auth.kind", "account_id"),
        defaults=(("auth.kind", "bearer"),),
    ),
    doc="docs/lms.md",
)
