"""An SS 12000:2020 API (the Swedish school-data standard): units, people, duties, placements.

Why under `identity/`: SS 12000 is how Swedish school owners exchange their register of
people, organisations and groups: who works or studies where, in which class. That is
the identity domain (like the Feide directory in Norway), even though the same API also
carries timetables and grades, which the hub does not read.

Reads, in this order, `/organisations`, `/persons?expand=duties&expand=placements`,
`/duties`, `/placements`, `/groups` (with their `groupMemberships`) and, unless
`activities: false`, `/activities?expand=teachers`, each `{"data": [...], "pageToken"}`
paged with `limit` and the opaque `pageToken`. A page token stands for the whole query,
and the standard forbids sending filters with it (servers answer 400), so a follow-up
page is asked for with `pageToken` alone. An API that answers 404 on the first page of
`/activities` does not offer them (the standard leaves the endpoint optional); a 404 on
any later page fails the read.

Incremental runs ask for `meta.modified.after=<bookmark - overlap>` (each stream's
bookmark is the newest `meta.modified` it has seen) and then read
`/deletedEntities?after=<previous run's start - overlap>`, whose ids become deletes
(`Removed`). The runner's periodic full read (`full_sync_every`) reconciles what vanished
without a trace, and memberships that left a changed group.

Authentication is OAuth 2.0 client credentials (or another `auth` kind) from the HTTP
base; mutual TLS client certificates, which federated Swedish exchanges require, are
configuration (`client_cert`, `client_key`) used on every request, the token's included.

`civicNo` (personnummer or samordningsnummer) is normalised to 12 digits, checked with
its Luhn digit and becomes `nin_hmac` (keyed HMAC, country `SE`); the number itself never
leaves this module, and dead letters carry it as `[redacted]`. One that fails its checks
is dropped and the person published without the HMAC (`nin_invalid`). `eduPersonPrincipalNames`
and `externalIdentifiers` are kept for matching (`eppn`, `external_ids`), except values
that are identity numbers. A person whose `securityMarking` is anything but `Ingen`
(`Sekretessmarkering`, `Skyddad folkbokföring`) is published protected
(`connectors.privacy.protect`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import requests
import structlog
from pydantic import BaseModel, ConfigDict, Field, model_validator

from connectors.base import Item, Removed, RetryPolicy
from connectors.errors import ConfigError, SkippableRecordError
from connectors.http import (
    HttpSource,
    HttpSourceSettings,
    HttpStream,
    Incremental,
    PageTokenPaginator,
)
from connectors.identity._ss12000_subscriptions import (
    RESOURCE_STREAMS,
    Notification,
    NotificationError,
    SubscriptionRecord,
    parse_notification,
)
from connectors.privacy import (
    hmac_of,
    looks_like_national_id,
    luhn_valid,
    national_id,
    national_id_hmac,
    protect,
)
from connectors.registry import ConnectorSpec, with_secret
from schemas.entities import (
    Entity,
    Group,
    GroupKind,
    Key,
    Membership,
    MembershipRole,
    Organisation,
    OrganisationKind,
    Person,
    Role,
    SchoolType,
    Timestamp,
    compose_key,
)
from schemas.ss12000 import Duty, Placement, PlacementSchoolType

log = structlog.get_logger(__name__)

REDACTED = "[redacted]"

#: `dutyRole` (lower case) → the hub's role; other titles are `staff`.
DUTY_ROLES: dict[str, Role] = {
    "rektor": Role.SCHOOL_LEADER,
    "förskolechef": Role.SCHOOL_LEADER,
    "övrig arbetsledning": Role.SCHOOL_LEADER,
    "lärare": Role.TEACHER,
    "förstelärare": Role.TEACHER,
    "speciallärare/specialpedagog": Role.TEACHER,
    "fritidspedagog": Role.TEACHER,
    "förskollärare": Role.PRESCHOOL_TEACHER,
    "barnskötare": Role.ASSISTANT,
    "lärarassistent": Role.ASSISTANT,
    "övrig pedagogisk personal": Role.ASSISTANT,
    "skoladministratör": Role.ADMINISTRATOR,
}
#: A duty whose `description` says this is an IT pedagogue (not a `dutyRole` of its own).
_IT_PEDAGOGUE = re.compile(r"\b(it|ikt)[- ]?pedagog", re.IGNORECASE)
#: `groupType` → the hub's group kind.
GROUP_KINDS: dict[str, GroupKind] = {
    "Klass": GroupKind.BASE_GROUP,
    "Undervisning": GroupKind.TEACHING_GROUP,
    "Avdelning": GroupKind.PRESCHOOL_SECTION,
}
#: A duty's `assignmentRoleType` in a group → the member's role there.
ASSIGNMENT_ROLES: dict[str, MembershipRole] = {
    "Mentor": MembershipRole.TEACHER,
    "Förskollärare": MembershipRole.TEACHER,
    "Fritidspedagog": MembershipRole.TEACHER,
    "Specialpedagog": MembershipRole.TEACHER,
    "Pedagogisk ledare": MembershipRole.TEACHER,
    "Barnskötare": MembershipRole.STAFF,
    "Elevhälsopersonal": MembershipRole.STAFF,
    "Schemaläggare": MembershipRole.STAFF,
}
#: School types without a hub code of their own that count as adult education.
_ADULT = re.compile(r"^(VUX|SFI|SARVUX)")
#: School types of a placement or enrolment that make the person a preschool child.
_CHILD_SCHOOL_TYPES = frozenset({"FS"})
#: School types that are not schooling (leisure-time centres); they give no role.
_LEISURE_SCHOOL_TYPES = frozenset({"FTH", "OPPFTH"})
#: `deletedEntities` keys (and flat-list `entityType` values) → entity types.
DELETED_KEYS: dict[str, type[Entity]] = {
    "organisations": Organisation,
    "organisation": Organisation,
    "persons": Person,
    "person": Person,
    "duties": Duty,
    "duty": Duty,
    "placements": Placement,
    "placement": Placement,
    "groups": Group,
    "group": Group,
    "studentgroups": Group,
    "studentgroup": Group,
}

_EPPN = re.compile(r"^[a-z0-9._-]+@[a-z0-9.-]+\.[a-z]{2,}$")
_CIVIC_NO = re.compile(r"^(\d{2})?(\d{6})([-+]?)(\d{4})$")
_TEMPORARY_CIVIC_NO = re.compile(r"^\d{8}[A-Z0-9]{2}\d{2}$")
_CIVIC_CONTEXT = re.compile(r"civic|personn|nin\b|national", re.IGNORECASE)


# -- personnummer ------------------------------------------------------------------------


def normalise_civic_no(value: str, today: date | None = None) -> str | None:
    """A personnummer or samordningsnummer as 12 digits `YYYYMMDDNNNC`.

    Accepts `YYYYMMDDNNNC`, `YYYYMMDD-NNNC`, `YYMMDD-NNNC`, `YYMMDDNNNC` and `YYMMDD+NNNC`
    (a `+` says the person is 100 or older). Returns None for a temporary number (letters
    in positions 9-10, "tillfälligt personnummer"), which is not one to match people on.
    Raises ValueError, without the number, when the value is malformed or its check digit
    is wrong.
    """
    text = value.strip().upper().replace(" ", "")
    if _TEMPORARY_CIVIC_NO.match(text) and not text.isdigit():
        return None
    match = _CIVIC_NO.match(text)
    if not match:
        raise ValueError("is not shaped like a personnummer (YYYYMMDDNNNC or YYMMDD-NNNC)")
    century, birth, separator, tail = match.groups()
    if not luhn_valid(birth + tail):
        raise ValueError("has a wrong check digit")
    month, day = int(birth[2:4]), int(birth[4:6])
    if day > 60:  # samordningsnummer: the day plus 60
        day -= 60
    if century is None:
        today = today or datetime.now(UTC).date()
        year = today.year - (today.year - int(birth[:2])) % 100
        if separator == "+":
            year -= 100
        try:
            if date(year, month, day) > today:
                year -= 100
        except ValueError:
            raise ValueError("has no valid birth date") from None
        century = f"{year // 100:02d}"
    try:
        date(int(century + birth[:2]), month, day)
    except ValueError:
        raise ValueError("has no valid birth date") from None
    return century + birth + tail


#: What a protected person's dead letter keeps: no names, contact details or identifiers.
_PROTECTED_DEAD_LETTER_FIELDS = frozenset({"id", "meta", "securityMarking", "enrolments"})


def is_protected(security_marking: str | None) -> bool:
    """Whether an SS 12000 `securityMarking` marks a protected identity.

    `Ingen` (none), or no value, is not; `Sekretessmarkering`, `Skyddad folkbokföring`
    and any value the hub does not know are (an unknown marking is read as protection).
    """
    marking = (security_marking or "").strip().lower()
    return marking not in ("", "ingen", "none")


# -- raw shapes (SS 12000:2020 API, JSON; only what the hub reads) ---------------------


class _Raw(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class _Ref(_Raw):
    id: Key
    displayName: str | None = None


class _Meta(_Raw):
    created: Timestamp | None = None
    modified: Timestamp | None = None


class _Header(_Raw):
    """What every SS 12000 object has: its id; `meta.modified` (the replication key) where given.

    The standard requires `meta` only on some objects (organisations) and `meta.modified`
    on none, so an object without them is read, keeps `source_modified` empty and leaves
    the stream's bookmark alone.
    """

    id: Key
    meta: _Meta | None = None


class _Organisation(_Header):
    displayName: Annotated[str, Field(min_length=1)]
    organisationType: str | None = None
    organisationCode: str | None = None
    organisationNumber: str | None = None
    schoolUnitCode: str | None = None
    schoolTypes: list[str] = []
    parentOrganisation: _Ref | None = None
    municipalityCode: str | None = None
    startDate: date | None = None
    endDate: date | None = None


class _CivicNo(_Raw):
    value: Annotated[str, Field(min_length=1)]
    nationality: str | None = None


class _ExternalIdentifier(_Raw):
    value: Annotated[str, Field(min_length=1)]
    context: str | None = None
    globallyUnique: bool | None = None


class _Email(_Raw):
    value: Annotated[str, Field(min_length=1)]
    type: str | None = None


class _Enrolment(_Raw):
    enroledAt: _Ref
    schoolType: str
    schoolYear: int | None = None
    startDate: date | None = None
    endDate: date | None = None
    cancelled: bool = False


class _EmbeddedDuty(_Raw):
    dutyAt: _Ref | None = None
    dutyRole: str | None = None
    description: str | None = None


class _EmbeddedPlacement(_Raw):
    placedAt: _Ref | None = None
    schoolType: str | None = None


class _PersonEmbedded(_Raw):
    duties: list[_EmbeddedDuty] = []
    placements: list[_EmbeddedPlacement] = []


class _Person(_Header):
    givenName: Annotated[str, Field(min_length=1)]
    middleName: str | None = None
    familyName: Annotated[str, Field(min_length=1)]
    eduPersonPrincipalNames: list[str] = []
    externalIdentifiers: list[_ExternalIdentifier] = []
    civicNo: _CivicNo | None = None
    securityMarking: str | None = None
    emails: list[_Email] = []
    enrolments: list[_Enrolment] = []
    embedded: _PersonEmbedded | None = Field(default=None, alias="_embedded")


class _AssignmentRole(_Raw):
    group: _Ref
    assignmentRoleType: str
    startDate: date | None = None
    endDate: date | None = None


class _Duty(_Header):
    person: _Ref
    dutyAt: _Ref
    dutyRole: Annotated[str, Field(min_length=1)]
    description: str | None = None
    signature: str | None = None
    dutyPercent: Annotated[float, Field(ge=0, le=100)] | None = None
    hoursPerYear: Annotated[int, Field(ge=0)] | None = None
    startDate: date | None = None
    endDate: date | None = None
    assignmentRole: list[_AssignmentRole] = []


class _Placement(_Header):
    placedAt: _Ref
    child: _Ref
    group: _Ref | None = None
    schoolType: Annotated[str, Field(min_length=1)]
    startDate: date | None = None
    endDate: date | None = None


class _GroupMembership(_Raw):
    person: _Ref
    startDate: date | None = None
    endDate: date | None = None


class _Group(_Header):
    displayName: Annotated[str, Field(min_length=1)]
    groupType: Annotated[str, Field(min_length=1)]
    organisation: _Ref
    groupCode: str | None = None
    schoolTypes: list[str] = []
    schoolType: str | None = None  # Skolverket's reference API: one school type
    startDate: date | None = None
    endDate: date | None = None
    groupMemberships: list[_GroupMembership] = []


class _TeacherAssignment(_Raw):
    duty: _Ref
    startDate: date | None = None
    endDate: date | None = None


class _EmbeddedTeacher(_Raw):
    id: Key
    person: _Ref | None = None


class _ActivityEmbedded(_Raw):
    teachers: list[_EmbeddedTeacher] = []


class _Activity(_Header):
    displayName: str | None = None
    groups: list[_Ref] = []
    teachers: list[_TeacherAssignment] = []
    organisation: _Ref | None = None
    embedded: _ActivityEmbedded | None = Field(default=None, alias="_embedded")


class _DeletedEntity(_Raw):
    entity: str
    id: Key


# -- paging ----------------------------------------------------------------------------


class TokenOnlyPaginator(PageTokenPaginator):
    """`limit` and filters on the first page; then `pageToken` alone, as the standard demands."""

    def __init__(self) -> None:
        super().__init__(token_field="pageToken", token_param="pageToken", page_size_param="limit")

    def request(
        self, url: str, params: Mapping[str, Any], page_size: int, token: str | None
    ) -> tuple[str, dict[str, Any]]:
        """The first page with its filters and `limit`; a later one with only its token."""
        if token is None:
            return url, {**params, "limit": page_size}
        return url, {self.token_param: token}


# -- streams ---------------------------------------------------------------------------


class _Stream(HttpStream[Any, Any]):
    """An SS 12000 collection, incremental by `meta.modified.after`."""

    records_key = "data"
    paginator = TokenOnlyPaginator()
    incremental: ClassVar[Incremental | None] = Incremental(
        "meta.modified", param="meta.modified.after"
    )
    source: SS12000

    def common(self, raw: _Header, key: str | None = None) -> dict[str, Any]:
        """The fields every entity takes from the object header; `key` for derived ones."""
        return {
            "tenant": self.source.tenant,
            "source": self.source.ref,
            "key": key or raw.id,
            "source_modified": raw.meta.modified if raw.meta is not None else None,
        }

    def _bad(self, message: str) -> SkippableRecordError:
        return SkippableRecordError(message, connector=self.source.name)


def hub_school_types(codes: list[str]) -> tuple[SchoolType, ...]:
    """SS 12000 school-type codes as the hub's, in order; adult-education variants as VUX."""
    known = {t.value: t for t in SchoolType}
    found: list[SchoolType] = []
    for code in codes:
        value = code.strip().upper()
        school_type = known.get(value) or (SchoolType.ADULT if _ADULT.match(value) else None)
        if school_type is not None and school_type not in found:
            found.append(school_type)
    return tuple(found)


