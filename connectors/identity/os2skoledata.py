"""OS2skoledata's REST API: a Danish kommune's school users from STIL's national user database.

Danish school user data lives in STIL's user database (brugerdatabasen); a kommune with a
data agreement fetches its institutions' export every night. Many kommuner run
OS2skoledata for that, which offers the export over a REST API; this connector reads it.

**Authentication**: the API key in the `ApiKey` header (`auth: {kind: bearer, secret}`
holds it; the connector sends it under OS2skoledata's header, not as a bearer token).

**Full read**: `GET /api/head` first (the newest change id), then `GET /api/institutions`
and, per institution, `GET /api/persons?institutionNumber=N` and `GET /api/groups?
institutionNumber=N&alltypes=true`. OS2skoledata answers whole lists: the institution is
the unit of reading, there is no paging. After the read the head is registered as the
starting point of each institution (`POST /api/head/N {"head": …}`), so the next
incremental read sees every change made during this one.

**Incremental read**: institutions in full (a short list), then `GET /api/changes/N` per
institution: the change log since the registered starting point. Every institution is
asked before anything else is read; a 409 from any of them (no starting point registered,
or 10,000 changes or more) turns the whole run into a full read, which the runner then
reconciles as any full read. Changed persons and groups are fetched by database id
(`POST /api/changes/persons|groups {"ids": […]}`); a `DELETE` becomes `Removed`. The
starting point is not moved by an incremental read (OS2skoledata refuses to move it back,
so a run that fails after moving it would lose changes); each incremental read replays
every change since the last full read, which is harmless (an unchanged entity publishes
nothing) and bounded by the periodic full read (`full_sync_every`) and the 409. OS2skoledata
returns only main groups (`HOVEDGRUPPE`) by id, and memberships that ended with a changed
group or person: those catch up at the next full read, as for SS 12000.

**Privacy**: `cpr` becomes `nin_hmac` (keyed HMAC, country DK) and is never kept; one that
is not a CPR number (no valid date) is dropped and the person is published `nin_invalid`.
OS2skoledata's person list serves a protected person (navne- og adressebeskyttelse) under
alias names with no marker; the marker is in the institution's full record (`GET
/api/full/N`, `person.protected`), which the connector reads for that flag alone when
`protection_lookup` is on (the default). A protected person goes through
`connectors.privacy.protect`: no names, not even the aliases, unless the policy allows.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime
from typing import Annotated, Any, ClassVar, Literal

import requests
import structlog
from pydantic import BaseModel, ConfigDict, Field, field_validator

from connectors._http_auth import Authenticator
from connectors.base import Item, Removed, RetryPolicy, bookmark_text
from connectors.errors import FatalError
from connectors.http import HttpSource, HttpSourceSettings, HttpStream, OffsetPaginator
from connectors.privacy import hmac_of, national_id, protect
from connectors.registry import ConnectionForm, ConnectorSpec, with_secret
from schemas.entities import (
    Entity,
    Group,
    GroupKind,
    Membership,
    MembershipRole,
    Organisation,
    OrganisationKind,
    Person,
    Role,
    SchoolType,
    compose_key,
)

log = structlog.get_logger(__name__)

REDACTED = "[redacted]"
#: How many ids one `POST /api/changes/...` asks for.
IDS_PER_REQUEST = 200

#: STIL's employee roles (`DBEmployeeRole`) → the hub's role. A pædagog is a preschool
#: teacher (the hub's role for the pedagogue profession) at a dagtilbud and at a school
#: alike, so the follow-up counts pædagoger apart from lærere (docs/denmark.md).
EMPLOYEE_ROLES: dict[str, Role] = {
    "LÆRER": Role.TEACHER,
    "PÆDAGOG": Role.PRESCHOOL_TEACHER,
    "VIKAR": Role.TEACHER,
    "LEDER": Role.SCHOOL_LEADER,
    "LEDELSE": Role.SCHOOL_LEADER,
    "TAP": Role.ADMINISTRATOR,
    "KONSULENT": Role.STAFF,
}
#: The Danish title of each employee role, as `Person.title` carries it.
EMPLOYEE_TITLES: dict[str, str] = {
    "LÆRER": "Lærer",
    "PÆDAGOG": "Pædagog",
    "VIKAR": "Vikar",
    "LEDER": "Leder",
    "LEDELSE": "Ledelse",
    "TAP": "TAP",
    "KONSULENT": "Konsulent",
}
#: Employee roles whose members of a group teach or care for it.
_TEACHING = frozenset({"LÆRER", "PÆDAGOG", "VIKAR"})
#: Institution types → the hub's organisation kind and school types.
INSTITUTION_KINDS: dict[str, tuple[OrganisationKind, tuple[SchoolType, ...]]] = {
    "SCHOOL": (
        OrganisationKind.SCHOOL_UNIT,
        (SchoolType.PRESCHOOL_CLASS, SchoolType.COMPULSORY),
    ),
    "DAYCARE": (OrganisationKind.PRESCHOOL_UNIT, (SchoolType.PRESCHOOL,)),
    "MUNICIPALITY": (OrganisationKind.OWNER, ()),
    "FU": (OrganisationKind.SCHOOL_UNIT, ()),
}
#: Group types (`DBImportGroupType`) → the hub's group kind (a dagtilbud's main group is a
#: preschool section).
GROUP_KINDS: dict[str, GroupKind] = {
    "HOVEDGRUPPE": GroupKind.BASE_GROUP,
    "HOLD": GroupKind.TEACHING_GROUP,
}
#: Change-log entity types → the hub's entity type of a delete.
CHANGE_ENTITIES: dict[str, type[Entity]] = {
    "INSTITUTION": Organisation,
    "INSTITUTION_PERSON": Person,
    "GROUP": Group,
}


# -- raw shapes (OS2skoledata's DTOs; only what the hub reads) ---------------------------


class _Raw(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Institution(_Raw):
    databaseId: int
    name: str = Field(min_length=1)
    number: str = Field(min_length=1)
    abbreviation: str | None = None
    type: str | None = None


class _Reachable(_Raw):
    """What reading an institution's people and groups needs of its record: its number."""

    number: str = Field(min_length=1)
    databaseId: int | None = None
    type: str | None = None


