"""Microsoft Teams classes, read from Microsoft Graph v1.0 education, as LMS entities.

Reads `GET /education/schools` (each school's classes from `/education/schools/{id}/
classes`, and each listed class's `/education/classes/{id}/assignments` and, for each
assignment given to students, its `/submissions`), then the classes with the delta query:
`GET /education/classes/delta?$top=…`, every `@odata.nextLink` until a page carries the
`@odata.deltaLink`, and for each class its `/members` (students and teachers,
educationUser) and `/teachers` (and its assignments, if no school listed it). A school
is an `Organisation`, a class is a `Class` and a `Course` of its own (Graph v1.0 classes
have no course), a member is a `Person` (once per read) and an `Enrollment` in the class,
and a student's submissions of the class's assignments make one completion `Result` in
the class.

**Completion.** The assignments that count are those given to students (any status but
`draft` and `scheduled`: Graph creates submissions when an assignment is published); a
student's are those with a submission of theirs. A submission is done when it is
`submitted`, `returned` or `excused`; `working` and `reassigned` (sent back for more work)
are not. A student has completed the class when every one of their assignments is done:
the result is `fully graded`, dated when the last of them was done; some done is `partially
graded`, none `not submitted` (score: done, of the assignments). A class without such
assignments, or a member without submissions, makes no completion claim. The latest
`submittedDateTime` or `unsubmittedDateTime` of a member's submissions (the student's own
actions) is the enrolment's `last_activity`.

Incremental reads are Graph's: the `@odata.deltaLink` of the last read is the bookmark
(`deltaLink`, kept whole: a bookmark is opaque text of any length), and an incremental
run asks that link for what changed: classes created or updated, membership changes
included (`members@delta`). A changed class's members are read again; `@removed`
entries are the only deletes of an incremental run (a class, or one member's enrolment):
nothing is deleted for not being seen. A full run starts a new delta round without a
token, so its last page gives a fresh delta link, and the runner's reconciliation deletes
what the round did not list (Graph's delta does not report deleted classes, so a full run
is the only way they go). The classes' delta does not report assignments or submissions
(Graph has a delta per class for assignments, and none for submissions), so every run,
incremental ones too, reads the assignments and submissions of every class: when a
school lists the class (before the delta round, so members' last activity is known), or,
for a class no school lists, when the delta round gives it.

People are matched to the directory by `userPrincipalName` and `mail` (`email`, which the
`email` rule compares with the directory's e-mail and eppn) and by
`onPremisesInfo.immutableId`, the student/teacher `externalId` and the UPN as external ids
(`immutableId:…`, `externalId:…`, `upn:…`).

Authentication is the one Intune uses (client credentials at the directory's token
endpoint, scope `https://graph.microsoft.com/.default`; application permissions
EduRoster.Read.All or EduRoster.ReadBasic.All, and EduAssignments.ReadBasic.All for the
assignments unless `assignments: false`); 429 and 503 are waited out as `Retry-After`
says. Requests carry `Prefer: include-unknown-enum-members`: without it Graph shows
`excused` and `reassigned` submissions as `unknownFutureValue`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, ClassVar, Literal

import structlog
from pydantic import BaseModel, ConfigDict, Field

from connectors._graph import GRAPH_PAGING, GraphDelta, GraphSettings
from connectors.base import Item, Removed
from connectors.http import HttpStream
from connectors.lms._children import ChildStream, ChildStreams, read_children
from connectors.lms._common import latest
from connectors.lms._tags import competence_areas, tag_words
from connectors.registry import ConnectionForm, ConnectorSpec, Pool, with_secret
from schemas.entities import Key, Organisation, OrganisationKind, Person, Role, Timestamp
from schemas.lms import Class, ClassType, Course, Enrollment, EnrollmentRole, Result, ScoreStatus

log = structlog.get_logger(__name__)

SCHOOLS = "/education/schools"
CLASSES_DELTA = "/education/classes/delta"
#: The bookmark holding the delta link, kept whole.
#: The school key of a class no school lists (a class made in Teams by hand).
NO_SCHOOL = "unassigned"
PRIMARY_ROLES: dict[str, Role] = {"student": Role.PUPIL, "teacher": Role.TEACHER}
#: Assignment statuses before students have the assignment (no submissions): not counted.
NOT_GIVEN = frozenset({"draft", "scheduled"})
#: Submission statuses that count as done.
DONE = frozenset({"submitted", "returned", "excused"})
#: Graph's header that shows the later members of evolvable enums (`excused`, `inactive`).
PREFER = "include-unknown-enum-members"


class _Raw(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _School(_Raw):
    id: Key
    displayName: Annotated[str, Field(min_length=1)]
    schoolNumber: str | None = None
    externalId: str | None = None


class _Ref(_Raw):
    id: Key


class _Term(_Raw):
    externalId: str | None = None
    displayName: str | None = None
    startDate: date | None = None
    endDate: date | None = None


class _MemberChange(_Raw):
    id: Key
    removed: dict[str, Any] | None = Field(default=None, alias="@removed")


class _Class(_Raw):
    id: Key
    #: Set on a delta entry for a class that is gone (`{"reason": "deleted"}`).
    removed: dict[str, Any] | None = Field(default=None, alias="@removed")
    displayName: Annotated[str, Field(min_length=1)] | None = None
    description: str | None = None
    classCode: str | None = None
    externalId: str | None = None
    externalName: str | None = None
    grade: str | None = None
    term: _Term | None = None
    members_delta: list[_MemberChange] | None = Field(default=None, alias="members@delta")


class _Assignment(_Raw):
    id: Key
    displayName: str | None = None
    status: str | None = None
    assignedDateTime: Timestamp | None = None
    dueDateTime: Timestamp | None = None


class _Recipient(_Raw):
    userId: Key | None = None


class _Submission(_Raw):
    id: Key
    status: str | None = None
    recipient: _Recipient | None = None
    submittedDateTime: Timestamp | None = None
    unsubmittedDateTime: Timestamp | None = None
    returnedDateTime: Timestamp | None = None
    excusedDateTime: Timestamp | None = None


@dataclass
class Progress:
    """One student's submissions of one class's assignments, counted."""

    assigned: int = 0
    done: int = 0
    #: When the latest done submission was done (submitted, returned or excused).
    done_at: datetime | None = None
    #: The student's latest own action (submitted or unsubmitted).
    active_at: datetime | None = None

    def add(self, raw: _Submission) -> None:
        """Count one submission."""
        self.assigned += 1
        status = raw.status or ""
        if status in DONE:
            self.done += 1
            moment = {
                "submitted": raw.submittedDateTime,
                "returned": raw.returnedDateTime or raw.submittedDateTime,
                "excused": raw.excusedDateTime,
            }[status]
            self.done_at = latest(self.done_at, moment)
        self.active_at = latest(self.active_at, raw.submittedDateTime, raw.unsubmittedDateTime)

    @property
    def status(self) -> ScoreStatus:
        """Completed (every assignment done), partly, or not at all."""
        if self.done >= self.assigned:
            return ScoreStatus.FULLY_GRADED
        return ScoreStatus.PARTIALLY_GRADED if self.done else ScoreStatus.NOT_SUBMITTED


class _OnPremises(_Raw):
    immutableId: str | None = None


class _RoleInfo(_Raw):
    externalId: str | None = None
    grade: str | None = None


class _User(_Raw):
    id: Key
    displayName: str | None = None
    givenName: str | None = None
    surname: str | None = None
    mail: str | None = None
    userPrincipalName: str | None = None
    primaryRole: str | None = None
    onPremisesInfo: _OnPremises | None = None
    student: _RoleInfo | None = None
    teacher: _RoleInfo | None = None


def _text(value: str | None) -> str | None:
    return value.strip() or None if value else None


def _grade(value: str | None) -> int | None:
    """Graph's grade text as the hub counts it (`"7"`, `"07"`; kindergarten 0)."""
    text = (value or "").strip().upper()
    if text in ("K", "KG"):
        return 0
    return int(text) if text.isdigit() and 0 <= int(text) <= 13 else None


