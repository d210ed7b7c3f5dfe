"""A OneRoster 1.1 or 1.2 REST provider (rostering, gradebook): schools, people, classes, results.

Reads `<rostering>/{orgs,academicSessions,courses,classes,users,enrollments}` and
`<gradebook>/{lineItems,results}`, where the service paths follow `version` (1.2:
`/ims/oneroster/rostering/v1p2` and `/ims/oneroster/gradebook/v1p2`; 1.1: both
`/ims/oneroster/v1p1`) unless `rostering_path`/`gradebook_path` say otherwise. A provider
without the gradebook service (404 on its first page) is read without results, noted in
the run report and `hub check`, and its earlier results are kept. Pages use `limit`/`offset`
paging (following `Link: rel="next"` and stopping at `X-Total-Count` when the server sends
them). Orgs and users become the identity domain's `Organisation` and `Person` (keyed by
`sourcedId`; `username`, email, the Feide identifier and other `userIds` kept for matching
with the directory later); the rest become `schemas.lms` entities.

Incremental reads: each stream's bookmark is the newest `dateLastModified` it has seen; an
incremental run asks for `filter=dateLastModified>'<bookmark - overlap>'`, so records that
share the bookmark's timestamp are read again rather than lost (the runner publishes only
real changes). `status: tobedeleted` is a delete (`Removed`) on an incremental run; a full
run leaves such records out, so the runner's reconciliation deletes them together with
anything that vanished without a trace. Line items are a lookup for results (their title,
class and learning objectives), read in full on every run.

A national identity number in `userIds` becomes a keyed HMAC here and goes nowhere else,
whatever the entry's type: the types in `NATIONAL_ID_TYPES` are read as one, and any other
value that is one is caught by value (`connectors.privacy`, through `Source.guarded`). One
that fails its checks is dropped and the user published without the HMAC (`nin_invalid`).
OneRoster has no standard marker for protected identities: no user is published protected.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import quote

import requests
from pydantic import BaseModel, ConfigDict, Field

from connectors.base import RetryPolicy, bookmark_text
from connectors.errors import ConfigError, SkippableRecordError
from connectors.http import HttpSource, HttpSourceSettings, HttpStream, Incremental, OffsetPaginator
from connectors.lms._common import COMPETENCE_TAGS, competence_areas, eppn_of, normalise_tag
from connectors.privacy import hmac_of, looks_like_national_id, national_id
from connectors.registry import ConnectorSpec, Pool, SourceContext
from schemas.entities import (
    Entity,
    Key,
    Organisation,
    OrganisationKind,
    Person,
    Role,
    Timestamp,
)
from schemas.lms import (
    AcademicSession,
    Class,
    ClassType,
    Course,
    Enrollment,
    EnrollmentRole,
    ObjectiveResult,
    Result,
    ScoreStatus,
    SessionKind,
)

#: The services' base paths per OneRoster version (1.1 has one path for both).
SERVICE_PATHS: dict[str, dict[str, str]] = {
    "1.2": {
        "rostering": "/ims/oneroster/rostering/v1p2",
        "gradebook": "/ims/oneroster/gradebook/v1p2",
    },
    "1.1": {"rostering": "/ims/oneroster/v1p1", "gradebook": "/ims/oneroster/v1p1"},
}

#: OneRoster user roles (1.1 and 1.2 vocabularies) → the hub's roles.
USER_ROLES: dict[str, Role] = {
    "student": Role.PUPIL,
    "teacher": Role.TEACHER,
    "aide": Role.ASSISTANT,
    "administrator": Role.ADMINISTRATOR,
    "districtAdministrator": Role.ADMINISTRATOR,
    "siteAdministrator": Role.ADMINISTRATOR,
    "systemAdministrator": Role.ADMINISTRATOR,
    "principal": Role.SCHOOL_LEADER,
    "counselor": Role.STAFF,
    "proctor": Role.STAFF,
    "guardian": Role.GUARDIAN,
    "parent": Role.GUARDIAN,
    "relative": Role.GUARDIAN,
}
ENROLLMENT_ROLES: dict[str, EnrollmentRole] = {
    "student": EnrollmentRole.STUDENT,
    "teacher": EnrollmentRole.TEACHER,
    "aide": EnrollmentRole.AIDE,
    "guardian": EnrollmentRole.GUARDIAN,
    "parent": EnrollmentRole.GUARDIAN,
    "relative": EnrollmentRole.GUARDIAN,
    "proctor": EnrollmentRole.PROCTOR,
    "administrator": EnrollmentRole.ADMINISTRATOR,
}
ORG_KINDS: dict[str, OrganisationKind] = {
    "district": OrganisationKind.OWNER,
    "school": OrganisationKind.SCHOOL_UNIT,
}
#: Statuses that mark a record deleted: `tobedeleted`, and OneRoster 1.0's `inactive`, which
#: 1.1 and 1.2 say to read as `tobedeleted`.
DELETED_STATUSES = frozenset({"tobedeleted", "inactive"})
#: OneRoster 1.2's prefix for a provider's own vocabulary terms (`ext:` + name).
EXTENSION_PREFIX = "ext:"
SESSION_KINDS: dict[str, SessionKind] = {
    "schoolYear": SessionKind.SCHOOL_YEAR,
    "semester": SessionKind.SEMESTER,
    "term": SessionKind.TERM,
    "gradingPeriod": SessionKind.GRADING_PERIOD,
}
#: `userIds` types (normalised) that hold a national identity number.
NATIONAL_ID_TYPES = frozenset(
    {"nin", "fnr", "fodselsnummer", "fødselsnummer", "personnummer", "pnr", "ssn", "cpr"}
    | {"nationalid", "nationalidentitynumber", "civicno"}
)
#: `userIds` types (normalised) that hold the Feide identifier (eduPersonPrincipalName).
EPPN_TYPES = frozenset({"feide", "feideid", "eppn", "edupersonprincipalname"})

__all__ = ["COMPETENCE_TAGS", "OneRoster", "bookmark_text", "normalise_tag"]


# -- raw shapes (OneRoster 1.2 JSON binding; only what the hub reads) ------------------


class _Raw(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Ref(_Raw):
    sourcedId: Key


class _Header(_Raw):
    """What every OneRoster record has: its id, status and `dateLastModified`."""

    sourcedId: Key
    status: Literal["active", "tobedeleted", "inactive"]
    dateLastModified: Timestamp


class _Record(_Header):
    """A record the mapping reads beyond its header."""


class _CourseMetadata(_Raw):
    """The part of a course's free-form `metadata` the mapping reads: its tags."""

    tags: list[str] | None = None
    keywords: list[str] | None = None