class _Stamped(_Raw):
    lastModified: datetime | None = None

    @field_validator("lastModified", mode="before")
    @classmethod
    def _local_time(cls, value: Any) -> Any:
        """OS2skoledata writes `yyyy-MM-dd HH:mm:ss` (no zone): read as UTC."""
        if isinstance(value, str) and value:
            moment = datetime.fromisoformat(value.replace(" ", "T"))
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        return value


class _Group(_Stamped):
    databaseId: int
    groupId: str | None = None
    groupName: str = Field(min_length=1)
    groupType: str | None = None
    groupLevel: str | None = None
    fromDate: date | None = None
    toDate: date | None = None
    institutionNumber: str


class _Person(_Stamped):
    databaseId: int
    firstName: str | None = None
    familyName: str | None = None
    cpr: str | None = None
    username: str | None = None
    uniId: str | None = None
    role: Literal["STUDENT", "EMPLOYEE", "EXTERNAL"]
    studentRole: str | None = None
    employeeRoles: list[str] | None = None
    externalRole: str | None = None
    groupIds: list[int] = []
    studentMainGroups: list[int] = []
    currentInstitutionNumber: str | None = None
    studentMainGroupLevelForInstitution: str | None = None
    deleted: bool = False


class _Change(_Raw):
    id: int
    entityId: int
    entityType: str
    eventType: str
    institutionId: int | None = None


# -- streams: one record shape each; read per institution by the source ------------------