class _Organisations(_Stream):
    name = "organisations"
    path = "/organisations"
    raw_model = _Organisation
    entity_type = Organisation

    def to_entity(self, raw: _Organisation) -> Organisation:
        code = (raw.schoolUnitCode or "").strip() or None
        if code is not None and not re.fullmatch(r"\d{8}", code):
            raise self._bad("schoolUnitCode is not 8 digits (a skolenhetskod)")
        school_types = hub_school_types(raw.schoolTypes)
        kind = OrganisationKind.OTHER
        if raw.organisationType == "Huvudman":
            kind = OrganisationKind.OWNER
        elif raw.organisationType == "Skolenhet" or (raw.organisationType is None and code):
            preschool_only = bool(school_types) and set(school_types) == {SchoolType.PRESCHOOL}
            kind = (
                OrganisationKind.PRESCHOOL_UNIT if preschool_only else OrganisationKind.SCHOOL_UNIT
            )
        number = re.sub(r"\D", "", raw.organisationNumber or "")
        return Organisation(
            **self.common(raw),
            kind=kind,
            name=raw.displayName,
            org_number=number[-10:] if len(number) in (10, 12) else None,
            school_unit_code=code,
            parent_key=raw.parentOrganisation.id if raw.parentOrganisation else None,
            school_types=school_types,
        )