def class_words(raw: _Class) -> set[str]:
    """The class's code and the comma-, semicolon- or #-separated words of its description."""
    return tag_words(raw.classCode, split=raw.description)


class _Stream(HttpStream[Any, Any]):
    records_key = "value"
    paginator = GRAPH_PAGING
    source: GraphEducation


class _Child(ChildStream):
    """A Graph collection below a school or a class."""

    records_key = "value"
    paginator = GRAPH_PAGING
    source: GraphEducation


class _SchoolClasses(_Child):
    """Not published: which classes a school lists (ids only); each one's assignments next."""

    name = "schoolClasses"
    path = "/education/schools/{id}/classes"
    raw_model = _Ref
    entity_type = Class
    dead_letter_entity = "school_class"

    def params(self) -> dict[str, str]:
        """Only the id."""
        return {"$select": "id"}

    def to_items(self, raw: _Ref) -> Iterator[Item]:
        """Remember the class's school; then read its assignments (on every run)."""
        self.source.school_of.setdefault(raw.id, self.parent_id)
        yield from self.source.coursework(raw.id)


class _Schools(_Stream):
    name = "schools"
    path = SCHOOLS
    raw_model = _School
    entity_type = Organisation

    def to_items(self, raw: _School) -> Iterator[Item]:
        """The school, after its classes are known."""
        yield from read_children(self.source, _SchoolClasses(self.source, raw.id))
        number = "".join(c for c in (raw.schoolNumber or "") if c.isdigit())
        yield Organisation(
            tenant=self.source.tenant,
            source=self.source.ref,
            key=raw.id,
            kind=OrganisationKind.SCHOOL_UNIT,
            name=raw.displayName,
            org_number=number if len(number) == 9 else None,
            school_unit_code=number if len(number) == 8 else None,
        )


