"""itslearning's Data Warehouse API (OData): schools, people, courses, participation, progress.

The Data Warehouse API is OData over a star-schema warehouse filled by a daily ETL, read
with basic authentication (an itslearning administrator account's OData credentials)
below the site's endpoint, e.g. `https://reporting.itslearning.com/odata/<site>`. Every
entity set answers `{"value": [...]}` in pages of a size the server fixes (10,000; `$top`
cannot raise or lower it) with a next link (`odata.nextLink`, or `@odata.nextLink`)
while more remain.

Read, in this order: `Organizations` (schools and the owner), `Users`, `Courses` (each an
itslearning course is both the hub's `Course` and its one `Class`), the `CourseProfiles`
lookup (a participant's role in a course), `UserCourseSessions` (activity, a lookup for
the memberships' last activity), `CourseMemberships` (→ `Enrollment`, with `last_activity`),
the `AssessmentStatuses` lookup, `UserGrades` (→ `Result`: an assessed learning item, a
completion when its status is a completed one), the `LearningObjectives` lookup and
`LearningObjectiveProgress` (→ `Result` per learner, course and objective, with the
objective's id: pupils' digital skills).

Incremental reads: dimension and grade tables carry `T_ModifiedDate`; an incremental run
asks for `$filter=T_ModifiedDate gt datetime'<bookmark - overlap>'`. Fact tables keyed by a
`DateId` (sessions, objective progress) return only the last 30 days unless filtered by
date, so the connector always filters them explicitly from `activity_since` (or
`activity_days` before today): older activity is never silently left out.

People are keyed by `UserId`; `UserName`, `Email` and the SIS `SyncKey` (in Norway
usually the Feide id) are kept for matching with the directory. A deleted or trashed user
or course is a delete on an incremental run and left out of a full one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from connectors.base import Item, Removed, bookmark_text
from connectors.errors import SkippableRecordError
from connectors.http import (
    HttpPage,
    HttpSource,
    HttpSourceSettings,
    HttpStream,
    Incremental,
    NextLinkPaginator,
)
from connectors.lms._common import (
    course_as_class,
    date_id,
    day_of,
    eppn_of,
    latest,
)
from connectors.registry import ConnectionForm, ConnectorSpec, Pool, with_secret
from schemas.entities import Entity, Organisation, OrganisationKind, Person, Role
from schemas.lms import (
    Class,
    Course,
    Enrollment,
    EnrollmentRole,
    ObjectiveResult,
    Result,
    ScoreStatus,
)

__all__ = ["Itslearning", "ItslearningSourceSettings"]

#: `ValidTo` of a current course membership ("endless future").
OPEN_END = date(9999, 12, 31)
#: `UserType` titles (lower case) → the hub's roles.
USER_ROLES: dict[str, Role] = {
    "student": Role.PUPIL,
    "pupil": Role.PUPIL,
    "elev": Role.PUPIL,
    "staff": Role.TEACHER,
    "teacher": Role.TEACHER,
    "lærer": Role.TEACHER,
    "ansatt": Role.STAFF,
    "administrator": Role.ADMINISTRATOR,
    "guardian": Role.GUARDIAN,
    "parent": Role.GUARDIAN,
    "foresatt": Role.GUARDIAN,
}
#: Course profile types (lower case) → enrolment roles.
COURSE_ROLES: dict[str, EnrollmentRole] = {
    "teacher": EnrollmentRole.TEACHER,
    "learner": EnrollmentRole.STUDENT,
    "student": EnrollmentRole.STUDENT,
    "pupil": EnrollmentRole.STUDENT,
    "assistant": EnrollmentRole.AIDE,
    "guest": EnrollmentRole.OTHER,
}
_GONE = frozenset({"deleted", "trashcan"})


# -- raw shapes (the Data Warehouse API's entity sets; only what the hub reads) ----------


class _Raw(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Organization(_Raw):
    OrganizationId: int
    Title: Annotated[str, Field(min_length=1)]
    ParentOrganizationId: int | None = None
    SyncKey: str | None = None
    T_ModifiedDate: datetime | None = None


class _User(_Raw):
    UserId: int
    FirstName: str | None = None
    LastName: str | None = None
    UserName: str | None = None
    Email: str | None = None
    SyncKey: str | None = None
    UserStatus: str = "Active"
    UserType: str | None = None
    OrganizationId: int | None = None
    T_ModifiedDate: datetime | None = None


class _Course(_Raw):
    CourseId: int
    CourseTitle: Annotated[str, Field(min_length=1)]
    CourseCode: str | None = None
    OrganizationId: int | None = None
    CourseStatus: str = "Active"
    IsCourseArchived: bool = False
    T_ModifiedDate: datetime | None = None


class _CourseProfile(_Raw):
    CourseProfileId: int
    Title: str | None = None
    ProfileType: str | None = None


class _CourseSession(_Raw):
    UserId: int
    CourseId: int
    DateId: int
    CourseSessionStartDate: datetime | None = None
    CourseSessionEndDate: datetime | None = None


class _CourseMembership(_Raw):
    CourseId: int
    UserId: int
    CourseProfileId: int | None = None
    CourseOrganizationId: int | None = None
    FirstOnline: datetime | None = None
    LastOnline: datetime | None = None
    ValidFrom: datetime | None = None
    ValidTo: datetime | None = None
    T_ModifiedDate: datetime | None = None


class _AssessmentStatus(_Raw):
    AssessmentStatusId: int
    Title: str | None = None


class _UserGrade(_Raw):
    LearningItemId: int
    CourseId: int
    UserId: int
    AssessmentStatusId: int | None = None
    Score: float | None = None
    SubmittedDate: datetime | None = None
    ReviewDate: datetime | None = None
    T_ModifiedDate: datetime | None = None


class _LearningObjective(_Raw):
    LearningObjectiveId: int
    Title: str | None = None


class _Progress(_Raw):
    LearningObjectiveId: int
    UserId: int
    CourseId: int
    DateId: int
    ScorePercentage: float | None = None
    IsMastered: bool | None = None


@dataclass(frozen=True)
class _Profile:
    role: EnrollmentRole


# -- paging and incremental reads ----------------------------------------------------------


class ODataNextLink(NextLinkPaginator):
    """OData's next link: `odata.nextLink` (v3, itslearning) or `@odata.nextLink` (v4).

    The server fixes the page size; no query parameter asks for one.
    """

    FIELDS = ("@odata.nextLink", "odata.nextLink")

    def next(self, page: HttpPage) -> str | None:
        """The body's next link in either spelling, made absolute."""
        for field in self.FIELDS:
            found = NextLinkPaginator(field).next(page)
            if found is not None:
                return found
        return None

    def total(self, page: HttpPage) -> int | None:
        """`odata.count` when the server sends one."""
        body = page.body if isinstance(page.body, dict) else {}
        value = body.get("@odata.count", body.get("odata.count"))
        if isinstance(value, str) and value.isdigit():
            return int(value)
        return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class _Modified(Incremental):
    """`$filter=T_ModifiedDate gt datetime'…'`: an OData v3 date-time literal has no zone."""

    def since_params(self, since: datetime) -> dict[str, str]:
        """The filter for records modified after `since`, written in UTC without a zone."""
        text = bookmark_text(since).removesuffix("Z")
        return {self.param: self.template.format(since=text)}