def duty_role(title: str | None, description: str | None = None) -> Role:
    """The hub's role for an SS 12000 `dutyRole` (and an IT pedagogue's description)."""
    if description and _IT_PEDAGOGUE.search(description):
        return Role.IT_PEDAGOGUE
    return DUTY_ROLES.get((title or "").strip().lower(), Role.STAFF)


def enrolment_grade(school_type: str, school_year: int | None) -> int | None:
    """The grade as the hub counts it: F-class 0, grundskola 1-9, gymnasium years as 11-13."""
    code = school_type.strip().upper()
    if code == "FKLASS":
        return 0
    if school_year is None:
        return None
    if code in ("GY", "GYS") and 1 <= school_year <= 3:
        return 10 + school_year
    if code in ("GR", "GRS", "SP", "SAM") and 1 <= school_year <= 10:
        return school_year
    return None


class _Persons(_Stream):
    name = "persons"
    path = "/persons"
    raw_model = _Person
    entity_type = Person
    query: ClassVar[Mapping[str, Any]] = {"expand": ["duties", "placements"]}

    def to_entity(self, raw: _Person) -> Person:
        nin_hmac, nin_invalid = self.source.civic_no_hmac(raw.civicNo)
        eppn: str | None = None
        external: set[str] = set()
        for value in raw.eduPersonPrincipalNames:
            principal = value.strip().lower()
            if not principal:
                continue
            if eppn is None and _EPPN.match(principal):
                eppn = principal
            else:
                external.add(f"eduPersonPrincipalName:{principal}")
        for identifier in raw.externalIdentifiers:
            value = identifier.value.strip()
            context = (identifier.context or "").strip()
            if _CIVIC_CONTEXT.search(context) or looks_like_national_id(value):
                # A civic number under another name: hashed if civicNo is absent, never kept.
                if nin_hmac is None:
                    nin_hmac, invalid = self.source.civic_no_hmac(_CivicNo(value=value))
                    nin_invalid = nin_invalid or invalid
                continue
            external.add(f"{context or 'external'}:{value}")
        embedded = raw.embedded or _PersonEmbedded()
        roles: list[Role] = []
        grade: int | None = None
        units: list[str] = []
        for enrolment in raw.enrolments:
            if enrolment.cancelled:
                continue
            code = enrolment.schoolType.strip().upper()
            units.append(enrolment.enroledAt.id)
            if code in _CHILD_SCHOOL_TYPES:
                roles.append(Role.CHILD)
            elif code not in _LEISURE_SCHOOL_TYPES:
                roles.append(Role.PUPIL)
                if grade is None:
                    grade = enrolment_grade(code, enrolment.schoolYear)
        for placement in embedded.placements:
            code = (placement.schoolType or "").strip().upper()
            if placement.placedAt:
                units.append(placement.placedAt.id)
            if code in _CHILD_SCHOOL_TYPES:
                roles.append(Role.CHILD)
            elif code == "FKLASS":
                roles.append(Role.PUPIL)
                grade = 0 if grade is None else grade
        for duty in embedded.duties:
            if duty.dutyAt:
                units.append(duty.dutyAt.id)
            roles.append(duty_role(duty.dutyRole, duty.description))
        email = next(
            (e.value for e in raw.emails if (e.type or "").lower().startswith("skola")),
            raw.emails[0].value if raw.emails else None,
        )
        given = " ".join(n for n in (raw.givenName, raw.middleName) if n)
        title = next((d.dutyRole for d in embedded.duties if d.dutyRole), None)
        person = Person(
            **self.common(raw),
            eppn=eppn,
            email=email,
            given_name=raw.givenName,
            family_name=raw.familyName,
            display_name=f"{given} {raw.familyName}",
            roles=tuple(dict.fromkeys(roles)),
            title=title,
            unit_keys=tuple(sorted(set(units))),
            primary_unit_key=units[0] if units else None,
            grade=grade,
            nin_hmac=nin_hmac,
            nin_invalid=nin_invalid,
            external_ids=tuple(sorted(external)),
        )
        if is_protected(raw.securityMarking):
            return protect(person, allow_names=self.source.protected_names)
        return person

    def redact(self, record: Any) -> dict[str, Any]:
        """Scrubbed, with the civic number, and external ids that hold one, removed.

        A protected person's dead letter keeps only what the published person would.
        """
        if not isinstance(record, dict):
            return super().redact(record)
        if is_protected(str(record.get("securityMarking") or "")):
            return {k: v for k, v in record.items() if k in _PROTECTED_DEAD_LETTER_FIELDS}
        copy = dict(record)
        if "civicNo" in copy:
            civic = copy["civicNo"]
            copy["civicNo"] = {**civic, "value": REDACTED} if isinstance(civic, dict) else REDACTED
        if isinstance(copy.get("externalIdentifiers"), list):
            copy["externalIdentifiers"] = [
                {**e, "value": REDACTED}
                if isinstance(e, dict)
                and (
                    _CIVIC_CONTEXT.search(str(e.get("context") or ""))
                    or looks_like_national_id(str(e.get("value") or ""))
                )
                else e
                for e in copy["externalIdentifiers"]
            ]
        return super().redact(copy)