class _Teachers(_Child):
    """Not published: who teaches the class (their ids)."""

    name = "teachers"
    path = "/education/classes/{id}/teachers"
    raw_model = _Ref
    entity_type = Enrollment
    dead_letter_entity = "class_teacher"

    def to_items(self, raw: _Ref) -> tuple[()]:
        """Remember the teacher; yield nothing."""
        self.source.teachers.add((self.parent_id, raw.id))
        return ()


class _Members(_Child):
    name = "members"
    path = "/education/classes/{id}/members"
    raw_model = _User
    entity_type = Enrollment

    def record_key(self, record: Any) -> str | None:
        """The enrolment key of a member that failed: `<class id>:<user id>`."""
        user = super().record_key(record)
        return None if user is None else enrollment_key(self.parent_id, user)

    def to_items(self, raw: _User) -> Iterator[Item]:
        """The person (the first time this read meets them) and the enrolment."""
        source = self.source
        if raw.id not in source.people_seen:
            source.people_seen.add(raw.id)
            yield source.person(raw)
        # Graph: teachers are the class's owners (`/teachers`), every other member is a
        # student of it, whatever their primaryRole (staff taking a competence course).
        teaches = (self.parent_id, raw.id) in source.teachers
        role = EnrollmentRole.TEACHER if teaches else EnrollmentRole.STUDENT
        progress = source.progress.get(self.parent_id, {}).get(raw.id)
        yield Enrollment(
            tenant=source.tenant,
            source=source.ref,
            key=enrollment_key(self.parent_id, raw.id),
            person_key=raw.id,
            class_key=self.parent_id,
            school_key=source.school_of.get(self.parent_id),
            role=role,
            primary=teaches,
            last_activity=progress.active_at if progress else None,
        )