MODIFIED = _Modified(
    "T_ModifiedDate", param="$filter", template="T_ModifiedDate gt datetime'{since}'"
)


# -- streams ---------------------------------------------------------------------------------


class _Set(HttpStream[Any, Any]):
    """One entity set: records under `value`, OData next links."""

    records_key = "value"
    paginator = ODataNextLink()
    source: Itslearning

    def common(self, key: str, modified: datetime | None) -> dict[str, Any]:
        """The fields every entity of this source has."""
        return {
            "tenant": self.source.tenant,
            "source": self.source.ref,
            "key": key,
            "source_modified": modified,
        }

    def removed(self, key: str, *types: type[Entity]) -> list[Item]:
        """A record the source deleted: `Removed` on an incremental run; left out of a full one."""
        if self.source.full_snapshot:
            return []  # the runner's reconciliation deletes it exactly once
        return [Removed(t, key) for t in types]

    def record_ref(self, record: Any, index: int) -> str:
        """A dead letter names the record by its id fields, else its position."""
        if isinstance(record, dict):
            ids = [f"{k}={record[k]}" for k in sorted(record) if k.endswith("Id") and record[k]]
            if ids:
                return ",".join(ids[:3])
        return f"{self.name}#{index}"

    def record_key(self, record: Any) -> str | None:
        """Keys are composed by the mapping; a dead letter is not keyed."""
        return None


