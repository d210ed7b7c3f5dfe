"""Who is who and where: the directory, its units, and the links from other systems to them.

- The **directory** is the tenant's Person entities from its directory source: Feide
  (`feide_ldap`) where it has one, else SS 12000 (`ss12000`, a Swedish tenant), else
  OS2skoledata (`os2skoledata`, a Danish tenant).
- **Units** are the directory's school and preschool units. An organisation of another
  source (an LMS's school) is the directory unit with the same organisation number or
  school unit code. A device's unit hints (Jamf site or building, Google org unit path
  or location, Intune category) name a unit by its name, or by a policy alias.
- People of other sources (LMS users, SS 12000 persons where Feide is the directory) and
  device users are linked to directory people by `hub.matching.Matcher`, in the policy's
  rule order; the unmatched become the `unmatched_identities` record.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from hub.followup._state import (
    DIRECTORY_SYSTEMS,
    Org,
    PersonRow,
    TenantState,
    directory_sources,
    normalise_word,
    people_of,
    person_sources,
)
from hub.matching import Candidate, DirectoryPerson, Match, Matcher, UnmatchedReport
from hub.policy import Policy
from schemas.entities import OrganisationKind, Role, SchoolType

#: Roles counted as staff.
STAFF_ROLES: tuple[str, ...] = (
    Role.TEACHER,
    Role.PRESCHOOL_TEACHER,
    Role.ASSISTANT,
    Role.IT_PEDAGOGUE,
    Role.SCHOOL_LEADER,
    Role.ADMINISTRATOR,
    Role.STAFF,
)
#: How an MDM names a user → the matching rule that compares it.
DEVICE_USER_RULES: Mapping[str, str] = {
    "upn": "upn",
    "email": "email",
    "username": "username",
    "annotated": "annotated_user",
    "directory_id": "external_id",
}


@dataclass(frozen=True, slots=True)
class Unit:
    """A directory unit: a school or preschool."""

    key: str
    name: str
    kind: str
    school_types: tuple[str, ...]

    @property
    def is_preschool(self) -> bool:
        """A preschool unit (or one whose only school type is preschool)."""
        return self.kind == OrganisationKind.PRESCHOOL_UNIT or self.school_types == (
            SchoolType.PRESCHOOL,
        )


@dataclass
class Directory:
    """The tenant's directory people and units, and how other sources' keys reach them."""

    sources: frozenset[str]
    people: dict[str, PersonRow]
    units: dict[str, Unit]
    #: (source, organisation key) → directory unit key.
    unit_of_org: dict[tuple[str, str], str]
    #: Normalised unit name or policy alias → unit key.
    unit_names: dict[str, str]
    #: Another source's person key → directory person key, per source.
    links: dict[str, dict[str, str]] = field(default_factory=dict)
    #: A device's key → its user's directory person key, per device source.
    device_users: dict[str, dict[str, str]] = field(default_factory=dict)
    #: A licence holder (`holder_id` of their identifiers) → directory person key, per
    #: licence source: one entry per holder, not per licence (a tenant's assignments are
    #: several per person).
    licence_users: dict[str, dict[bytes, str]] = field(default_factory=dict)
    unmatched: UnmatchedReport = field(default_factory=UnmatchedReport)

    def unit_of(self, person: PersonRow) -> str | None:
        """A directory person's unit: the primary one, else the first known."""
        for key in (person.primary_unit_key, *person.unit_keys):
            if key is None:
                continue
            unit = self.unit_of_org.get((person.source, key))
            if unit is not None:
                return unit
        return None

    def person(self, source: str, key: str) -> str | None:
        """The directory person behind another source's person key, if linked."""
        if source in self.sources:
            return key if key in self.people else None
        return self.links.get(source, {}).get(key)

    def device_user(self, source: str, key: str) -> str | None:
        """The directory person a device source assigns its device `key` to, if matched."""
        return self.device_users.get(source, {}).get(key)

    def licence_holder(self, source: str, users: tuple[tuple[str, str], ...]) -> str | None:
        """The directory person holding a licence, by the holder's identifiers, if matched."""
        return self.licence_users.get(source, {}).get(holder_id(users))

    def unit_by_hints(self, hints: Iterable[str]) -> str | None:
        """The unit a device's hints name, trying each hint and its parts in order."""
        for hint in hints:
            for part in _hint_parts(hint):
                unit = self.unit_names.get(part)
                if unit is not None:
                    return unit
        return None


def _name(value: str) -> str:
    return " ".join(value.casefold().split())


def _hint_parts(hint: str) -> list[str]:
    """A hint whole, its path segments (deepest first), the part before a comma, its first word."""
    text = _name(hint)
    parts = [text]
    segments = [s.strip() for s in text.split("/") if s.strip()]
    if len(segments) > 1 or text.startswith("/"):
        parts.extend(reversed(segments))
    if "," in text:
        parts.append(text.split(",", 1)[0].strip())
    words = text.split()
    if len(words) > 1 and "/" not in text:
        parts.append(words[0].rstrip(","))
    return parts