class _Stream(HttpStream[Any, Any]):
    records_key = ""
    #: Unused: OS2skoledata does not page (the source reads per institution).
    paginator = OffsetPaginator()
    source: OS2skoledata

    def common(self, key: str, modified: datetime | None = None) -> dict[str, Any]:
        return {
            "tenant": self.source.tenant,
            "source": self.source.ref,
            "key": key,
            "source_modified": modified,
        }

    def record_ref(self, record: Any, index: int) -> str:
        """A dead letter names its record by `databaseId`."""
        if isinstance(record, dict) and isinstance(record.get("databaseId"), int | str):
            return str(record["databaseId"])
        return f"{self.name}#{index}"

    def record_key(self, record: Any) -> str | None:
        """The key of a record that failed: its `databaseId`."""
        if self.dead_letter_entity != self.entity_type.entity or not isinstance(record, dict):
            return None
        value = record.get("databaseId")
        return str(value) if isinstance(value, int | str) and str(value) else None


class _Institutions(_Stream):
    name = "institutions"
    path = "/api/institutions"
    raw_model = _Institution
    entity_type = Organisation

    def to_entity(self, raw: _Institution) -> Organisation:
        kind, school_types = INSTITUTION_KINDS.get(raw.type or "", (OrganisationKind.OTHER, ()))
        return Organisation(
            **self.common(str(raw.databaseId)),
            kind=kind,
            name=raw.name,
            school_unit_code=raw.number,
            school_types=school_types,
        )


class _Groups(_Stream):
    name = "groups"
    path = "/api/groups"
    raw_model = _Group
    entity_type = Group

    def to_entity(self, raw: _Group) -> Group:
        unit = self.source.institution_ids.get(raw.institutionNumber)
        kind = GROUP_KINDS.get((raw.groupType or "").upper(), GroupKind.OTHER)
        if kind is GroupKind.BASE_GROUP and self.source.institution_types.get(unit) == "DAYCARE":
            kind = GroupKind.PRESCHOOL_SECTION
        return Group(
            **self.common(str(raw.databaseId), raw.lastModified),
            kind=kind,
            name=raw.groupName,
            unit_key=unit,
            valid_from=raw.fromDate,
            valid_to=raw.toDate,
        )


def grade_of(level: str | None) -> int | None:
    """A main group's level as the hub's grade: `0` (børnehaveklasse) to `10`; else None."""
    text = (level or "").strip().rstrip(".")
    return int(text) if text.isdigit() and 0 <= int(text) <= 10 else None