class _Org(_Record):
    name: Annotated[str, Field(min_length=1)]
    type: str
    identifier: str | None = None
    parent: _Ref | None = None


class _Session(_Record):
    title: Annotated[str, Field(min_length=1)]
    type: str
    startDate: date
    endDate: date
    parent: _Ref | None = None
    schoolYear: int | None = None


class _Course(_Record):
    title: Annotated[str, Field(min_length=1)]
    metadata: _CourseMetadata | None = None
    courseCode: str | None = None
    schoolYear: _Ref | None = None
    org: _Ref | None = None
    grades: list[str] = []
    subjects: list[str] = []
    subjectCodes: list[str] = []


class _Class(_Record):
    title: Annotated[str, Field(min_length=1)]
    classCode: str | None = None
    classType: Annotated[str, Field(pattern=r"^(homeroom|scheduled|ext:[a-zA-Z0-9.\-_]+)$")]
    course: _Ref
    school: _Ref
    terms: list[_Ref] = []
    grades: list[str] = []
    subjectCodes: list[str] = []


class _UserId(_Raw):
    type: Annotated[str, Field(min_length=1)]
    identifier: Annotated[str, Field(min_length=1)]


class _UserRole(_Raw):
    roleType: str = "primary"
    role: str
    org: _Ref | None = None


class _User(_Record):
    username: str | None = None
    userIds: list[_UserId] = []
    givenName: str | None = None
    familyName: str | None = None
    preferredFirstName: str | None = None
    email: str | None = None
    roles: list[_UserRole] = []
    role: str | None = None  # OneRoster 1.1's single role
    orgs: list[_Ref] = []  # OneRoster 1.1's organisations
    primaryOrg: _Ref | None = None
    grades: list[str] = []


class _Enrollment(_Record):
    user: _Ref
    class_: _Ref = Field(alias="class")
    school: _Ref | None = None
    role: str
    primary: bool = False
    beginDate: date | None = None
    endDate: date | None = None