def build_directory(state: TenantState, policy: Policy, pseudonym_key: bytes) -> Directory:
    """Find the directory, resolve units, and match every other person and device user."""
    every = person_sources(state.people)
    sources = directory_sources(every)
    people = {p.key: p for p in people_of(state.people, sources)}
    units: dict[str, Unit] = {}
    unit_of_org: dict[tuple[str, str], str] = {}
    by_number: dict[str, str] = {}
    for org in state.orgs:
        if org.source in sources and org.kind in (
            OrganisationKind.SCHOOL_UNIT,
            OrganisationKind.PRESCHOOL_UNIT,
        ):
            units[org.key] = Unit(org.key, org.name, org.kind, org.school_types)
            unit_of_org[(org.source, org.key)] = org.key
            for number in _numbers(org):
                by_number.setdefault(number, org.key)
    for org in state.orgs:
        if (org.source, org.key) in unit_of_org:
            continue
        for number in _numbers(org):
            if number in by_number:
                unit_of_org[(org.source, org.key)] = by_number[number]
                break
    names = {_name(u.name): u.key for u in units.values()}
    names.update({_name(alias): key for alias, key in policy.unit_aliases.items() if key in units})
    directory = Directory(sources, people, units, unit_of_org, names)
    identified = (
        people.values() if state.directory_identifiers is None else state.directory_identifiers
    )
    # A match names the held person's key, not the copy read with the identifiers: the
    # links keep one string per person however many of them name it.
    matcher = Matcher(
        (
            DirectoryPerson(_held_key(people, p.key), p.eppn, p.username, p.email, p.external_ids)
            for p in identified
        ),
        policy.matching,
        pseudonym_key,
    )
    person_candidates = (
        Candidate(p.source, p.key, _person_identifiers(p), p.external_ids)
        for p in people_of(state.people, [s for s in every if s not in sources])
    )
    device_candidates = (
        Candidate(d.source, d.key, *_user_identifiers(d.users))
        for d in state.device_users
        if d.users
    )
    for m in matcher.matches(person_candidates, directory.unmatched):
        directory.links.setdefault(m.source, {})[m.candidate_key] = m.person_key
    for m in matcher.matches(device_candidates, directory.unmatched):
        directory.device_users.setdefault(m.source, {})[m.candidate_key] = m.person_key
    # Keyed by the held devices' keys, not the copies read with their users: one string
    # per device (7 MiB at 100,000 people).
    for source, users in directory.device_users.items():
        directory.device_users[source] = {
            d.key: users[d.key] for d in state.devices if d.source == source and d.key in users
        }
    # One candidate per licence holder (a user with three licences is one person), named
    # by the holder's first licence.
    seen: dict[str, set[bytes]] = {}
    for assignment in state.licence_assignments:
        if not assignment.users:
            continue
        holder = holder_id(assignment.users)
        known = seen.setdefault(assignment.source, set())
        if holder in known:
            continue
        known.add(holder)
        candidate = Candidate(
            assignment.source, assignment.key, *_user_identifiers(assignment.users)
        )
        found = matcher.match(candidate)
        if isinstance(found, Match):
            directory.licence_users.setdefault(assignment.source, {})[holder] = found.person_key
        else:
            matcher.note_unmatched(candidate, found, directory.unmatched)
    return directory


def _held_key(people: Mapping[str, PersonRow], key: str) -> str:
    """`key` as the directory's held person keeps it (the same string object), if held."""
    person = people.get(key)
    return key if person is None else person.key


def holder_id(users: tuple[tuple[str, str], ...]) -> bytes:
    """A licence holder's identifiers as 16 bytes (their BLAKE2b digest), to key them by.

    A holder's (kind, value) pairs are a few hundred bytes of objects; a tenant has a
    hundred thousand holders. Two holders share an id only if the digests of different
    identifiers collide, which at 128 bits does not happen.
    """
    return hashlib.blake2b(repr(users).encode(), digest_size=16).digest()


def _numbers(org: Org) -> list[str]:
    found = []
    if org.org_number:
        found.append("org:" + "".join(c for c in org.org_number if c.isdigit()))
    if org.school_unit_code:
        found.append("unit:" + org.school_unit_code.strip())
    return found


def _person_identifiers(person: PersonRow) -> dict[str, str]:
    return {
        name: value
        for name, value in (
            ("eppn", person.eppn),
            ("username", person.username),
            ("email", person.email),
        )
        if value
    }


def _user_identifiers(
    users: tuple[tuple[str, str], ...],
) -> tuple[dict[str, str], tuple[str, ...]]:
    """A device's or licence's holder as a candidate: rule → value, and external ids."""
    identifiers: dict[str, str] = {}
    external: list[str] = []
    for kind, value in users:
        rule = DEVICE_USER_RULES.get(kind)
        if rule == "external_id":
            external.append(value)
        elif rule is not None:
            identifiers.setdefault(rule, value)
    return identifiers, tuple(external)


def staff_role(roles: tuple[str, ...]) -> str | None:
    """A person's first staff role, if any."""
    return next((r for r in roles if r in STAFF_ROLES), None)


__all__ = [
    "DIRECTORY_SYSTEMS",
    "STAFF_ROLES",
    "Directory",
    "Unit",
    "build_directory",
    "normalise_word",
    "staff_role",
]