class _Persons(_Stream):
    name = "persons"
    path = "/api/persons"
    raw_model = _Person
    entity_type = Person

    def to_items(self, raw: _Person) -> Iterable[Item]:
        """The person, then a membership of each group they belong to."""
        person = self.to_entity(raw)
        role = membership_role(raw)
        memberships = [
            Membership(
                **self.common(compose_key(str(group), person.key), raw.lastModified),
                group_key=str(group),
                person_key=person.key,
                role=role,
            )
            for group in dict.fromkeys(raw.groupIds)
        ]
        return [person, *memberships]

    def to_entity(self, raw: _Person) -> Person:
        nin_hmac, nin_invalid = self.source.cpr_hmac(raw.cpr)
        unit = self.source.institution_ids.get(raw.currentInstitutionNumber or "")
        roles: list[Role] = []
        title: str | None = None
        grade: int | None = None
        if raw.role == "STUDENT":
            roles.append(Role.CHILD if (raw.studentRole or "").upper() == "BARN" else Role.PUPIL)
            if roles[0] is Role.PUPIL:
                grade = grade_of(raw.studentMainGroupLevelForInstitution)
        elif raw.role == "EMPLOYEE":
            for code in raw.employeeRoles or []:
                roles.append(EMPLOYEE_ROLES.get(code.upper(), Role.STAFF))
            roles = roles or [Role.STAFF]
            title = next(
                (
                    EMPLOYEE_TITLES[c.upper()]
                    for c in raw.employeeRoles or []
                    if c.upper() in EMPLOYEE_TITLES
                ),
                None,
            )
        else:
            roles.append(Role.OTHER)
            title = (raw.externalRole or "").capitalize() or None
        given, family = raw.firstName or None, raw.familyName or None
        external = [f"unilogin:{raw.uniId}"] if raw.uniId else []
        person = Person(
            **self.common(str(raw.databaseId), raw.lastModified),
            username=raw.username or None,
            email=self.source.address_of(raw.username),
            given_name=given,
            family_name=family,
            display_name=" ".join(n for n in (given, family) if n) or None,
            roles=tuple(dict.fromkeys(roles)),
            affiliations=(raw.role.lower(),),
            primary_affiliation=raw.role.lower(),
            title=title,
            unit_keys=(unit,) if unit else (),
            primary_unit_key=unit,
            grade=grade,
            nin_hmac=nin_hmac,
            nin_invalid=nin_invalid,
            external_ids=tuple(external),
        )
        if raw.databaseId in self.source.protected_ids:
            return protect(person, allow_names=self.source.protected_names)
        return person

    def redact(self, record: Any) -> dict[str, Any]:
        """Without the CPR number; a protected person's keeps no names either."""
        if not isinstance(record, dict):
            return super().redact(record)
        copy = {k: v for k, v in record.items() if k != "cpr"}
        if "cpr" in record:
            copy["cpr"] = REDACTED
        if record.get("databaseId") in self.source.protected_ids:
            keep = {
                "databaseId",
                "role",
                "studentRole",
                "employeeRoles",
                "currentInstitutionNumber",
            }
            copy = {k: v for k, v in copy.items() if k in keep}
        return super().redact(copy)


def membership_role(raw: _Person) -> MembershipRole:
    """A person's role in their groups: pupils study, teaching staff teach, others are staff."""
    if raw.role == "STUDENT":
        return MembershipRole.STUDENT
    if raw.role == "EMPLOYEE":
        codes = {c.upper() for c in raw.employeeRoles or []}
        return MembershipRole.TEACHER if codes & _TEACHING else MembershipRole.STAFF
    return MembershipRole.OTHER


# -- the source ---------------------------------------------------------------------------


class OS2skoledataSettings(HttpSourceSettings):
    """A kommune's OS2skoledata API: `base_url` and the API key (`auth: {kind: bearer}`)."""

    type: Literal["os2skoledata"]
    #: Read `/api/full/N` per institution for the `protected` marker (alias names).
    protection_lookup: bool = True
    #: The domain of the accounts OS2skoledata provisions (its AD, Entra ID or Google
    #: sync): a person's `email` is `<username>@<account_domain>`, which is how devices and
    #: other systems name them. None: persons have no address.
    account_domain: Annotated[str, Field(pattern=r"^[a-z0-9.-]+\.[a-z]{2,}$")] | None = None


class _ApiKey(Authenticator):
    """OS2skoledata's `ApiKey` header."""

    def __init__(self, key: str) -> None:
        self._key = key

    def headers(self) -> dict[str, str]:
        """`ApiKey: <key>`."""
        return {"ApiKey": self._key}

    def secrets(self) -> tuple[str, ...]:
        """The key."""
        return (self._key,)


class _ChangeLogUnusable(Exception):
    """A 409 from the change log: no starting point, or too many changes."""