class _Lookup(_Set):
    """An entity set read in full as a lookup for later ones; publishes nothing."""

    dead_letter_entity = "lookup"
    entity_type = Result


class _DatedFacts(_Set):
    """A fact table keyed by `DateId`: always filtered from the first day of activity."""

    def params(self) -> dict[str, Any]:
        """`$filter=DateId ge <first day>`, so the server's 30-day default never applies."""
        return {**super().params(), "$filter": f"DateId ge {date_id(self.source.activity_from)}"}


class _Organizations(_Set):
    name = "organizations"
    path = "/Organizations"
    raw_model = _Organization
    entity_type = Organisation
    incremental = MODIFIED

    def to_entity(self, raw: _Organization) -> Organisation:
        number = (raw.SyncKey or "").strip().upper().removeprefix("NO")
        top = raw.ParentOrganizationId is None
        return Organisation(
            **self.common(str(raw.OrganizationId), raw.T_ModifiedDate),
            kind=OrganisationKind.OWNER if top else OrganisationKind.SCHOOL_UNIT,
            name=raw.Title,
            org_number=number if number.isdigit() and len(number) == 9 else None,
            parent_key=None if top else str(raw.ParentOrganizationId),
        )


class _Users(_Set):
    name = "users"
    path = "/Users"
    raw_model = _User
    entity_type = Person
    incremental = MODIFIED

    def to_items(self, raw: _User) -> list[Item]:
        key = str(raw.UserId)
        if raw.UserStatus.strip().lower() in _GONE:
            return self.removed(key, Person)
        sync_key = (raw.SyncKey or "").strip()
        eppn = eppn_of(sync_key)
        role = USER_ROLES.get((raw.UserType or "").strip().lower(), Role.OTHER)
        names = [n for n in (raw.FirstName, raw.LastName) if n]
        unit = str(raw.OrganizationId) if raw.OrganizationId is not None else None
        return [
            Person(
                **self.common(key, raw.T_ModifiedDate),
                eppn=eppn,
                username=raw.UserName or None,
                email=raw.Email or None,
                given_name=raw.FirstName or None,
                family_name=raw.LastName or None,
                display_name=" ".join(names) or None,
                roles=(role,),
                unit_keys=(unit,) if unit else (),
                primary_unit_key=unit,
                external_ids=(f"SyncKey:{sync_key}",) if sync_key and not eppn else (),
            )
        ]


class _Courses(_Set):
    name = "courses"
    path = "/Courses"
    raw_model = _Course
    entity_type = Course
    incremental = MODIFIED

    def to_items(self, raw: _Course) -> list[Item]:
        key = str(raw.CourseId)
        if raw.CourseStatus.strip().lower() in _GONE:
            return self.removed(key, Course, Class)
        if raw.OrganizationId is None:
            raise SkippableRecordError("course has no OrganizationId", connector=self.source.name)
        code = (raw.CourseCode or "").strip() or None
        common = self.common(key, raw.T_ModifiedDate)
        return course_as_class(
            common, title=raw.CourseTitle, code=code, school_key=str(raw.OrganizationId)
        )