class _Duties(_Stream):
    name = "duties"
    path = "/duties"
    raw_model = _Duty
    entity_type = Duty

    def __init__(self, source: SS12000) -> None:
        super().__init__(source)
        source.duty_people.clear()  # a read resolves teachers with the duties it reads

    def to_items(self, raw: _Duty) -> list[Item]:
        """The duty, then a membership per group it is assigned to."""
        self.source.duty_people[raw.id] = raw.person.id
        duty = self.to_entity(raw)
        return [
            duty,
            *(
                Membership(
                    **self.common(raw, compose_key(assignment.group.id, raw.person.id, raw.id)),
                    group_key=assignment.group.id,
                    person_key=raw.person.id,
                    role=ASSIGNMENT_ROLES.get(assignment.assignmentRoleType, MembershipRole.OTHER),
                    valid_from=assignment.startDate,
                    valid_to=assignment.endDate,
                )
                for assignment in raw.assignmentRole
            ),
        ]

    def to_entity(self, raw: _Duty) -> Duty:
        return Duty(
            **self.common(raw),
            person_key=raw.person.id,
            unit_key=raw.dutyAt.id,
            role=duty_role(raw.dutyRole, raw.description),
            source_role=raw.dutyRole,
            description=raw.description,
            signature=raw.signature,
            duty_percent=raw.dutyPercent,
            hours_per_year=raw.hoursPerYear,
            start_date=raw.startDate,
            end_date=raw.endDate,
        )