class OS2skoledata(HttpSource):
    """Institutions, persons, groups and memberships from a kommune's OS2skoledata."""

    name: ClassVar[str] = "identity.os2skoledata"
    system: ClassVar[str] = "os2skoledata"
    entity_types = (Organisation, Person, Group, Membership)
    streams = (_Institutions, _Persons, _Groups)
    supports_incremental = True
    settings: OS2skoledataSettings
    _hmac_key: bytes

    def __init__(
        self,
        settings: OS2skoledataSettings,
        *,
        tenant: str,
        secret: str,
        hmac_key: bytes,
        retry: RetryPolicy | None = None,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(
            settings, tenant=tenant, secret=secret, retry=retry, session=session, clock=clock
        )
        self._hmac_key = hmac_key
        self.country = "DK"
        #: Institution number → its database id (the organisation's key), from this read.
        self.institution_ids: dict[str, str] = {}
        #: Organisation key → OS2skoledata's institution type.
        self.institution_types: dict[str | None, str] = {}
        #: Database ids of persons marked protected, from the full records read.
        self.protected_ids: set[int] = set()
        #: Whether the last read fell back from the change log to a full read.
        self.fell_back_to_full = False

    def authenticator(self, secret: str, clock: Callable[[], float]) -> Authenticator:
        """The `ApiKey` header, whatever `auth.kind` says."""
        return _ApiKey(secret)

    # -- reading ------------------------------------------------------------------------

    def check(self) -> None:
        """Authenticate and list the institutions."""
        self.get(self.url(_Institutions.path))

    def read(self) -> Iterator[Item]:
        """Institutions, then a full read or the changes since the last one (see the module)."""
        started = datetime.now(UTC)
        self.fell_back_to_full = False
        head = self._json(self.get(self.url("/api/head"))) if self.full_snapshot else None
        institutions = _Institutions(self)
        raws: list[_Reachable] = []
        items: list[Item] = []
        for index, record in enumerate(self._records(self.get(self.url(institutions.path)))):
            items.extend(institutions.parse(record, index))
            try:  # a record that failed as an Organisation is still read by its number
                raws.append(_Reachable.model_validate(record))
            except ValueError:
                raise FatalError(
                    f"institution record #{index} has no institution number, so its people "
                    "and groups cannot be read (a read without them would delete them)",
                    connector=self.name,
                    path=institutions.path,
                ) from None
        for raw in raws:
            if raw.databaseId is not None:
                self.institution_ids[raw.number] = str(raw.databaseId)
                self.institution_types[str(raw.databaseId)] = raw.type or ""
        changes: dict[str, list[_Change]] | None = None
        if not self.full_snapshot:
            try:
                changes = {raw.number: self._changes(raw.number) for raw in raws}
            except _ChangeLogUnusable as exc:
                log.warning("change_log_unusable", reason=str(exc), read="full")
                self.full_snapshot = True
                self.fell_back_to_full = True
                head = self._json(self.get(self.url("/api/head")))
        yield from items
        if changes is None:
            for raw in raws:
                yield from self._read_institution(raw.number)
            for raw in raws:
                self.post(self.url(f"/api/head/{raw.number}"), {"head": int(head or 0)})
            log.info("change_log_start_registered", head=head, institutions=len(raws))
        else:
            yield from self._read_changes(raws, changes)
        self.set_bookmark("changes", bookmark_text(started))

    def _read_institution(self, number: str) -> Iterator[Item]:
        if self.settings.protection_lookup:
            self._read_protection(number)
        persons = _Persons(self)
        for index, record in enumerate(
            self._records(self.get(self.url(persons.path), {"institutionNumber": number}))
        ):
            yield from persons.parse(record, index)
        groups = _Groups(self)
        response = self.get(
            self.url(groups.path), {"institutionNumber": number, "alltypes": "true"}
        )
        for index, record in enumerate(self._records(response)):
            yield from groups.parse(record, index)

    def _read_protection(self, number: str) -> None:
        """Note which of the institution's persons are protected (`GET /api/full/N`)."""
        body = self._json(self.get(self.url(f"/api/full/{number}")))
        for entry in (body or {}).get("institutionPersons") or []:
            person = entry.get("person") if isinstance(entry, dict) else None
            if isinstance(person, dict) and person.get("protected") is True:
                database_id = person.get("os2skoledataDatabaseId")
                if isinstance(database_id, int):
                    self.protected_ids.add(database_id)

    def _changes(self, number: str) -> list[_Change]:
        try:
            response = self.get(self.url(f"/api/changes/{number}"))
        except FatalError as exc:
            if exc.status == 409:
                raise _ChangeLogUnusable(f"institution {number}: {exc.message}") from None
            raise
        return [_Change.model_validate(c) for c in self._records(response)]

    def _read_changes(
        self, institutions: list[_Reachable], changes: dict[str, list[_Change]]
    ) -> Iterator[Item]:
        """The objects the change log names: fetched by id, or `Removed` for a delete."""
        wanted: dict[str, set[int]] = {"INSTITUTION_PERSON": set(), "GROUP": set()}
        deleted: dict[str, set[int]] = {kind: set() for kind in CHANGE_ENTITIES}
        touched: set[str] = set()
        for number, entries in changes.items():
            for change in entries:  # in log order: a later event overrides an earlier one
                kind = change.entityType.upper()
                if kind not in CHANGE_ENTITIES:
                    continue
                if change.eventType.upper() == "DELETE":
                    deleted[kind].add(change.entityId)
                    wanted.get(kind, set()).discard(change.entityId)
                else:
                    deleted[kind].discard(change.entityId)
                    if kind in wanted:
                        wanted[kind].add(change.entityId)
                        touched.add(number)
        log.info(
            "changes_read",
            persons=len(wanted["INSTITUTION_PERSON"]),
            groups=len(wanted["GROUP"]),
            deletes=sum(len(ids) for ids in deleted.values()),
        )
        if self.settings.protection_lookup and wanted["INSTITUTION_PERSON"]:
            for number in sorted(touched):
                self._read_protection(number)
        for kind, stream_type, path in (
            ("INSTITUTION_PERSON", _Persons, "/api/changes/persons"),
            ("GROUP", _Groups, "/api/changes/groups"),
        ):
            stream = stream_type(self)
            ids = sorted(wanted[kind])
            for start in range(0, len(ids), IDS_PER_REQUEST):
                chunk = ids[start : start + IDS_PER_REQUEST]
                response = self.post(self.url(path), {"ids": chunk})
                for index, record in enumerate(self._records(response)):
                    yield from stream.parse(record, index)
        for kind, gone in deleted.items():
            for database_id in sorted(gone):
                yield self.guarded(Removed(CHANGE_ENTITIES[kind], str(database_id)))

    def _records(self, response: requests.Response) -> list[Any]:
        """The list a response's body is (bounded parsing); not a list is fatal."""
        body = self.page_of(_Institutions(self), response)
        return list(body.records)

    def _json(self, response: requests.Response) -> Any:
        return self.read_body(response).value

    def address_of(self, username: str | None) -> str | None:
        """A person's account address (`account_domain`), lower case; None without one."""
        domain = self.settings.account_domain
        name = (username or "").strip().lower()
        return f"{name}@{domain}" if domain and name else None

    # -- privacy ------------------------------------------------------------------------

    def cpr_hmac(self, cpr: str | None) -> tuple[str | None, bool]:
        """The keyed HMAC of a CPR number (10 digits, country DK), and whether it was invalid."""
        if not cpr or not cpr.strip():
            return None, False
        number = national_id(cpr, "DK")
        if number is None or number.country != "DK":
            return None, True
        return hmac_of(self._hmac_key, number), False


CONNECTOR = ConnectorSpec(
    settings=OS2skoledataSettings,
    connector=OS2skoledata,
    domain="identity",
    pool=None,
    title="OS2skoledata (STIL, Denmark)",
    build=with_secret(OS2skoledata, hmac_key=True),
    connection=ConnectionForm(
        login_field=None, form_fields=("auth.kind",), defaults=(("auth.kind", "bearer"),)
    ),
    doc="docs/denmark.md",
)