class _ObjectiveIds(_Raw):
    source: Annotated[str, Field(min_length=1)]
    learningObjectiveIds: list[str] = []


class _LineItem(_Record):
    title: str | None = None
    class_: _Ref | None = Field(default=None, alias="class")
    resultValueMin: float | None = None
    resultValueMax: float | None = None
    learningObjectiveSet: list[_ObjectiveIds] | None = None


class _ObjectiveScore(_Raw):
    learningObjectiveId: Annotated[str, Field(min_length=1)]
    score: float | None = None
    textScore: str | None = None


class _ObjectiveResults(_Raw):
    source: Annotated[str, Field(min_length=1)]
    learningObjectiveResults: list[_ObjectiveScore] = []


class _Result(_Record):
    lineItem: _Ref
    student: _Ref
    class_: _Ref | None = Field(default=None, alias="class")
    scoreStatus: ScoreStatus
    score: float | None = None
    textScore: str | None = None
    scoreDate: date | datetime | None = None
    learningObjectiveSet: list[_ObjectiveResults] | None = None


@dataclass(frozen=True)
class _LineItemInfo:
    title: str | None
    class_key: str | None
    objective_ids: tuple[str, ...]
    score_min: float | None
    score_max: float | None


# -- streams -------------------------------------------------------------------------


class _Stream(HttpStream[Any, Any]):
    """A OneRoster collection: incremental by `dateLastModified`; `tobedeleted` is a delete."""

    records_key: ClassVar[str]
    paginator = OffsetPaginator("limit", "offset", "X-Total-Count", follow_link_header=True)
    incremental: ClassVar[Incremental | None] = Incremental(
        "dateLastModified", param="filter", template="dateLastModified>'{since}'"
    )
    deleted_when = ("status", DELETED_STATUSES)
    #: The OneRoster service the collection belongs to; `path` is below its base path.
    service: ClassVar[Literal["rostering", "gradebook"]] = "rostering"
    source: OneRoster

    def common(self, raw: _Record) -> dict[str, Any]:
        """The fields every entity takes from the record header."""
        return {
            "tenant": self.source.tenant,
            "source": self.source.ref,
            "key": raw.sourcedId,
            "source_modified": raw.dateLastModified,
        }


class _Orgs(_Stream):
    name = "orgs"
    path = "/orgs"
    records_key = "orgs"
    raw_model = _Org
    entity_type = Organisation

    def to_entity(self, raw: _Org) -> Organisation:
        identifier = (raw.identifier or "").strip()
        return Organisation(
            **self.common(raw),
            kind=ORG_KINDS.get(raw.type, OrganisationKind.OTHER),
            name=raw.name,
            org_number=identifier if identifier.isdigit() and len(identifier) == 9 else None,
            school_unit_code=identifier if identifier.isdigit() and len(identifier) == 8 else None,
            parent_key=raw.parent.sourcedId if raw.parent else None,
        )


class _AcademicSessions(_Stream):
    name = "academicSessions"
    path = "/academicSessions"
    records_key = "academicSessions"
    raw_model = _Session
    entity_type = AcademicSession

    def to_entity(self, raw: _Session) -> AcademicSession:
        kind = SESSION_KINDS.get(raw.type)
        if kind is None and raw.type.startswith(EXTENSION_PREFIX):
            # 1.2 lets a provider add its own session kinds as `ext:` terms (a Norwegian
            # "ext:halvaar"): a period the provider defines, read as a term, never a year.
            kind = SessionKind.TERM
        if kind is None:
            raise SkippableRecordError(
                "type is not a known session type", connector=self.source.name
            )
        return AcademicSession(
            **self.common(raw),
            title=raw.title,
            kind=kind,
            start_date=raw.startDate,
            end_date=raw.endDate,
            school_year=raw.schoolYear,
            parent_key=raw.parent.sourcedId if raw.parent else None,
        )


