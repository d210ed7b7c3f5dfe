"""The hub's normalised entities: what every connector produces and every event carries.

Every entity carries its tenant, its source (system + instance), a key that is stable
within that source, and `source_modified` where the source gives one. People never
carry a national identity number: only `nin_hmac`, a keyed HMAC used for matching.

The types hold their own limits (see docs/bad-input.md), so a record that breaks one
fails validation with its field named and becomes a dead letter, never an entity:

- `Key`: stripped of surrounding whitespace and invisible characters, never empty or
  invisible-only, no control character inside, at most `KEY_MAX_LENGTH` characters;
  `compose_key` checks the same limit where keys are composed (`group|person`).
- `Timestamp`: aware and in UTC (a naive time is read as UTC), within
  `TIMESTAMP_MIN`..`TIMESTAMP_MAX`, converted without ever overflowing.
- Every text field of an entity (nested models and tuples included) can be encoded as
  UTF-8 and holds no NUL: a lone surrogate (U+D800..U+DFFF, which JSON can escape) is
  refused here rather than when the runner encodes the event.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator

#: The longest key an entity may have (also where keys are composed).
KEY_MAX_LENGTH = 512
#: The supported range of timestamps, in UTC: a day inside `datetime`'s own range at each
#: end, so a time with any UTC offset (always less than a day) converts without overflow,
#: and every calendar day from 0001-01-02 to 9999-12-31 fits at its UTC midnight.
TIMESTAMP_MIN = datetime(1, 1, 2, tzinfo=UTC)
TIMESTAMP_MAX = datetime(9999, 12, 31, tzinfo=UTC)
_OUT_OF_RANGE = (
    f"is outside the supported range {TIMESTAMP_MIN:%Y-%m-%d}..{TIMESTAMP_MAX:%Y-%m-%d} (UTC)"
)
#: Unicode categories that show nothing: controls, format characters (zero-width space,
#: RTL mark, BOM), separators (spaces, NBSP), unassigned, private use and surrogates.
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp", "Cn", "Co", "Cs"})
#: Unicode's control characters (category Cc), as one character class: a key is checked
#: with one regular-expression search instead of a category lookup per character.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def _invisible(char: str) -> bool:
    return char.isspace() or unicodedata.category(char) in _INVISIBLE_CATEGORIES


def check_text(value: str) -> str:
    """Return `value` if it can be encoded as UTF-8 and has no NUL; else raise ValueError."""
    if "\x00" in value:
        raise ValueError("contains a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("contains a lone surrogate (text that cannot be encoded)") from None
    return value


def clean_key(value: str) -> str:
    """A key stripped of invisible characters around it; ValueError if nothing visible is left.

    Refuses a control character inside the key (NUL, tab, newline, DEL, ...) and a key
    longer than `KEY_MAX_LENGTH`. The message never quotes the value.
    """
    start, end = 0, len(value)
    while start < end and _invisible(value[start]):
        start += 1
    while end > start and _invisible(value[end - 1]):
        end -= 1
    key = value[start:end]
    if not key:
        raise ValueError("is empty or only invisible characters")
    if _CONTROL.search(key):
        raise ValueError("contains a control character")
    check_text(key)
    if len(key) > KEY_MAX_LENGTH:
        raise ValueError(f"is longer than {KEY_MAX_LENGTH} characters")
    return key


def compose_key(*parts: str, separator: str = "|") -> str:
    """Join key parts (e.g. `group|person`), checking the key limits on the result."""
    composed = separator.join(parts)
    if len(composed) > KEY_MAX_LENGTH:
        raise ValueError(f"composed key is longer than {KEY_MAX_LENGTH} characters")
    return clean_key(composed)


def as_key(value: object) -> str | None:
    """`value` as a clean key, or None when it is not one (for naming a dead letter's key)."""
    if not isinstance(value, str):
        return None
    try:
        return clean_key(value)
    except ValueError:
        return None


def utc_timestamp(moment: datetime) -> datetime:
    """`moment` in UTC (naive read as UTC); ValueError outside the supported range.

    The range is checked on the local wall time shifted by the offset's bound, so no
    arithmetic ever leaves `datetime`'s range (`9999-12-31T23:59:59-05:00` is refused,
    not an OverflowError).
    """
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    offset = moment.utcoffset() or timedelta(0)
    wall = moment.replace(tzinfo=None)
    low = TIMESTAMP_MIN.replace(tzinfo=None) + offset
    high = TIMESTAMP_MAX.replace(tzinfo=None) + offset
    if not low <= wall <= high:
        raise ValueError(_OUT_OF_RANGE)
    return (wall - offset).replace(tzinfo=UTC)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLIS_MIN = (TIMESTAMP_MIN - _EPOCH) // timedelta(milliseconds=1)
_MILLIS_MAX = (TIMESTAMP_MAX - _EPOCH) // timedelta(milliseconds=1)


def utc_from_millis(value: int | str) -> datetime:
    """Milliseconds since the epoch (an int or its text) in UTC; ValueError when out of range."""
    if isinstance(value, str):
        text = value.strip().lstrip("+-")
        if not text.isdigit():
            raise ValueError("is not a whole number of milliseconds")
        if len(text) > 20:
            raise ValueError("has too many digits for a time (outside the supported range)")
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("is not a whole number of milliseconds")
    if not _MILLIS_MIN <= value <= _MILLIS_MAX:
        raise ValueError(_OUT_OF_RANGE)
    return _EPOCH + timedelta(milliseconds=value)


#: A stable key: stripped, never blank or invisible-only, no control characters, bounded.
Key = Annotated[str, Field(min_length=1, max_length=KEY_MAX_LENGTH), AfterValidator(clean_key)]
#: A moment in UTC within the supported range.
Timestamp = Annotated[datetime, AfterValidator(utc_timestamp)]


def _millis_or_none(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return utc_timestamp(value)
    return utc_from_millis(value)


#: Milliseconds since the epoch (Google's int64, as text or a number) read as a UTC time.
EpochMillis = Annotated[datetime | None, BeforeValidator(_millis_or_none)]


def _check_texts(value: Any) -> None:
    """Raise ValueError if any text in `value` (tuples and nested models too) cannot be encoded."""
    if isinstance(value, str):
        check_text(value)
    elif isinstance(value, tuple | list):
        for item in value:
            _check_texts(item)
    elif isinstance(value, BaseModel):
        for item in value.__dict__.values():
            _check_texts(item)


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
    source_modified: Timestamp | None = None

    @field_validator("*", mode="after")
    @classmethod
    def _encodable(cls, value: Any) -> Any:
        """Every text of every field can be encoded (no lone surrogate, no NUL)."""
        _check_texts(value)
        return value

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
    """A pupil, child or staff member; never holds a national identity number.

    A person marked protected at the source (SS 12000 `securityMarking`, a directory's
    configured attribute) has `protected` set and travels with key, roles, unit links and
    grade only: no names, e-mail, user name, eppn or other identifiers (names stay only
    when the tenant's policy allows them; docs/privacy.md).
    """

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
    #: Marked protected at the source: published without names or contact details.
    protected: bool = False
    #: The source gave an identity number that failed its checks (dropped, no HMAC): the
    #: person is published all the same and counted in the `data_quality` record.
    nin_invalid: bool = False


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