class _CourseProfiles(_Lookup):
    name = "courseProfiles"
    path = "/CourseProfiles"
    raw_model = _CourseProfile

    def to_items(self, raw: _CourseProfile) -> tuple[()]:
        kind = (raw.ProfileType or raw.Title or "").strip().lower()
        self.source.profiles[raw.CourseProfileId] = _Profile(
            COURSE_ROLES.get(kind, EnrollmentRole.OTHER)
        )
        return ()


class _CourseSessions(_DatedFacts, _Lookup):
    name = "userCourseSessions"
    path = "/UserCourseSessions"
    raw_model = _CourseSession

    def to_items(self, raw: _CourseSession) -> tuple[()]:
        ended = latest(raw.CourseSessionEndDate, raw.CourseSessionStartDate)
        if ended is not None:
            pair = (raw.CourseId, raw.UserId)
            self.source.activity[pair] = latest(self.source.activity.get(pair), ended) or ended
        return ()


class _CourseMemberships(_Set):
    name = "courseMemberships"
    path = "/CourseMemberships"
    raw_model = _CourseMembership
    entity_type = Enrollment
    incremental = MODIFIED

    def to_entity(self, raw: _CourseMembership) -> Enrollment:
        profile = self.source.profiles.get(raw.CourseProfileId or -1)
        ends = raw.ValidTo.date() if raw.ValidTo else None
        return Enrollment(
            **self.common(f"{raw.CourseId}-{raw.UserId}", raw.T_ModifiedDate),
            person_key=str(raw.UserId),
            class_key=str(raw.CourseId),
            school_key=str(raw.CourseOrganizationId) if raw.CourseOrganizationId else None,
            role=profile.role if profile else EnrollmentRole.OTHER,
            begin_date=raw.FirstOnline.date() if raw.FirstOnline else None,
            end_date=None if ends is None or ends >= OPEN_END else ends,
            last_activity=latest(
                raw.LastOnline, self.source.activity.get((raw.CourseId, raw.UserId))
            ),
        )


class _AssessmentStatuses(_Lookup):
    name = "assessmentStatuses"
    path = "/AssessmentStatuses"
    raw_model = _AssessmentStatus

    def to_items(self, raw: _AssessmentStatus) -> tuple[()]:
        self.source.statuses[raw.AssessmentStatusId] = (raw.Title or "").strip().lower()
        return ()


class _UserGrades(_Set):
    name = "userGrades"
    path = "/UserGrades"
    raw_model = _UserGrade
    entity_type = Result
    incremental = MODIFIED

    def to_entity(self, raw: _UserGrade) -> Result:
        status = self.source.statuses.get(raw.AssessmentStatusId or -1, "")
        completed = status in self.source.completed_statuses
        when = raw.ReviewDate or raw.SubmittedDate
        return Result(
            **self.common(f"grade-{raw.LearningItemId}-{raw.UserId}", raw.T_ModifiedDate),
            line_item_key=f"item-{raw.LearningItemId}",
            person_key=str(raw.UserId),
            class_key=str(raw.CourseId),
            score_status=(
                ScoreStatus.FULLY_GRADED
                if completed
                else ScoreStatus.SUBMITTED
                if raw.SubmittedDate
                else ScoreStatus.NOT_SUBMITTED
            ),
            score=raw.Score,
            text_score=status or None,
            score_date=when.date() if when else None,
        )


class _LearningObjectives(_Lookup):
    name = "learningObjectives"
    path = "/LearningObjectives"
    raw_model = _LearningObjective

    def to_items(self, raw: _LearningObjective) -> tuple[()]:
        self.source.objectives[raw.LearningObjectiveId] = raw.Title
        return ()