class _Courses(_Stream):
    name = "courses"
    path = "/courses"
    records_key = "courses"
    raw_model = _Course
    entity_type = Course

    def to_entity(self, raw: _Course) -> Course:
        metadata = raw.metadata or _CourseMetadata()
        tags = {
            normalise_tag(t)
            for t in (*(metadata.tags or ()), *(metadata.keywords or ()))
            if t.strip()
        }
        words = tags | {normalise_tag(s) for s in (*raw.subjects, *raw.subjectCodes)}
        areas = competence_areas(words)
        return Course(
            **self.common(raw),
            title=raw.title,
            course_code=raw.courseCode,
            org_key=raw.org.sourcedId if raw.org else None,
            school_year_key=raw.schoolYear.sourcedId if raw.schoolYear else None,
            grades=tuple(raw.grades),
            subjects=tuple(raw.subjects),
            subject_codes=tuple(raw.subjectCodes),
            tags=tuple(sorted(tags)),
            competence_areas=areas,
        )


class _Classes(_Stream):
    name = "classes"
    path = "/classes"
    records_key = "classes"
    raw_model = _Class
    entity_type = Class

    def to_entity(self, raw: _Class) -> Class:
        return Class(
            **self.common(raw),
            title=raw.title,
            # An `ext:` class type is the provider's own kind of scheduled class: only
            # "homeroom" makes a base group.
            class_type=ClassType.HOMEROOM if raw.classType == "homeroom" else ClassType.SCHEDULED,
            class_code=raw.classCode,
            course_key=raw.course.sourcedId,
            school_key=raw.school.sourcedId,
            term_keys=tuple(t.sourcedId for t in raw.terms),
            grades=tuple(raw.grades),
            subject_codes=tuple(raw.subjectCodes),
        )


class _Users(_Stream):
    name = "users"
    path = "/users"
    records_key = "users"
    raw_model = _User
    entity_type = Person

    def to_entity(self, raw: _User) -> Person:
        eppn: str | None = None
        nin_hmac: str | None = None
        nin_invalid = False
        external: set[str] = set()
        for user_id in raw.userIds:
            kind = normalise_tag(user_id.type).replace("-", "")
            value = user_id.identifier.strip()
            if kind in NATIONAL_ID_TYPES:
                number = self.source.national_id(value)
                if number is None:
                    nin_invalid = True
                else:
                    nin_hmac = nin_hmac or number
                continue
            if kind in EPPN_TYPES and eppn_of(value):
                eppn = eppn or eppn_of(value)
            external.add(f"{user_id.type}:{value}")
        role_names = [r.role for r in sorted(raw.roles, key=lambda r: r.roleType != "primary")]
        if raw.role:
            role_names.append(raw.role)
        roles = tuple(dict.fromkeys(USER_ROLES.get(name, Role.OTHER) for name in role_names))
        units = {r.org.sourcedId for r in raw.roles if r.org} | {o.sourcedId for o in raw.orgs}
        primary = raw.primaryOrg or next(
            (r.org for r in raw.roles if r.roleType == "primary" and r.org), None
        )
        given = raw.preferredFirstName or raw.givenName
        names = [n for n in (given, raw.familyName) if n]
        return Person(
            **self.common(raw),
            eppn=eppn,
            username=raw.username or None,
            email=raw.email or None,
            given_name=given,
            family_name=raw.familyName,
            display_name=" ".join(names) or None,
            roles=roles,
            unit_keys=tuple(sorted(units)),
            primary_unit_key=primary.sourcedId if primary else None,
            grade=_grade(raw.grades) if Role.PUPIL in roles else None,
            nin_hmac=nin_hmac,
            nin_invalid=nin_invalid,
            external_ids=tuple(sorted(external)),
        )

    def redact(self, record: Any) -> dict[str, Any]:
        """Scrubbed, with national-id `userIds` values (by type or shape) and password removed."""
        if not isinstance(record, dict):
            return super().redact(record)
        copy = dict(record)
        copy.pop("password", None)
        if isinstance(copy.get("userIds"), list):
            copy["userIds"] = [
                {**u, "identifier": "[redacted]"}
                if isinstance(u, dict)
                and (
                    normalise_tag(str(u.get("type", ""))).replace("-", "") in NATIONAL_ID_TYPES
                    or looks_like_national_id(str(u.get("identifier", "")))
                )
                else u
                for u in copy["userIds"]
            ]
        return super().redact(copy)


def _active(body: Any) -> bool:
    """Whether a single-record answer (`{"user": {...}}`) holds a record not `tobedeleted`."""
    records = [v for v in body.values() if isinstance(v, dict)] if isinstance(body, dict) else []
    return bool(records) and records[0].get("status") not in DELETED_STATUSES