class _Placements(_Stream):
    name = "placements"
    path = "/placements"
    raw_model = _Placement
    entity_type = Placement

    def to_entity(self, raw: _Placement) -> Placement:
        code = raw.schoolType.strip().upper()
        try:
            school_type = PlacementSchoolType(code)
        except ValueError:
            allowed = ", ".join(t.value for t in PlacementSchoolType)
            raise self._bad(f"schoolType is not a placement school type ({allowed})") from None
        return Placement(
            **self.common(raw),
            person_key=raw.child.id,
            unit_key=raw.placedAt.id,
            school_type=school_type,
            group_key=raw.group.id if raw.group else None,
            start_date=raw.startDate,
            end_date=raw.endDate,
        )


class _Groups(_Stream):
    name = "groups"
    path = "/groups"
    raw_model = _Group
    entity_type = Group

    def to_items(self, raw: _Group) -> list[Item]:
        """The group, then a student membership per member (one per person)."""
        members: dict[str, _GroupMembership] = {}
        for member in raw.groupMemberships:
            known = members.get(member.person.id)
            if known is None:
                members[member.person.id] = member
                continue
            # The same person twice (left and came back): one membership over both spans.
            members[member.person.id] = _GroupMembership(
                person=member.person,
                startDate=_earliest(known.startDate, member.startDate),
                endDate=_latest(known.endDate, member.endDate),
            )
        group = Group(
            **self.common(raw),
            kind=GROUP_KINDS.get(raw.groupType, GroupKind.OTHER),
            name=raw.displayName,
            unit_key=raw.organisation.id,
            valid_from=raw.startDate,
            valid_to=raw.endDate,
        )
        return [
            group,
            *(
                Membership(
                    **self.common(raw, compose_key(raw.id, person_key)),
                    group_key=raw.id,
                    person_key=person_key,
                    role=MembershipRole.STUDENT,
                    valid_from=member.startDate,
                    valid_to=member.endDate,
                )
                for person_key, member in members.items()
            ),
        ]


