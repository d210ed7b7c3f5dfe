"""A Feide-like LDAP directory (eduPerson, norEdu*) read with RFC 2696 paged searches.

Yields the school owner and its units as `Organisation`, people as `Person`, and the
groups that travel as `eduPersonEntitlement` values as `Group` and `Membership`.
`norEduPersonNIN` becomes a keyed HMAC here and never leaves this module; one that fails
its check digits is dropped and the person published without it (`nin_invalid`). A person
whose `protected_attribute` (configured; Feide has no standard marker) holds a true value
is published protected (`connectors.privacy.protect`) under a pseudonymous key.

Layouts: the organisation entry (`norEduOrg`, whose attributes describe the owner) is
`base_dn`, or the one `norEduOrg` below `base_dn`. Units (`norEduOrgUnit`) and people
(`eduPerson`) are searched below `search_base` (default `base_dn`): below the organisation
entry in a nested directory, or beside it under a common suffix or in `ou=` containers in a
flat one. A person belongs to the organisation by `eduPersonOrgDN`; one naming another
organisation is left out, one without it is kept. A read that finds the organisation but no
people fails, saying where it looked; `check()` and the run report say how many units and
people were found.
"""

from __future__ import annotations

import math
import re
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import unquote

import ldap3
from ldap3.core import exceptions as ldap_exc
from pydantic import Field, model_validator

from connectors.base import (
    Item,
    Rejected,
    RetryPolicy,
    Source,
    bookmark_since,
    failure_reason,
    is_source_failure,
    paged,
)
from connectors.errors import (
    AuthError,
    ConfigError,
    FatalError,
    RetriableError,
    SkippableRecordError,
)
from connectors.privacy import is_valid_norwegian_nin, keyed_hmac, national_id_hmac, protect
from connectors.registry import ConnectionForm, ConnectorSpec, SourceContext
from connectors.settings import Schedule, SecretRef, SettingsModel, SourceId
from schemas.entities import (
    Group,
    GroupKind,
    Membership,
    MembershipRole,
    Organisation,
    OrganisationKind,
    Person,
    Role,
    SchoolType,
    as_key,
    compose_key,
)

PAGED_RESULTS_OID = "1.2.840.113556.1.4.319"
GROUP_URN = "urn:mace:feide.no:go:group:"
GREP_URN = "urn:mace:feide.no:go:grep:"

ORG_ATTRIBUTES = ["o", "norEduOrgUniqueIdentifier", "norEduOrgNIN", "eduOrgLegalName"]
UNIT_ATTRIBUTES = [
    "ou",
    "cn",
    "norEduOrgUnitUniqueIdentifier",
    "norEduOrgAcronym",
    "businessCategory",
    "modifyTimestamp",
]
#: Never `userPassword`: the hub does not read what it must not keep.
PERSON_ATTRIBUTES = [
    "uid",
    "cn",
    "sn",
    "givenName",
    "displayName",
    "mail",
    "title",
    "eduPersonPrincipalName",
    "eduPersonAffiliation",
    "eduPersonPrimaryAffiliation",
    "eduPersonOrgDN",
    "eduPersonOrgUnitDN",
    "eduPersonPrimaryOrgUnitDN",
    "eduPersonEntitlement",
    "norEduPersonNIN",
    "modifyTimestamp",
]
#: Attributes whose values never reach an event, a log line or the dead-letter topic
#: (besides identity numbers and credentials, which are removed by value everywhere).
REDACTED_ATTRIBUTES = frozenset({"norEduPersonNIN", "userPassword"})