class _Assignments(_Child):
    """Not published: which of a class's assignments students have; then their submissions."""

    name = "assignments"
    path = "/education/classes/{id}/assignments"
    raw_model = _Assignment
    entity_type = Result
    dead_letter_entity = "class_assignment"

    def params(self) -> dict[str, str]:
        """Only what the completion rule reads."""
        return {"$select": "id,displayName,status,assignedDateTime,dueDateTime"}

    def to_items(self, raw: _Assignment) -> tuple[()]:
        """Remember an assignment students have; yield nothing."""
        if (raw.status or "") not in NOT_GIVEN:
            self.source.given.setdefault(self.parent_id, []).append(raw.id)
        return ()

    def after(self) -> Iterator[Item]:
        """The submissions of the assignments students have, then the completion results."""
        source, class_id = self.source, self.parent_id
        for assignment in source.given.pop(class_id, []):
            yield from read_children(source, _Submissions(source, assignment, class_id=class_id))
        for user, progress in source.progress.get(class_id, {}).items():
            if progress.assigned:
                yield source.guarded(source.completion(class_id, user, progress))


class _Submissions(_Child):
    """Not published: counted into each student's `Progress` in the class."""

    name = "submissions"
    path = "/education/classes/{class_id}/assignments/{id}/submissions"
    raw_model = _Submission
    entity_type = Result
    dead_letter_entity = "assignment_submission"

    def params(self) -> dict[str, str]:
        """Only what the completion rule reads."""
        return {
            "$select": "id,status,recipient,submittedDateTime,unsubmittedDateTime,"
            "returnedDateTime,excusedDateTime"
        }

    def to_items(self, raw: _Submission) -> tuple[()]:
        """Count the submission for its student; yield nothing."""
        user = raw.recipient.userId if raw.recipient else None
        if user is None:
            raise ValueError("recipient.userId: a submission names its student")
        class_id = self.ids["class_id"]
        self.source.progress.setdefault(class_id, {}).setdefault(user, Progress()).add(raw)
        return ()


def completion_key(class_id: str, user_id: str) -> str:
    """A completion result's key: `completion:<class id>:<user id>`."""
    return f"completion:{class_id}:{user_id}"


def enrollment_key(class_id: str, user_id: str) -> str:
    """An enrolment's key: the class and the user."""
    return f"{class_id}:{user_id}"


class _Classes(_Stream):
    """The delta round of `/education/classes`: each class, its course and its members."""

    name = "classes"
    path = CLASSES_DELTA
    raw_model = _Class
    entity_type = Class

    def records_in(self, body: Any) -> Any:
        """The page's classes; the round's last page also gives the next delta link."""
        if isinstance(body, dict) and "@odata.deltaLink" in body:
            self.source.keep_delta_link(body["@odata.deltaLink"])
        return super().records_in(body)

    def to_items(self, raw: _Class) -> Iterator[Item]:
        """A removed class's delete, or the class, its course, and its members' enrolments."""
        source = self.source
        if raw.removed is not None:
            if not source.full_snapshot:  # a full round lists no removals; reconciliation does
                yield Removed(Class, raw.id)
                yield Removed(Course, raw.id)
            return
        if raw.displayName is None:
            raise ValueError("displayName: a class needs a name")
        words = class_words(raw)
        grade = _grade(raw.grade)
        common = {"tenant": source.tenant, "source": source.ref, "key": raw.id}
        yield Course(
            **common,
            title=raw.externalName or raw.displayName,
            course_code=_text(raw.classCode),
            grades=(f"{grade:02d}",) if grade is not None else (),
            tags=tuple(sorted(words)),
            competence_areas=competence_areas(words),
        )
        yield Class(
            **common,
            title=raw.displayName,
            class_type=ClassType.SCHEDULED,
            class_code=_text(raw.classCode),
            course_key=raw.id,
            school_key=source.school_of.get(raw.id, NO_SCHOOL),
            term_keys=(raw.term.externalId,) if raw.term and raw.term.externalId else (),
            grades=(f"{grade:02d}",) if grade is not None else (),
        )
        if not source.full_snapshot:
            for change in raw.members_delta or ():
                if change.removed is not None:
                    yield Removed(Enrollment, enrollment_key(raw.id, change.id))
        yield from read_children(source, _Teachers(source, raw.id))
        yield from source.coursework(raw.id)
        yield from read_children(source, _Members(source, raw.id))