def _earliest(a: date | None, b: date | None) -> date | None:
    return None if a is None or b is None else min(a, b)


def _latest(a: date | None, b: date | None) -> date | None:
    return None if a is None or b is None else max(a, b)


class _Activities(_Stream):
    """Not published itself: the teachers of its groups become teacher memberships."""

    name = "activities"
    path = "/activities"
    raw_model = _Activity
    entity_type = Membership
    dead_letter_entity = "activity"
    query: ClassVar[Mapping[str, Any]] = {"expand": ["teachers"]}
    #: The standard leaves `/activities` optional: a 404 on its first page skips it.
    skip_statuses = frozenset({404})

    def __init__(self, source: SS12000) -> None:
        super().__init__(source)
        source.unresolved_teachers = 0

    def to_items(self, raw: _Activity) -> list[Item]:
        """A teacher membership per group and teacher; nothing of the activity's own."""
        embedded = {
            t.id: t.person.id for t in (raw.embedded.teachers if raw.embedded else []) if t.person
        }
        memberships: list[Item] = []
        seen: set[str] = set()
        for teacher in raw.teachers:
            person = embedded.get(teacher.duty.id) or self.source.duty_people.get(teacher.duty.id)
            if person is None:
                self.source.unresolved_teachers += 1
                continue
            for group in raw.groups:
                key = compose_key(group.id, person, f"activity:{raw.id}")
                if key in seen:
                    continue
                seen.add(key)
                memberships.append(
                    Membership(
                        **self.common(raw, key),
                        group_key=group.id,
                        person_key=person,
                        role=MembershipRole.TEACHER,
                        valid_from=teacher.startDate,
                        valid_to=teacher.endDate,
                    )
                )
        return memberships

    def finished(self) -> None:
        """Warn about teachers whose duty no duty read in this run resolves."""
        if self.source.unresolved_teachers:
            log.warning("activity_teachers_unresolved", count=self.source.unresolved_teachers)