AFFILIATIONS = frozenset(
    {"student", "faculty", "staff", "employee", "member", "affiliate", "alum", "library-walk-in"}
)
#: Unit `businessCategory` → (organisation kind, school types).
UNIT_CATEGORIES: dict[str, tuple[OrganisationKind, tuple[SchoolType, ...]]] = {
    "barnehage": (OrganisationKind.PRESCHOOL_UNIT, (SchoolType.PRESCHOOL,)),
    "grunnskole": (OrganisationKind.SCHOOL_UNIT, (SchoolType.COMPULSORY,)),
    "videregaende": (OrganisationKind.SCHOOL_UNIT, (SchoolType.UPPER_SECONDARY,)),
}
#: Staff `title` (lowercase) → role; staff without a known title are `staff`.
TITLE_ROLES: dict[str, Role] = {
    "lærer": Role.TEACHER,
    "lektor": Role.TEACHER,
    "adjunkt": Role.TEACHER,
    "barnehagelærer": Role.PRESCHOOL_TEACHER,
    "pedagogisk leder": Role.PRESCHOOL_TEACHER,
    "assistent": Role.ASSISTANT,
    "fagarbeider": Role.ASSISTANT,
    "miljøarbeider": Role.ASSISTANT,
    "ikt-veileder": Role.IT_PEDAGOGUE,
    "rektor": Role.SCHOOL_LEADER,
    "styrer": Role.SCHOOL_LEADER,
    "inspektør": Role.SCHOOL_LEADER,
    "administrasjon": Role.ADMINISTRATOR,
    "konsulent": Role.ADMINISTRATOR,
    "barn": Role.CHILD,
}
GROUP_KINDS = {"b": GroupKind.BASE_GROUP, "u": GroupKind.TEACHING_GROUP, "a": GroupKind.OTHER}
MEMBER_ROLES = {
    "student": MembershipRole.STUDENT,
    "faculty": MembershipRole.TEACHER,
    "staff": MembershipRole.STAFF,
}
_ORG_NIN = re.compile(r"NO(\d{9})", re.IGNORECASE)
_EPPN = re.compile(r"^[a-z0-9._-]+@[a-z0-9.-]+\.[a-z]{2,}$")
_GRADE = re.compile(r"(?:aarstrinn|trinn)(\d{1,2})$|(?:vg|VG)(\d)$")
#: The bookmark of an incremental read: the newest `modifyTimestamp` of a person seen.
PEOPLE_STREAM = "people"

Attributes = dict[str, list[str]]


@dataclass(frozen=True)
class _Page:
    entries: list[tuple[str, Attributes]]
    cookie: bytes


class _CookiePaginator:
    """The RFC 2696 paged-results cookie as a page token (hex), empty at the end.

    A page without entries but with a cookie is not the end (servers send them when a
    page's worth of candidates failed the filter or the access rules).
    """

    def next(self, page: _Page) -> str | None:
        return page.cookie.hex() if page.cookie else None

    def total(self, page: _Page) -> int | None:
        """None: RFC 2696's `size` is only an estimate (OpenLDAP sends 0), never checked."""
        return None


@dataclass(frozen=True)
class GroupEntitlement:
    """One parsed `urn:mace:feide.no:go:group:` value."""

    kind: str
    grep_code: str
    org: str
    local_id: str
    valid_from: date | None
    valid_to: date | None
    role: str
    name: str

    @cached_property
    def group_key(self) -> str:
        """The group's key: organisation, kind and local id (dates and role vary per member)."""
        return compose_key(self.org, self.kind, self.local_id, separator=":")


def parse_group_entitlement(value: str) -> GroupEntitlement:
    """Parse a Feide group entitlement; raise `ValueError` saying what is wrong."""
    fields = value[len(GROUP_URN) :].split(":")
    if not value.startswith(GROUP_URN) or len(fields) != 8:
        raise ValueError(f"expected 8 fields after {GROUP_URN}, got {len(fields)}")
    kind, grep_code, org, local_id, start, end, role, name = fields
    if kind not in GROUP_KINDS:
        raise ValueError("unknown group type (expected b, u or a)")
    if not org or not local_id:
        raise ValueError("organisation and local id must not be empty")
    if role not in MEMBER_ROLES:
        raise ValueError(f"unknown member role (expected {', '.join(MEMBER_ROLES)})")
    return GroupEntitlement(
        kind=kind,
        grep_code=grep_code,
        org=org,
        local_id=unquote(local_id),
        valid_from=_date(start, "from date"),
        valid_to=_date(end, "to date"),
        role=role,
        name=unquote(name) or local_id,
    )


def parse_grade(value: str) -> int | None:
    """The grade level in a `urn:mace:feide.no:go:grep:` value (1–10, Vg1–Vg3 as 11–13)."""
    match = _GRADE.search(value[len(GREP_URN) :])
    if not match:
        return None
    if match.group(1):
        return int(match.group(1))
    return 10 + int(match.group(2))