def _grade(grades: list[str]) -> int | None:
    """The first grade as the hub counts it: 1–13, kindergarten 0, pre-kindergarten -1."""
    for text in grades:
        value = text.strip().upper()
        if value in ("KG", "K"):
            return 0
        if value in ("PK", "PR", "IT"):
            return -1
        if value.isdigit() and 0 <= int(value) <= 13:
            return int(value)
    return None


class _Enrollments(_Stream):
    name = "enrollments"
    path = "/enrollments"
    records_key = "enrollments"
    raw_model = _Enrollment
    entity_type = Enrollment

    def to_entity(self, raw: _Enrollment) -> Enrollment:
        return Enrollment(
            **self.common(raw),
            person_key=raw.user.sourcedId,
            class_key=raw.class_.sourcedId,
            school_key=raw.school.sourcedId if raw.school else None,
            role=ENROLLMENT_ROLES.get(raw.role, EnrollmentRole.OTHER),
            primary=raw.primary,
            begin_date=raw.beginDate,
            end_date=raw.endDate,
        )


class _LineItems(_Stream):
    """Not published: the title, class and objectives that results are read with."""

    name = "lineItems"
    path = "/lineItems"
    service = "gradebook"
    #: A provider without the gradebook service answers 404: read without it, keep results.
    skip_statuses = frozenset({404})
    keep_when_not_offered = True
    records_key = "lineItems"
    raw_model = _LineItem
    entity_type = Result
    dead_letter_entity = "line_item"
    #: A lookup: read in full on every run.
    incremental = None

    def to_items(self, raw: _LineItem) -> tuple[()]:
        """Remember the line item for the results; yield nothing."""
        objectives = tuple(
            f"{s.source}:{i}"
            for s in raw.learningObjectiveSet or ()
            for i in s.learningObjectiveIds
        )
        self.source.line_items[raw.sourcedId] = _LineItemInfo(
            raw.title,
            raw.class_.sourcedId if raw.class_ else None,
            objectives,
            raw.resultValueMin,
            raw.resultValueMax,
        )
        return ()


class _Results(_Stream):
    name = "results"
    path = "/results"
    service = "gradebook"
    #: A provider without the gradebook service answers 404: read without it, keep results.
    skip_statuses = frozenset({404})
    keep_when_not_offered = True
    records_key = "results"
    raw_model = _Result
    entity_type = Result

    def to_entity(self, raw: _Result) -> Result:
        item = self.source.line_items.get(raw.lineItem.sourcedId)
        score_date = raw.scoreDate.date() if isinstance(raw.scoreDate, datetime) else raw.scoreDate
        return Result(
            **self.common(raw),
            line_item_key=raw.lineItem.sourcedId,
            line_item_title=item.title if item else None,
            person_key=raw.student.sourcedId,
            class_key=raw.class_.sourcedId if raw.class_ else (item.class_key if item else None),
            score_status=raw.scoreStatus,
            score=raw.score,
            text_score=raw.textScore,
            score_date=score_date,
            score_min=item.score_min if item else None,
            score_max=item.score_max if item else None,
            learning_objective_ids=item.objective_ids if item else (),
            objective_results=tuple(
                ObjectiveResult(
                    source=s.source,
                    objective_id=o.learningObjectiveId,
                    score=o.score,
                    text_score=o.textScore,
                )
                for s in raw.learningObjectiveSet or ()
                for o in s.learningObjectiveResults
            ),
        )


# -- the source ----------------------------------------------------------------------


class OneRosterSourceSettings(HttpSourceSettings):
    """A OneRoster 1.1 or 1.2 REST provider (rostering and gradebook), e.g. an LMS or SIS."""

    type: Literal["oneroster"]
    #: The OneRoster version the provider serves: it decides the services' base paths.
    version: Literal["1.1", "1.2"] = "1.2"
    #: The rostering service's base path below `base_url`; default the version's.
    rostering_path: Annotated[str, Field(pattern=r"^/")] | None = None
    #: The gradebook service's base path below `base_url`; default the version's.
    gradebook_path: Annotated[str, Field(pattern=r"^/")] | None = None
    #: Read lineItems and results from the gradebook service too (a provider without it is
    #: read anyway: a warning, not a failure).
    gradebook: bool = True
    #: How far before its bookmark an incremental read starts, so records that share the
    #: bookmark's timestamp, or were committed late, are not lost.
    incremental_overlap: timedelta = timedelta(seconds=60)