class _ObjectiveProgress(_DatedFacts):
    name = "learningObjectiveProgress"
    path = "/LearningObjectiveProgress"
    raw_model = _Progress
    entity_type = Result

    def to_entity(self, raw: _Progress) -> Result:
        objective = str(raw.LearningObjectiveId)
        day = day_of(raw.DateId)
        assessed = raw.ScorePercentage is not None or raw.IsMastered is not None
        score = raw.ScorePercentage
        if score is None and raw.IsMastered is not None:
            score = 100.0 if raw.IsMastered else 0.0
        return Result(
            **self.common(f"objective-{raw.CourseId}-{objective}-{raw.UserId}", None),
            line_item_key=f"objective-{raw.CourseId}-{objective}",
            line_item_title=self.source.objectives.get(raw.LearningObjectiveId),
            person_key=str(raw.UserId),
            class_key=str(raw.CourseId),
            score_status=ScoreStatus.FULLY_GRADED if assessed else ScoreStatus.NOT_SUBMITTED,
            score=score,
            score_date=day,
            score_min=0.0,
            score_max=100.0,
            learning_objective_ids=(f"itslearning:{objective}",),
            objective_results=(
                (ObjectiveResult(source="itslearning", objective_id=objective, score=score),)
                if score is not None
                else ()
            ),
        )


# -- the source ------------------------------------------------------------------------------


class ItslearningSourceSettings(HttpSourceSettings):
    """itslearning's Data Warehouse API (OData) for one site, read with basic authentication."""

    type: Literal["itslearning"]
    #: The first day of course activity and objective progress read (the fact tables
    #: answer only 30 days unless filtered); default `activity_days` before today.
    activity_since: date | None = None
    activity_days: Annotated[int, Field(ge=1, le=3660)] = 400
    #: Assessment status titles (lower case) that make a grade a completion.
    completed_statuses: tuple[str, ...] = ("completed", "passed", "fullført", "bestått", "godkjent")
    #: How far before its bookmark an incremental read starts (the warehouse loads daily).
    incremental_overlap: timedelta = timedelta(hours=1)


class Itslearning(HttpSource):
    """Schools, people, courses, memberships, grades and objective progress from itslearning."""

    name: ClassVar[str] = "lms.itslearning"
    system: ClassVar[str] = "itslearning"
    entity_types = (Organisation, Person, Course, Class, Enrollment, Result)
    streams: ClassVar[tuple[type[HttpStream[Any, Any]], ...]] = (
        _Organizations,
        _Users,
        _Courses,
        _CourseProfiles,
        _CourseSessions,
        _CourseMemberships,
        _AssessmentStatuses,
        _UserGrades,
        _LearningObjectives,
        _ObjectiveProgress,
    )
    supports_incremental = True
    settings: ItslearningSourceSettings

    def __init__(self, settings: ItslearningSourceSettings, **kwargs: Any) -> None:
        kwargs.pop("hmac_key", None)  # itslearning's warehouse holds no identity numbers
        super().__init__(settings, **kwargs)
        self.profiles: dict[int, _Profile] = {}
        self.statuses: dict[int, str] = {}
        self.objectives: dict[int, str | None] = {}
        #: (course, user) → the end of their latest course session.
        self.activity: dict[tuple[int, int], datetime] = {}
        self.completed_statuses = frozenset(s.lower() for s in settings.completed_statuses)

    @property
    def activity_from(self) -> date:
        """The first day of activity and progress read."""
        since = self.settings.activity_since
        today = datetime.now(UTC).date()
        return since if since is not None else today - timedelta(days=self.settings.activity_days)


CONNECTOR = ConnectorSpec(
    settings=ItslearningSourceSettings,
    connector=Itslearning,
    domain="lms",
    pool=Pool("hub_lms_itslearning", 4, "itslearning Data Warehouse syncs"),
    title="itslearning (Data Warehouse API)",
    build=with_secret(Itslearning),
    connection=ConnectionForm(form_fields=("auth.kind",), defaults=(("auth.kind", "basic"),)),
    doc="docs/lms.md",
)