class GraphEducationSourceSettings(GraphSettings):
    """Microsoft Teams classes from Microsoft Graph v1.0 education.

    The app registration needs the application permission EduRoster.Read.All (or
    EduRoster.ReadBasic.All); authentication is Intune's.
    """

    type: Literal["graph_education"]
    #: Read class assignments and submissions for completion and last activity (needs
    #: the application permission EduAssignments.ReadBasic.All).
    assignments: bool = True


class GraphEducation(GraphDelta, ChildStreams):
    """Schools, classes and their members from Microsoft Graph education, with the delta query."""

    name: ClassVar[str] = "lms.graph_education"
    system: ClassVar[str] = "graph_education"
    entity_types = (Organisation, Person, Course, Class, Enrollment, Result)
    streams = (_Schools, _Classes)
    supports_incremental = True
    delta_stream = _Classes
    delta_what = "classes"
    settings: GraphEducationSourceSettings

    def prepare(self) -> None:
        """Start a read: nothing seen yet; an incremental run continues from the delta link."""
        self.people_seen: set[str] = set()
        self.school_of: dict[str, str] = {}
        self.teachers: set[tuple[str, str]] = set()
        #: Class → the ids of its assignments students have (until their submissions are read).
        self.given: dict[str, list[str]] = {}
        #: Class → student → their submissions counted.
        self.progress: dict[str, dict[str, Progress]] = {}
        #: Classes whose assignments this read has read.
        self.coursework_read: set[str] = set()
        self.resume_delta()
        self.session.headers["Prefer"] = PREFER
        if not self.settings.assignments:
            self.not_read.add(Result.entity)  # results published earlier are not deleted

    def coursework(self, class_id: str) -> Iterator[Item]:
        """A class's assignments and their submissions read, then its completion results."""
        if not self.settings.assignments or class_id in self.coursework_read:
            return
        self.coursework_read.add(class_id)
        yield from read_children(self, _Assignments(self, class_id))

    def completion(self, class_id: str, user_id: str, progress: Progress) -> Result:
        """A student's completion of a class's assignments, as a completion `Result`."""
        status = progress.status
        done = progress.done_at if status is ScoreStatus.FULLY_GRADED else None
        return Result(
            tenant=self.tenant,
            source=self.ref,
            key=completion_key(class_id, user_id),
            source_modified=done,
            line_item_key=f"completion:{class_id}",
            line_item_title="Class completion (assignments)",
            person_key=user_id,
            class_key=class_id,
            score_status=status,
            score=float(progress.done),
            score_date=done.date() if done else None,
            score_min=0.0,
            score_max=float(progress.assigned),
        )

    def person(self, raw: _User) -> Person:
        """A member as a `Person`, with the identifiers the directory is matched by."""
        upn = _text(raw.userPrincipalName)
        external = {
            f"upn:{upn.lower()}" if upn else "",
            f"immutableId:{raw.onPremisesInfo.immutableId}"
            if raw.onPremisesInfo and raw.onPremisesInfo.immutableId
            else "",
            *(
                f"externalId:{info.externalId}"
                for info in (raw.student, raw.teacher)
                if info and info.externalId
            ),
        } - {""}
        role = PRIMARY_ROLES.get(raw.primaryRole or "")
        names = [n for n in (raw.givenName, raw.surname) if n]
        return Person(
            tenant=self.tenant,
            source=self.ref,
            key=raw.id,
            email=(_text(raw.mail) or upn or "").lower() or None,
            given_name=_text(raw.givenName),
            family_name=_text(raw.surname),
            display_name=_text(raw.displayName) or (" ".join(names) or None),
            roles=(role,) if role else (),
            grade=_grade(raw.student.grade) if raw.student and role is Role.PUPIL else None,
            external_ids=tuple(sorted(external)),
        )


CONNECTOR = ConnectorSpec(
    settings=GraphEducationSourceSettings,
    connector=GraphEducation,
    domain="lms",
    pool=Pool("hub_lms_graph_education", 4, "Microsoft Graph education syncs"),
    title="Microsoft Teams classes (Graph education)",
    build=with_secret(GraphEducation),
    doc="docs/lms.md",
    connection=ConnectionForm(form_fields=("auth.token_url", "auth.scope")),
)