class OneRoster(HttpSource):
    """Orgs, sessions, courses, classes, users, enrollments and results from OneRoster 1.1/1.2."""

    name: ClassVar[str] = "lms.oneroster"
    system: ClassVar[str] = "oneroster"
    entity_types = (
        Organisation,
        Person,
        AcademicSession,
        Course,
        Class,
        Enrollment,
        Result,
    )
    streams = (
        _Orgs,
        _AcademicSessions,
        _Courses,
        _Classes,
        _Users,
        _Enrollments,
        _LineItems,
        _Results,
    )
    supports_incremental = True
    #: Every collection pages by `limit`/`offset`: a hard delete during a full read can
    #: hide a live record, so unseen keys are looked up by sourcedId before a delete.
    offset_paged = frozenset(
        stream.entity_type.entity for stream in streams if stream.dead_letter_entity != "line_item"
    )
    settings: OneRosterSourceSettings

    def __init__(
        self,
        settings: OneRosterSourceSettings,
        *,
        tenant: str,
        secret: str,
        hmac_key: bytes,
        country: str = "NO",
        retry: RetryPolicy | None = None,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(
            settings, tenant=tenant, secret=secret, retry=retry, session=session, clock=clock
        )
        self._hmac_key = hmac_key
        self.country = country
        self.line_items: dict[str, _LineItemInfo] = {}

    def service_path(self, service: str) -> str:
        """A service's base path: the configured one, or the version's."""
        configured = getattr(self.settings, f"{service}_path")
        return str(configured or SERVICE_PATHS[self.settings.version][service]).rstrip("/")

    def stream_url(self, stream: HttpStream[Any, Any]) -> str:
        """The collection's URL: base URL, the service's base path, the collection."""
        service = getattr(stream, "service", "rostering")
        return self.url(self.service_path(service) + stream.path)

    def check(self) -> None:
        """Authenticate and read one org; then probe the gradebook, noting its absence."""
        super().check()
        if not self.settings.gradebook:
            return
        stream = _LineItems(self)
        try:
            self.fetch_page(stream, None, 1)
        except ConfigError as exc:
            if exc.status not in stream.skip_statuses:
                raise
            self.note(
                f"gradebook service not offered (HTTP {exc.status} on "
                f"{self.service_path('gradebook')}/lineItems): results will not be read"
            )

    def streams_to_read(self) -> tuple[type[HttpStream[Any, Any]], ...]:
        """Every stream; without the gradebook, not line items and results."""
        if self.settings.gradebook:
            return self.streams
        return tuple(s for s in self.streams if s not in (_LineItems, _Results))

    def confirm_gone(self, entity_type: type[Entity], keys: Sequence[str]) -> set[str] | None:
        """Look each unseen record up by sourcedId: a 404 or `tobedeleted` confirms the delete."""
        stream = next(
            (
                s
                for s in self.streams_to_read()
                if s.entity_type is entity_type and s is not _LineItems
            ),
            None,
        )
        if stream is None:
            return None
        return self.confirm_gone_by_lookup(
            stream,
            keys,
            lambda key: f"{self.stream_url(stream(self))}/{quote(key, safe='')}",
            _active,
        )

    def national_id(self, value: str) -> str | None:
        """The keyed HMAC of a national identity number; None when it fails its checks."""
        number = national_id(value, self.country)
        return hmac_of(self._hmac_key, number) if number is not None and self._hmac_key else None


def _build(settings: OneRosterSourceSettings, context: SourceContext) -> OneRoster:
    return OneRoster(
        settings,
        tenant=context.tenant,
        secret=settings.auth.secret.resolve(),
        hmac_key=context.hmac_key(),
        country=context.country,
    )


CONNECTOR = ConnectorSpec(
    settings=OneRosterSourceSettings,
    connector=OneRoster,
    domain="lms",
    pool=Pool("hub_lms_oneroster", 4, "OneRoster syncs"),
    title="OneRoster 1.1/1.2",
    build=_build,
    doc="docs/lms.md",
)