class _DeletedEntities(_Stream):
    """`/deletedEntities?after=…`: the ids the server deleted, as `Removed` (incremental only)."""

    name = "deletedEntities"
    path = "/deletedEntities"
    raw_model = _DeletedEntity
    entity_type = Person
    dead_letter_entity = "deleted_entity"
    #: `after` the previous run's start (less the overlap), which is this stream's bookmark.
    incremental = Incremental(None, param="after")
    incremental_only = True

    def records_in(self, body: Any) -> list[dict[str, Any]]:
        """The deleted ids as `{"entity", "id"}` records (`deleted_records`)."""
        return deleted_records(body)

    def to_items(self, raw: _DeletedEntity) -> tuple[Item, ...]:
        """The delete of the entity the id names, if it is a type the hub publishes."""
        entity_type = DELETED_KEYS.get(raw.entity.replace("_", "").lower())
        return (Removed(entity_type, raw.id),) if entity_type is not None else ()


def deleted_records(body: Any) -> list[dict[str, Any]]:
    """The records of a `/deletedEntities` page as `{"entity", "id"}`, whichever shape it has.

    The standard's shape is `{"data": {"persons": [ids], "groups": [ids], ...}}`; some
    servers send `{"data": [{"entityType": "Person", "id": ...}]}` instead.
    """
    data = body.get("data") if isinstance(body, dict) else None
    if isinstance(data, dict):
        return [
            {"entity": name, "id": value}
            for name, ids in data.items()
            if isinstance(ids, list)
            for value in ids
        ]
    if isinstance(data, list):
        return [
            {"entity": r.get("entityType") or r.get("type") or "", "id": r.get("id")}
            if isinstance(r, dict)
            else {"entity": "", "id": r}
            for r in data
        ]
    return []


# -- the source ----------------------------------------------------------------------


class SS12000SourceSettings(HttpSourceSettings):
    """An SS 12000:2020 API (the Swedish school-data standard), e.g. a school owner's SIS.

    Federated Swedish exchanges often require mutual TLS: `client_cert` (a PEM file, which
    may hold the key too) and `client_key` are presented on every request, the token
    request included. They are paths, not secrets in the file; the key file stays 0600.
    """

    type: Literal["ss12000"]
    client_cert: Path | None = None
    client_key: Path | None = None
    #: Read `/activities` for the teachers of groups (skipped if the API has none).
    activities: bool = True
    #: How far before its bookmark an incremental read starts (`meta.modified.after`).
    incremental_overlap: timedelta = timedelta(seconds=60)
    #: Register a subscription (webhook) so changes are pushed (`hub listen`, docs/ss12000.md).
    subscribe: bool = False
    #: Renew the subscription when it expires sooner than this.
    subscription_renew_before: timedelta = timedelta(minutes=30)

    @model_validator(mode="after")
    def _key_needs_cert(self) -> SS12000SourceSettings:
        if self.client_key is not None and self.client_cert is None:
            raise ValueError("client_key is set, so client_cert must be set too")
        return self


