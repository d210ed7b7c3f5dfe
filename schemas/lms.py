"""Learning-platform entities: academic sessions, courses, classes, enrollments and results.

They come from LMS and student-information systems (OneRoster 1.2 first) and travel on
`hub.lms.<entity>.v1`. People and schools read from an LMS are the identity domain's
`Person` and `Organisation`; these entities refer to them by key. Courses carry the tags
and competence areas that let the follow-up recognise staff competence development, and
results keep the learning-objective identifiers that follow pupils' digital skills grade
by grade.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from schemas.entities import Entity, Key, Timestamp

Grade = Annotated[str, Field(min_length=1, max_length=8, examples=["05", "KG", "13"])]


class SessionKind(StrEnum):
    """What an academic session is."""

    SCHOOL_YEAR = "school_year"
    SEMESTER = "semester"
    TERM = "term"
    GRADING_PERIOD = "grading_period"


class AcademicSession(Entity):
    """A school year, semester, term or grading period."""

    domain: ClassVar[str] = "lms"
    entity: ClassVar[str] = "academic_session"

    title: Annotated[str, Field(min_length=1)]
    kind: SessionKind
    start_date: date
    end_date: date
    school_year: int | None = None
    parent_key: str | None = None


class CompetenceArea(StrEnum):
    """The staff competence-development areas the digitalisation strategies follow up."""

    DIGITAL_DIDACTICS = "digital_didactics"
    LEARNING_PLATFORMS = "learning_platforms"
    PROGRAMMING_ROBOTICS = "programming_robotics"
    INFORMATION_SECURITY = "information_security"
    #: The Danish strategy's areas beside those above (a tenant's policy names them; the
    #: default policy does not, so other tenants' figures do not gain empty areas).
    PROGRAMMING = "programming"
    ROBOTS_3D_PRINTING = "robots_3d_printing"
    DIGITAL_CITIZENSHIP = "digital_citizenship"


#: The areas a policy follows when it names none: the Nordic strategies' four.
DEFAULT_COMPETENCE_AREAS: tuple[CompetenceArea, ...] = (
    CompetenceArea.DIGITAL_DIDACTICS,
    CompetenceArea.LEARNING_PLATFORMS,
    CompetenceArea.PROGRAMMING_ROBOTICS,
    CompetenceArea.INFORMATION_SECURITY,
)


class Course(Entity):
    """A course: a subject for a grade, or a competence-development course for staff."""

    domain: ClassVar[str] = "lms"
    entity: ClassVar[str] = "course"

    title: Annotated[str, Field(min_length=1)]
    course_code: str | None = None
    org_key: str | None = None
    school_year_key: str | None = None
    grades: tuple[Grade, ...] = ()
    subjects: tuple[str, ...] = ()
    subject_codes: tuple[str, ...] = ()
    tags: tuple[str, ...] = Field(
        default=(), description="The source's own tags for the course, lower-cased."
    )
    competence_areas: tuple[CompetenceArea, ...] = Field(
        default=(), description="Competence areas recognised from the tags and subject codes."
    )


class ClassType(StrEnum):
    """A homeroom (base group) or a scheduled class (teaching group, course instance)."""

    HOMEROOM = "homeroom"
    SCHEDULED = "scheduled"


class Class(Entity):
    """A class or section: one instance of a course at a school, with its people enrolled."""

    domain: ClassVar[str] = "lms"
    entity: ClassVar[str] = "class"

    title: Annotated[str, Field(min_length=1)]
    class_type: ClassType
    class_code: str | None = None
    course_key: Key
    school_key: Key
    term_keys: tuple[str, ...] = ()
    grades: tuple[Grade, ...] = ()
    subject_codes: tuple[str, ...] = ()


class EnrollmentRole(StrEnum):
    """A person's role in a class."""

    STUDENT = "student"
    TEACHER = "teacher"
    AIDE = "aide"
    GUARDIAN = "guardian"
    PROCTOR = "proctor"
    ADMINISTRATOR = "administrator"
    OTHER = "other"


class Enrollment(Entity):
    """A person enrolled in a class, with a role, a primary flag and validity dates."""

    domain: ClassVar[str] = "lms"
    entity: ClassVar[str] = "enrollment"

    person_key: Key
    class_key: Key
    school_key: str | None = None
    role: EnrollmentRole
    primary: bool = False
    begin_date: date | None = None
    end_date: date | None = None
    last_activity: Timestamp | None = Field(
        default=None,
        description="When the person was last active in the class, where the platform says.",
    )


class ScoreStatus(StrEnum):
    """How far a result has got (OneRoster's score status vocabulary)."""

    EXEMPT = "exempt"
    FULLY_GRADED = "fully graded"
    NOT_SUBMITTED = "not submitted"
    PARTIALLY_GRADED = "partially graded"
    SUBMITTED = "submitted"


class ObjectiveResult(BaseModel):
    """A score against one learning objective (a skill), as the source reported it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: Annotated[str, Field(min_length=1, description="The objective set, e.g. a framework.")]
    objective_id: Annotated[str, Field(min_length=1)]
    score: float | None = None
    text_score: str | None = None


class Result(Entity):
    """A learner's result on a line item (an assessed activity or a course completion).

    `learning_objective_ids` are the line item's objectives as `<source>:<id>`, kept even
    when the result scores only the whole line item, so skills can be followed per grade.
    """

    domain: ClassVar[str] = "lms"
    entity: ClassVar[str] = "result"

    line_item_key: Key
    line_item_title: str | None = None
    person_key: Key
    class_key: str | None = None
    score_status: ScoreStatus
    score: float | None = None
    text_score: str | None = None
    score_date: date | None = None
    score_min: float | None = None
    score_max: float | None = None
    learning_objective_ids: tuple[str, ...] = ()
    objective_results: tuple[ObjectiveResult, ...] = ()


#: Every LMS entity type, in the order a sync publishes them (parents before children).
LMS_ENTITY_TYPES: tuple[type[Entity], ...] = (AcademicSession, Course, Class, Enrollment, Result)
