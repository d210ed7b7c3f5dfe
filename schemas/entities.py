"""The hub's normalised entities: what every connector produces and every event carries.

Every entity carries its tenant, its source (system + instance), a key that is stable
within that source, and `source_modified` where the source gives one. People never
carry a national identity number: only `nin_hmac`, a keyed HMAC used for matching.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import BaseModel, ConfigDict, Field

Key = Annotated[str, Field(min_length=1, max_length=512)]


class SourceRef(BaseModel):
    """The system an entity was read from and which configured instance of it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    system: Annotated[str, Field(min_length=1, examples=["feide_ldap"])]
    instance: Annotated[str, Field(min_length=1, examples=["feide"])]


class Entity(BaseModel):
    """Fields shared by every entity; subclasses name their domain and entity type."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    domain: ClassVar[str]
    entity: ClassVar[str]
    #: The major version of this entity's topic and change-event schema. Entity topics are
    #: at 2: the record key names the source instance and `ce_id` counts the key's versions
    #: (docs/consumers.md says what changed from 1).
    schema_major: ClassVar[int] = 2

    tenant: Annotated[str, Field(min_length=1)]
    source: SourceRef
    key: Key
    source_modified: datetime | None = None

    @classmethod
    def topic_suffix(cls) -> str:
        """The `<domain>.<entity>` part of this entity's topic and event type."""
        return f"{cls.domain}.{cls.entity}"

    @classmethod
    def versioned_suffix(cls) -> str:
        """The `<domain>.<entity>.v<major>` part of this entity's topic and schema id."""
        return f"{cls.topic_suffix()}.v{cls.schema_major}"


class SchoolType(StrEnum):
    """School forms, in the SS 12000 codes, which also fit Norway and Denmark."""

    PRESCHOOL = "FS"
    PRESCHOOL_CLASS = "FKLASS"
    COMPULSORY = "GR"
    COMPULSORY_SPECIAL = "GRS"
    UPPER_SECONDARY = "GY"
    UPPER_SECONDARY_SPECIAL = "GYS"
    ADULT = "VUX"


class OrganisationKind(StrEnum):
    """What an organisation is in the school owner's hierarchy."""

    OWNER = "owner"
    SCHOOL_UNIT = "school_unit"
    PRESCHOOL_UNIT = "preschool_unit"
    OTHER = "other"


class Organisation(Entity):
    """A school owner, school unit or preschool unit."""

    domain: ClassVar[str] = "identity"
    entity: ClassVar[str] = "organisation"

    kind: OrganisationKind
    name: Annotated[str, Field(min_length=1)]
    org_number: str | None = None
    school_unit_code: str | None = None
    parent_key: str | None = None
    school_types: tuple[SchoolType, ...] = ()


class Role(StrEnum):
    """A person's role at the school owner, as the follow-up counts it."""

    PUPIL = "pupil"
    CHILD = "child"
    TEACHER = "teacher"
    PRESCHOOL_TEACHER = "preschool_teacher"
    ASSISTANT = "assistant"
    IT_PEDAGOGUE = "it_pedagogue"
    SCHOOL_LEADER = "school_leader"
    ADMINISTRATOR = "administrator"
    STAFF = "staff"
    GUARDIAN = "guardian"
    OTHER = "other"


class Person(Entity):
    """A pupil, child or staff member; never holds a national identity number."""

    domain: ClassVar[str] = "identity"
    entity: ClassVar[str] = "person"

    eppn: str | None = None
    username: str | None = None
    email: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    display_name: str | None = None
    roles: tuple[Role, ...] = ()
    affiliations: tuple[str, ...] = ()
    primary_affiliation: str | None = None
    title: str | None = None
    unit_keys: tuple[str, ...] = ()
    primary_unit_key: str | None = None
    grade: Annotated[int, Field(ge=-1, le=13)] | None = None
    nin_hmac: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] | None = None
    #: Other identifiers the source gave, as `<type>:<identifier>` (e.g. an LMS's
    #: `userIds`), kept for matching; never a national identity number.
    external_ids: tuple[str, ...] = ()


class GroupKind(StrEnum):
    """What kind of group: a class, a teaching group, a preschool section, or other."""

    BASE_GROUP = "base_group"
    TEACHING_GROUP = "teaching_group"
    PRESCHOOL_SECTION = "preschool_section"
    OTHER = "other"


class Group(Entity):
    """A class (base group), teaching group, preschool section or other group."""

    domain: ClassVar[str] = "identity"
    entity: ClassVar[str] = "group"

    kind: GroupKind
    name: Annotated[str, Field(min_length=1)]
    unit_key: str | None = None
    subject_code: str | None = None
    valid_from: date | None = None
    valid_to: date | None = None


class MembershipRole(StrEnum):
    """A member's role in a group."""

    STUDENT = "student"
    TEACHER = "teacher"
    STAFF = "staff"
    OTHER = "other"


class Membership(Entity):
    """A person's membership of a group, with its validity dates and role."""

    domain: ClassVar[str] = "identity"
    entity: ClassVar[str] = "membership"

    group_key: Key
    person_key: Key
    role: MembershipRole
    valid_from: date | None = None
    valid_to: date | None = None


#: Every entity type, in the order a sync publishes them (parents before children).
ENTITY_TYPES: tuple[type[Entity], ...] = (Organisation, Person, Group, Membership)