def _date(text: str, what: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{what} is not a date (YYYY-MM-DD)") from None


def people_filter(since: datetime | None) -> str:
    """The LDAP filter of a people search: every person, or those modified at `since` or later.

    `modifyTimestamp` is a generalized time to the second; `>=` keeps an entry stamped in
    the bookmark's own second, so nothing stamped then is skipped.
    """
    if since is None:
        return "(objectClass=eduPerson)"
    t = since.astimezone(UTC)
    stamp = f"{t.year:04d}{t.month:02d}{t.day:02d}{t.hour:02d}{t.minute:02d}{t.second:02d}Z"
    return f"(&(objectClass=eduPerson)(modifyTimestamp>={stamp}))"


def _normalise_dn(dn: str) -> str:
    return ",".join(part.strip().lower() for part in dn.split(","))


def _first(attrs: Attributes, name: str) -> str | None:
    values = attrs.get(name.lower())
    return values[0] if values else None


def _modified(attrs: Attributes) -> datetime | None:
    stamp = _first(attrs, "modifyTimestamp")
    if not stamp:
        return None
    try:
        return datetime.strptime(stamp[:14], "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        raise ValueError("modifyTimestamp is not an LDAP generalized time") from None


class LdapSourceSettings(SettingsModel):
    """A Feide-like LDAP directory (eduPerson, norEdu*)."""

    type: Literal["feide_ldap"]
    id: SourceId
    uri: Annotated[str, Field(pattern=r"^ldaps?://")]
    #: The organisation entry (`norEduOrg`), or an entry with exactly one below it.
    base_dn: str
    #: Where units and people are searched; default `base_dn`. Set it to the common suffix
    #: (or container) of a directory whose units and people sit beside the organisation.
    search_base: str | None = None
    bind_dn: str
    secret: SecretRef
    tls: Literal["none", "starttls", "ldaps"] = "none"
    ca_file: Path | None = None
    page_size: Annotated[int, Field(ge=1, le=10_000)] = 500
    timeout_seconds: Annotated[float, Field(gt=0)] = 30.0
    schedule: Schedule = None
    #: The person attribute that marks a protected identity (a local schema's, e.g.
    #: `norEduPersonLegalName` is not it: Feide has none). Any value other than
    #: FALSE / 0 / no / none / ingen marks the person protected (docs/privacy.md).
    protected_attribute: str | None = None
    #: Read only the people changed since the last run (`modifyTimestamp>=` the newest
    #: stamp seen, less `incremental_overlap`). An incremental run never deletes: only a
    #: full read, due every `full_sync_every` or `full_sync_every_runs`, finds deletions.
    incremental: bool = False
    #: How far before its bookmark an incremental read starts (replication lag, commits
    #: that landed late with an earlier stamp).
    incremental_overlap: timedelta = timedelta(minutes=5)
    #: A full read when the last successful one started this long ago (None: no age rule).
    full_sync_every: timedelta | None = timedelta(days=1)
    #: A full read after this many successful incremental runs since the last full one
    #: (None: no count rule).
    full_sync_every_runs: Annotated[int, Field(ge=0)] | None = None

    @model_validator(mode="after")
    def _tls_matches_uri(self) -> LdapSourceSettings:
        if self.uri.startswith("ldaps://") and self.tls != "ldaps":
            raise ValueError("uri is ldaps:// so tls must be `ldaps`")
        if self.tls == "ldaps" and not self.uri.startswith("ldaps://"):
            raise ValueError("tls is `ldaps` so uri must start with ldaps://")
        return self


class FeideLdap(Source):
    """People, units and groups from a Feide-like LDAP directory."""

    name: ClassVar[str] = "identity.feide_ldap"
    system: ClassVar[str] = "feide_ldap"
    entity_types = (Organisation, Person, Group, Membership)
    _hmac_key: bytes

    def __init__(
        self,
        settings: LdapSourceSettings,
        *,
        tenant: str,
        password: str,
        hmac_key: bytes,
        retry: RetryPolicy | None = None,
    ) -> None:
        super().__init__(tenant, settings.id, retry)
        self.settings = settings
        self._password = password
        self._hmac_key = hmac_key
        self._conn: ldap3.Connection | None = None
        self.country = "NO"
        self.supports_incremental = settings.incremental

    # -- connection ---------------------------------------------------------------------

    def _connect(self) -> ldap3.Connection:
        settings = self.settings
        tls = None
        if settings.tls != "none":
            tls = ldap3.Tls(
                validate=ssl.CERT_REQUIRED,
                ca_certs_file=str(settings.ca_file) if settings.ca_file else None,
            )
        server = ldap3.Server(
            settings.uri,
            use_ssl=settings.tls == "ldaps",
            tls=tls,
            get_info=ldap3.NONE,
            connect_timeout=math.ceil(settings.timeout_seconds),
        )
        conn = ldap3.Connection(
            server,
            user=settings.bind_dn,
            password=self._password,
            auto_bind=ldap3.AUTO_BIND_NONE,
            receive_timeout=math.ceil(settings.timeout_seconds),
            read_only=True,
            raise_exceptions=False,
        )
        try:
            conn.open()
            if settings.tls == "starttls" and not conn.start_tls():
                raise FatalError("StartTLS was refused by the server", connector=self.name)
            if not conn.bind():
                code = conn.result.get("result")
                description = conn.result.get("description", "bind failed")
                conn.unbind()
                if code == 49:
                    raise AuthError(
                        f"bind as {settings.bind_dn} refused: invalid credentials",
                        connector=self.name,
                    )
                raise FatalError(f"bind refused: {description}", connector=self.name)
        except ldap_exc.LDAPCommunicationError as exc:
            if "CERTIFICATE_VERIFY_FAILED" in str(exc) or "ssl" in str(exc).lower():
                raise FatalError(
                    f"TLS to {settings.uri} failed: the server certificate is not trusted "
                    "(set ca_file to the CA that signed it)",
                    connector=self.name,
                ) from None
            raise RetriableError(
                f"cannot reach {settings.uri}: {type(exc).__name__}", connector=self.name
            ) from None
        except ldap_exc.LDAPStartTLSError as exc:
            raise FatalError(f"StartTLS failed: {exc}", connector=self.name) from None
        return conn

    def _connection(self) -> ldap3.Connection:
        if self._conn is None or self._conn.closed:
            self._conn = self.retry.call(self._connect, connector=self.name, what="bind")
        return self._conn

    def close(self) -> None:
        """Unbind from the directory."""
        if self._conn is not None and not self._conn.closed:
            self._conn.unbind()
        self._conn = None

    @property
    def search_base(self) -> str:
        """Where units and people are searched."""
        return self.settings.search_base or self.settings.base_dn

    def organisation_entry(self) -> tuple[str, Attributes]:
        """The organisation's `norEduOrg` entry: `base_dn` itself or the one below it."""
        base = self.settings.base_dn
        for page in self._search("(objectClass=norEduOrg)", ORG_ATTRIBUTES, scope=ldap3.BASE):
            if page.entries:
                return page.entries[0]
        found = [
            entry
            for page in self._search("(objectClass=norEduOrg)", ORG_ATTRIBUTES, base=base)
            for entry in page.entries
        ]
        if len(found) == 1:
            return found[0]
        if not found:
            raise ConfigError(f"no norEduOrg entry at or below base DN {base}", connector=self.name)
        raise ConfigError(
            f"{len(found)} norEduOrg entries below base DN {base}: set base_dn to the "
            "organisation's own entry",
            connector=self.name,
        )

    def check(self) -> None:
        """Bind, find the organisation, count its units and people; fail if it has no people."""
        org_dn, _ = self.organisation_entry()
        units = sum(
            len(page.entries)
            for page in self._search("(objectClass=norEduOrgUnit)", ["1.1"], base=self.search_base)
        )
        people = sum(
            1
            for page in self._search(
                "(objectClass=eduPerson)", ["eduPersonOrgDN"], base=self.search_base
            )
            for _, attrs in page.entries
            if self._belongs(attrs, _normalise_dn(org_dn))
        )
        self._report(org_dn, units, people)

    def _belongs(self, attrs: Attributes, org_dn: str) -> bool:
        """Whether a person is of this organisation: `eduPersonOrgDN` names it, or is absent."""
        named = _first(attrs, "eduPersonOrgDN")
        return named is None or _normalise_dn(named) == org_dn

    def _report(self, org_dn: str, units: int, people: int, others: int = 0) -> None:
        """Note what was found below the search base; raise when the organisation has no people."""
        note = f"organisation {org_dn}: {units} units and {people} people under {self.search_base}"
        if others:
            note += f" ({others} people of other organisations left out)"
        self.note(note)
        if people == 0:
            hint = (
                "set search_base to the suffix or container that holds them"
                if _normalise_dn(self.search_base) == _normalise_dn(org_dn)
                else "check search_base and the people's eduPersonOrgDN"
            )
            raise ConfigError(
                f"found the organisation {org_dn} with {units} units but no people under "
                f"{self.search_base}: {hint}",
                connector=self.name,
            )

    # -- searching ----------------------------------------------------------------------

    def _search(
        self,
        search_filter: str,
        attributes: list[str],
        scope: str = ldap3.SUBTREE,
        base: str | None = None,
    ) -> Iterator[_Page]:
        search_base = base or self.settings.base_dn

        def fetch(token: str | None) -> _Page:
            cookie = bytes.fromhex(token) if token else None
            return self.retry.call(
                lambda: self._search_page(search_base, search_filter, attributes, scope, cookie),
                connector=self.name,
                what=f"search {search_filter}",
            )

        return paged(
            fetch,
            _CookiePaginator(),
            connector=self.name,
            stream=search_filter,
            count=lambda p: len(p.entries),
        )

    def _search_page(
        self,
        base: str,
        search_filter: str,
        attributes: list[str],
        scope: str,
        cookie: bytes | None,
    ) -> _Page:
        conn = self._connection()
        try:
            conn.search(
                search_base=base,
                search_filter=search_filter,
                search_scope=scope,
                attributes=attributes,
                paged_size=self.settings.page_size,
                paged_cookie=cookie,
            )
        except (ldap_exc.LDAPSocketReceiveError, ldap_exc.LDAPSessionTerminatedByServerError) as e:
            self._conn = None
            raise RetriableError(
                f"connection lost during search: {type(e).__name__}", connector=self.name
            ) from None
        code = conn.result.get("result")
        if code == 32:
            raise ConfigError(f"base DN {base} does not exist", connector=self.name)
        if code not in (0, None):
            description = conn.result.get("description")
            if code in (51, 52, 80):  # busy, unavailable, other
                raise RetriableError(f"search failed: {description}", connector=self.name)
            raise FatalError(f"search failed: {description} ({code})", connector=self.name)
        entries = [
            (
                entry["dn"],
                {
                    name.lower(): [v.decode("utf-8", "replace") for v in values]
                    for name, values in entry["raw_attributes"].items()
                },
            )
            for entry in conn.response or []
            if entry.get("type") == "searchResEntry"
        ]
        control = (conn.result.get("controls") or {}).get(PAGED_RESULTS_OID)
        cookie_out = control["value"]["cookie"] if control else b""
        return _Page(entries, cookie_out or b"")

    # -- reading ------------------------------------------------------------------------

    def read(self) -> Iterator[Item]:
        """Yield the owner, its people with their groups and memberships, then its units.

        Units are read first (people name them) and yielded last: where the search base
        holds other organisations too, a unit is the owner's only if it sits below the
        organisation entry or one of the owner's people names it. Fails after the last page
        when the organisation has no people (a wrong `search_base` must not read as an
        empty school owner).
        """
        org_dn, org_attrs = self.organisation_entry()
        item = self._guard(
            org_dn,
            "organisation",
            org_attrs,
            "norEduOrgNIN",
            self._guarded_owner,
            org_dn,
            org_attrs,
        )
        owner_key = item.key if isinstance(item, Organisation) else None
        yield item
        own = _normalise_dn(org_dn)
        unit_keys: dict[str, str] = {}
        unit_items: dict[str, Item] = {}
        for page in self._search(
            "(objectClass=norEduOrgUnit)", UNIT_ATTRIBUTES, base=self.search_base
        ):
            for dn, attrs in page.entries:
                unit = self._guard(
                    dn,
                    "organisation",
                    attrs,
                    "norEduOrgUnitUniqueIdentifier",
                    self._guarded_unit,
                    attrs,
                    owner_key,
                )
                unit_items[_normalise_dn(dn)] = unit
                if isinstance(unit, Organisation):
                    unit_keys[_normalise_dn(dn)] = unit.key
        shared = self._shares_search_base(own)
        named: set[str] = set()
        groups_seen: set[str] = set()
        people = others = 0
        attributes = PERSON_ATTRIBUTES + (
            [self.settings.protected_attribute] if self.settings.protected_attribute else []
        )
        since = self.people_since()
        for page in self._search(people_filter(since), attributes, base=self.search_base):
            for dn, attrs in page.entries:
                self._advance_people_bookmark(attrs)
                if not self._belongs(attrs, own):
                    others += 1
                    continue
                people += 1
                for name in ("edupersonorgunitdn", "edupersonprimaryorgunitdn"):
                    named.update(_normalise_dn(v) for v in attrs.get(name, []))
                yield from self.person_items(dn, attrs, unit_keys, groups_seen)
        units = 0
        for unit_dn, unit in unit_items.items():
            # An incremental read sees only changed people: a shared base's units are kept
            # when they sit below the organisation (a full read decides about the others).
            if not shared or unit_dn.endswith("," + own) or unit_dn in named:
                units += 1
                yield unit
        if since is None:
            self._report(org_dn, units, people, others)
        else:
            self.note(
                f"organisation {org_dn}: incremental read of {people} people changed since "
                f"{since.isoformat()} under {self.search_base}; {units} units"
            )

    def people_since(self) -> datetime | None:
        """Where an incremental read of people starts; None: read every person."""
        if self.full_snapshot or not self.settings.incremental:
            return None
        return bookmark_since(self.bookmarks.get(PEOPLE_STREAM), self.settings.incremental_overlap)

    def _advance_people_bookmark(self, attrs: Attributes) -> None:
        """Move the people bookmark to this entry's `modifyTimestamp` if it is newer."""
        if not self.settings.incremental:
            return
        try:
            stamp = _modified(attrs)
        except ValueError:
            return  # the entry itself is dead-lettered for it; the bookmark stays
        if stamp is not None:
            self.advance_bookmark(PEOPLE_STREAM, stamp)

    def _shares_search_base(self, own: str) -> bool:
        """Whether the search base holds another organisation entry besides the owner's."""
        return any(
            _normalise_dn(dn) != own
            for page in self._search("(objectClass=norEduOrg)", ["1.1"], base=self.search_base)
            for dn, _ in page.entries
        )

    def person_items(
        self, dn: str, attrs: Attributes, unit_keys: dict[str, str], groups_seen: set[str]
    ) -> list[Item]:
        """A person entry as its person, new groups and memberships, or one dead letter.

        The groups and memberships are built inside the same guard as the person, so a
        bad one (a composed key over the limit) rejects the entry instead of the run; a
        group counts as seen only once its entry was mapped in full.
        """
        result = self._guard(
            dn,
            "person",
            attrs,
            "eduPersonPrincipalName",
            self._person_and_groups,
            attrs,
            unit_keys,
            groups_seen,
        )
        if isinstance(result, Rejected):
            return [result]
        items, new_groups = result
        groups_seen.update(new_groups)
        return items

    def _guarded_owner(self, dn: str, attrs: Attributes) -> Organisation:
        return self.guarded(self._owner(dn, attrs))

    def _guarded_unit(self, attrs: Attributes, owner_key: str | None) -> Organisation:
        return self.guarded(self._unit(attrs, owner_key))

    def _person_and_groups(
        self, attrs: Attributes, unit_keys: dict[str, str], groups_seen: set[str]
    ) -> tuple[list[Item], set[str]]:
        """The person, its memberships and the groups it names that the read has not yielded.

        A group is built once per read, not once per member; the keys of the groups built
        here (as the entitlements spell them) are returned with the items.
        """
        person, entitlements = self._person(attrs, unit_keys)
        person = self.guarded(person)
        if self._protected(attrs):
            person = protect(person, allow_names=self.protected_names).model_copy(
                update={"key": self._protected_key(person.key)}
            )
        items: list[Item] = [person]
        built: set[str] = set()
        for ent in entitlements:
            if ent.group_key not in built and ent.group_key not in groups_seen:
                built.add(ent.group_key)
                items.append(self.guarded(self._group(ent)))
            items.append(self.guarded(self._membership(ent, person.key)))
        return items, built

    def _protected(self, attrs: Attributes) -> bool:
        """Whether the configured protection attribute marks the entry."""
        name = self.settings.protected_attribute
        if not name:
            return False
        values = [v.strip().lower() for v in attrs.get(name.lower(), [])]
        return any(v not in ("", "false", "0", "no", "none", "ingen", "nei") for v in values)

    def _protected_key(self, eppn: str) -> str:
        """A protected person's key: a keyed pseudonym of the eppn, which may spell a name."""
        return "protected:" + keyed_hmac(self._hmac_key, f"eppn:{eppn}")[:40]

    def _guard(
        self, dn: str, entity: str, attrs: Attributes, key_attribute: str, build: Any, *args: Any
    ) -> Any:
        """Call `build(*args)`; any failure of the entry becomes `Rejected`.

        `key_attribute` holds the entity key the dead letter names, when it is a valid key.

        The reason names the attribute and the problem, never its value; the payload keeps
        the entry with `REDACTED_ATTRIBUTES` removed (`Rejected` scrubs identity numbers
        and credentials by value in every attribute). Errors that mean the directory is
        broken are raised.
        """
        try:
            return build(*args)
        except Exception as exc:
            if is_source_failure(exc):
                raise
            key = self.guarded_key(as_key(_first(attrs, key_attribute)))
            if self._protected(attrs):
                # Not even a dead letter names a protected person: the pseudonymous key only.
                key = self._protected_key(key) if key else None
                return Rejected(entity, "protected entry", failure_reason(exc), {}, key)
            payload: dict[str, Any] = {"dn": dn}
            for name, values in attrs.items():
                redact = name in {a.lower() for a in REDACTED_ATTRIBUTES}
                payload[name] = ["[redacted]"] * len(values) if redact else values
            return Rejected(
                entity=entity,
                record_ref=dn,
                reason=failure_reason(exc),
                payload=payload,
                key=key,
            )

    def _bad(self, message: str) -> SkippableRecordError:
        return SkippableRecordError(message, connector=self.name)

    def _owner(self, dn: str, attrs: Attributes) -> Organisation:
        """The owner; `norEduOrgNIN` ("NO" + the nine-digit organisation number) is its number.

        `norEduOrgUniqueIdentifier` is a number some directories give instead (Samordna
        opptak's for universities); it is the organisation number only without a NIN.
        """
        nin = (_first(attrs, "norEduOrgNIN") or "").strip() or None
        identifier = (_first(attrs, "norEduOrgUniqueIdentifier") or "").strip() or None
        key = nin or (f"NO{identifier}" if identifier else None)
        if not key:
            raise self._bad("norEduOrg entry has no norEduOrgNIN or norEduOrgUniqueIdentifier")
        number = identifier
        if nin is not None:
            match = _ORG_NIN.fullmatch(nin)
            if match is None:
                raise self._bad("norEduOrgNIN is not NO followed by nine digits")
            number = match.group(1)
        return Organisation(
            tenant=self.tenant,
            source=self.ref,
            key=key,
            kind=OrganisationKind.OWNER,
            name=_first(attrs, "eduOrgLegalName") or _first(attrs, "o") or key,
            org_number=number,
        )

    def _unit(self, attrs: Attributes, owner_key: str | None) -> Organisation:
        key = _first(attrs, "norEduOrgUnitUniqueIdentifier")
        if not key:
            raise self._bad("norEduOrgUnitUniqueIdentifier is missing")
        category = (_first(attrs, "businessCategory") or "").lower()
        kind, school_types = UNIT_CATEGORIES.get(category, (OrganisationKind.OTHER, ()))
        return Organisation(
            tenant=self.tenant,
            source=self.ref,
            key=key,
            kind=kind,
            name=_first(attrs, "cn") or _first(attrs, "ou") or key,
            org_number=key.removeprefix("NO") if key.startswith("NO") else None,
            parent_key=owner_key,
            school_types=school_types,
            source_modified=_modified(attrs),
        )

    def _person(
        self, attrs: Attributes, unit_keys: dict[str, str]
    ) -> tuple[Person, list[GroupEntitlement]]:
        eppn = _first(attrs, "eduPersonPrincipalName")
        if not eppn:
            raise self._bad("eduPersonPrincipalName is missing")
        if not _EPPN.fullmatch(eppn):
            raise self._bad("eduPersonPrincipalName is not a lowercase user@realm")
        affiliations = attrs.get("edupersonaffiliation", [])
        unknown = sorted(set(affiliations) - AFFILIATIONS)
        if unknown:
            raise self._bad(f"eduPersonAffiliation has {len(unknown)} unknown value(s)")
        primary = _first(attrs, "eduPersonPrimaryAffiliation")
        if primary is not None and primary not in AFFILIATIONS:
            raise self._bad("eduPersonPrimaryAffiliation is not an affiliation")
        units = []
        for dn in attrs.get("edupersonorgunitdn", []):
            key = unit_keys.get(_normalise_dn(dn))
            if key is None:
                raise self._bad("eduPersonOrgUnitDN is not a unit of this directory")
            units.append(key)
        primary_dn = _first(attrs, "eduPersonPrimaryOrgUnitDN")
        nin = _first(attrs, "norEduPersonNIN")
        nin_invalid = nin is not None and not is_valid_norwegian_nin(nin)
        if nin_invalid:
            nin = None  # kept out; the person is published without the HMAC
        for required in ("givenName", "sn"):
            if not _first(attrs, required):
                raise self._bad(f"{required} is missing (Feide requires it)")
        entitlements, grade = [], None
        for value in attrs.get("edupersonentitlement", []):
            if value.startswith(GROUP_URN):
                try:
                    entitlements.append(parse_group_entitlement(value))
                except ValueError as exc:
                    raise self._bad(f"eduPersonEntitlement group value: {exc}") from None
            elif value.startswith(GREP_URN):
                grade = parse_grade(value) if grade is None else grade
        title = _first(attrs, "title")
        person = Person(
            tenant=self.tenant,
            source=self.ref,
            key=eppn,
            eppn=eppn,
            username=_first(attrs, "uid"),
            email=_first(attrs, "mail"),
            given_name=_first(attrs, "givenName"),
            family_name=_first(attrs, "sn"),
            display_name=_first(attrs, "displayName") or _first(attrs, "cn"),
            roles=self._roles(affiliations, title),
            affiliations=tuple(sorted(affiliations)),
            primary_affiliation=primary,
            title=title,
            unit_keys=tuple(sorted(units)),
            primary_unit_key=unit_keys.get(_normalise_dn(primary_dn)) if primary_dn else None,
            grade=grade,
            nin_hmac=national_id_hmac(self._hmac_key, "NO", nin) if nin else None,
            nin_invalid=nin_invalid,
            source_modified=_modified(attrs),
        )
        return person, entitlements

    @staticmethod
    def _roles(affiliations: list[str], title: str | None) -> tuple[Role, ...]:
        if "student" in affiliations:
            return (Role.PUPIL,)
        role = TITLE_ROLES.get((title or "").strip().lower())
        if role is not None:
            return (role,)
        if "faculty" in affiliations:
            return (Role.TEACHER,)
        if "staff" in affiliations or "employee" in affiliations:
            return (Role.STAFF,)
        return (Role.OTHER,) if affiliations else ()

    def _group(self, ent: GroupEntitlement) -> Group:
        return Group(
            tenant=self.tenant,
            source=self.ref,
            key=ent.group_key,
            kind=GROUP_KINDS[ent.kind],
            name=ent.name,
            unit_key=ent.org,
            subject_code=ent.grep_code or None,
            valid_from=ent.valid_from,
            valid_to=ent.valid_to,
        )

    def _membership(self, ent: GroupEntitlement, person_key: str) -> Membership:
        return Membership(
            tenant=self.tenant,
            source=self.ref,
            key=compose_key(ent.group_key, person_key),
            group_key=ent.group_key,
            person_key=person_key,
            role=MEMBER_ROLES[ent.role],
            valid_from=ent.valid_from,
            valid_to=ent.valid_to,
        )


def _build(settings: LdapSourceSettings, context: SourceContext) -> FeideLdap:
    return FeideLdap(
        settings,
        tenant=context.tenant,
        password=settings.secret.resolve(),
        hmac_key=context.hmac_key(),
    )


CONNECTOR = ConnectorSpec(
    settings=LdapSourceSettings,
    connector=FeideLdap,
    domain="identity",
    pool=None,
    title="Feide-like LDAP directory",
    build=_build,
    secret_field="secret",
    doc="docs/vendors.md",
    connection=ConnectionForm(
        host_field="uri",
        host_label="LDAP URI",
        login_field="bind_dn",
        login_label="Bind DN",
        form_fields=("base_dn", "search_base", "tls"),
        defaults=(),
    ),
)