class SS12000(HttpSource):
    """Organisations, persons, duties, placements and groups from an SS 12000:2020 API."""

    name: ClassVar[str] = "identity.ss12000"
    system: ClassVar[str] = "ss12000"
    entity_types = (Organisation, Person, Duty, Placement, Group, Membership)
    streams = (
        _Organisations,
        _Persons,
        _Duties,
        _Placements,
        _Groups,
        _Activities,
        _DeletedEntities,
    )
    supports_incremental = True
    settings: SS12000SourceSettings
    _hmac_key: bytes

    def __init__(
        self,
        settings: SS12000SourceSettings,
        *,
        tenant: str,
        secret: str,
        hmac_key: bytes,
        retry: RetryPolicy | None = None,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.monotonic,
        today: Callable[[], date] = lambda: datetime.now(UTC).date(),
    ) -> None:
        super().__init__(
            settings,
            tenant=tenant,
            secret=secret,
            retry=retry,
            session=session,
            clock=clock,
        )
        self._hmac_key = hmac_key
        self._today = today
        self.country = "SE"
        if settings.client_cert is not None:
            self.session.cert = self._client_certificate(settings.client_cert, settings.client_key)
        #: Duty id → person id, from the duties read in this run (for activities' teachers).
        self.duty_people: dict[str, str] = {}
        #: Activity teachers whose duty could not be resolved to a person in this run.
        self.unresolved_teachers = 0
        #: The only streams to read (a pushed change's); None reads them all.
        self.only_streams: frozenset[str] | None = None

    def _client_certificate(self, cert: Path, key: Path | None) -> str | tuple[str, str]:
        for path, what in ((cert, "client_cert"), (key, "client_key")):
            if path is not None and not path.is_file():
                raise ConfigError(f"{what} {path} is not a readable file", connector=self.name)
        return (str(cert), str(key)) if key is not None else str(cert)

    # -- reading ------------------------------------------------------------------------

    def streams_to_read(self) -> tuple[type[HttpStream[Any, Any]], ...]:
        """Every stream; without `activities`, not the activities; after `read_only`, only those.

        `/deletedEntities` stays in a narrowed read: it is read on incremental runs only.
        """
        streams: tuple[type[HttpStream[Any, Any]], ...] = self.streams
        if not self.settings.activities:
            streams = tuple(s for s in streams if s is not _Activities)
        if self.only_streams is not None:
            streams = tuple(
                s for s in streams if s.name in self.only_streams or s is _DeletedEntities
            )
        return streams

    def read_only(self, streams: Collection[str]) -> None:
        """Read only these streams (and `/deletedEntities`): what a notification named."""
        unknown = set(streams) - {s.name for s in self.streams}
        if unknown:
            raise ConfigError(f"no stream {', '.join(sorted(unknown))}", connector=self.name)
        self.only_streams = frozenset(streams)

    # -- subscriptions --------------------------------------------------------------------

    def subscriptions(self) -> list[SubscriptionRecord]:
        """The client's subscriptions on the API (`GET /subscriptions`, every page)."""
        found: list[SubscriptionRecord] = []
        url, params, seen = self.url("/subscriptions"), {"limit": self.settings.page_size}, set()
        while True:
            body = self.get(url, params).json()
            found.extend(SubscriptionRecord.model_validate(r) for r in body.get("data") or [])
            token = body.get("pageToken")
            if not token or token in seen:
                return found
            seen.add(token)
            params = {"pageToken": token}

    def subscribe(
        self, name: str, target: str, resources: Collection[str] = tuple(RESOURCE_STREAMS)
    ) -> SubscriptionRecord:
        """Register a webhook at `target` for these resource types (`POST /subscriptions`)."""
        body = {
            "name": name,
            "target": target,
            "resourceTypes": [{"resource": r} for r in resources],
        }
        return SubscriptionRecord.model_validate(self.post(self.url("/subscriptions"), body).json())

    def renew_subscription(self, subscription_id: str) -> SubscriptionRecord:
        """Move a subscription's expiry on (`PATCH /subscriptions/<id>`); 404 if it is gone."""
        response = self.send("PATCH", self.url(f"/subscriptions/{subscription_id}"))
        return SubscriptionRecord.model_validate(response.json())

    def unsubscribe(self, subscription_id: str) -> None:
        """End a subscription (`DELETE /subscriptions/<id>`)."""
        self.send("DELETE", self.url(f"/subscriptions/{subscription_id}"))

    # -- privacy --------------------------------------------------------------------------

    def civic_no_hmac(self, civic_no: _CivicNo | None) -> tuple[str | None, bool]:
        """The keyed HMAC of a civic number (12 digits, country SE), and whether it was invalid.

        A number that fails its checks gives no HMAC and True: the person is published
        without it (issue 13: a register's typing error is no reason to drop a pupil). A
        temporary number with letters gives neither. A `nationality` other than SE is read
        by the detector as that country's number.
        """
        if civic_no is None:
            return None, False
        country = (civic_no.nationality or "SE").strip().upper() or "SE"
        if country != "SE":
            number = national_id(civic_no.value, country, self._today())
            if number is None:
                return None, True
            return hmac_of(self._hmac_key, number), False
        try:
            digits = normalise_civic_no(civic_no.value, self._today())
        except ValueError:
            return None, True
        return (national_id_hmac(self._hmac_key, "SE", digits) if digits else None), False


__all__ = [
    "CONNECTOR",
    "RESOURCE_STREAMS",
    "SS12000",
    "Notification",
    "NotificationError",
    "SS12000SourceSettings",
    "SubscriptionRecord",
    "parse_notification",
]

CONNECTOR = ConnectorSpec(
    settings=SS12000SourceSettings,
    connector=SS12000,
    domain="identity",
    pool=None,
    title="SS 12000 API",
    build=with_secret(SS12000, hmac_key=True),
    doc="docs/ss12000.md",
)
