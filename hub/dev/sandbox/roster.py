"""What the sandbox's LMS and MDMs read of a school owner, whichever country it is in.

A `Roster` is what `OneRosterTenant` (`oneroster.py`) and `Fleet` (`mdm/fleet.py`) are
built from: the owner's units, groups and people in the neutral shapes of
`hub.dev.sandbox.population` (`Unit`, `Group`, `Membership`, `Person`, `Role`), its realm,
school year, country and the domain of its Google Workspace. The Norwegian `SchoolOwner`
is one as it is. `SwedishRoster` presents a Swedish owner's SS 12000 register
(`hub.dev.sandbox.swedish`) with the same members, so a Swedish tenant's learning platform
and device fleet hold the same people as its SS 12000 API:

- units keep their skolenhetskod as `org_number` (the LMS's org `identifier`, which the
  hub links to the SS 12000 unit); acronyms such as `BJORS` (Björkhagenskolan) are what
  the MDMs' hints use, and `unit_aliases()` maps them to the SS 12000 organisation ids;
- classes (`Klass`) are base groups, teaching groups (`Undervisning`) carry Skolverket
  subject codes (`GRGRMAT01`, `MATMAT02c`), preschool sections (`Avdelning`) are other
  groups; teachers are faculty of the groups their activities and mentorships name;
- duty roles become roles (Rektor at a förskola: preschool head; an `Annan personal`
  IT-pedagog: IT pedagogue; Barnskötare and Lärarassistent: assistants);
- usernames are the eduPersonPrincipalName's local part and `mail` the register's e-mail
  address (`…@elev.<realm>` for pupils); grades count as the hub counts them (F-class 0,
  gymnasium years 11-13);
- the pupils' Google Workspace accounts live at `skola.<realm>` (`workspace_domain`), an
  address the hub links to the directory only through a domain rewrite in the policy.

`roster(tenant, scale, seed)` generates the right one for a tenant id, and
`sandbox_policy(owner)` gives the hub.yaml policy its MDMs need: the unit aliases their
hints use and, where the Workspace domain is not the realm, the domain rewrite.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from hub.dev.sandbox.danish import DANISH_TENANTS, generate_danish
from hub.dev.sandbox.danish_roster import DanishRoster, danish_policy, danish_roster
from hub.dev.sandbox.population import (
    Group,
    GroupRole,
    GroupType,
    Membership,
    Person,
    Role,
    SchoolLevel,
    SchoolOwner,
    Unit,
    eduperson_affiliations,
    generate,
)
from hub.dev.sandbox.swedish import (
    SWEDISH_TENANTS,
    PersonKind,
    SwedishDuty,
    SwedishGroup,
    SwedishOwner,
    SwedishPerson,
    SwedishUnit,
    generate_swedish,
)

__all__ = ["Roster", "SwedishRoster", "hub_grade", "roster", "sandbox_policy", "swedish_roster"]


@dataclass(frozen=True)
class SwedishRoster:
    """A Swedish owner's SS 12000 register with the members of a Norwegian `SchoolOwner`."""

    owner: SwedishOwner
    units: tuple[Unit, ...]
    groups: tuple[Group, ...]
    everyone: tuple[Person, ...]
    tenant: str
    name: str
    #: The municipality's organisation number (`212000-NNNC`).
    org_number: str
    realm: str
    #: The pupils' Google Workspace domain: `skola.<realm>`.
    workspace_domain: str
    scale: int
    #: The school year (läsår).
    valid_from: date
    valid_to: date
    country: str = "SE"

    def people(self, *, include_children: bool = True) -> Iterator[Person]:
        """Everyone in the register's order; preschool children only when asked for."""
        for person in self.everyone:
            if include_children or person.has_feide_account:
                yield person

    def unit_aliases(self) -> dict[str, str]:
        """Unit acronym → the unit's SS 12000 organisation id (the hub's directory key)."""
        return {
            unit.acronym: self.owner.uuid("organisations", n + 1)
            for n, unit in enumerate(self.units)
        }


#: An owner the sandbox LMS and MDMs are built from: every kind has the same members.
Roster = SchoolOwner | SwedishRoster | DanishRoster


def roster(tenant: str, scale: int, seed: int = 1) -> Roster:
    """The generated owner of a tenant id: Swedish or Danish for theirs, else Norwegian."""
    if tenant in SWEDISH_TENANTS:
        return swedish_roster(generate_swedish(tenant, scale, seed))
    if tenant in DANISH_TENANTS:
        return danish_roster(generate_danish(tenant, scale, seed), scale)
    return generate(tenant, scale, seed)


def sandbox_policy(owner: Roster) -> dict[str, Any]:
    """The hub.yaml `policy` of a sandbox tenant: what linking its MDMs' devices needs.

    `unit_aliases` for the acronyms in Intune categories; and where pupils sign in to
    Google with accounts in another domain than the realm (`skola.solberga.se`), the
    rewrite that lets identity matching compare them with the directory's addresses. A
    Danish kommune's policy also holds the Danish targets (`danish_policy`).
    """
    policy: dict[str, Any] = {"unit_aliases": owner.unit_aliases()}
    if owner.workspace_domain != owner.realm:
        rewrite = {"from_domain": owner.workspace_domain, "to_domain": owner.realm}
        policy["matching"] = {"domain_rewrites": [rewrite]}
    if owner.country == "DK":
        policy.update(danish_policy(datetime.now(UTC).date()))
    return policy


_FOLD = str.maketrans({"å": "a", "ä": "a", "ö": "o", "é": "e", "ü": "u"})
_LEVEL_LETTER = {SchoolLevel.PRESCHOOL: "F", SchoolLevel.PRIMARY: "S"}
_GROUP_TYPES = {"Klass": GroupType.BASE, "Undervisning": GroupType.TEACHING}
_DUTY_ROLES = {
    "Lärare": Role.TEACHER,
    "Förskollärare": Role.PRESCHOOL_TEACHER,
    "Barnskötare": Role.ASSISTANT,
    "Lärarassistent": Role.ASSISTANT,
    "Skoladministratör": Role.ADMINISTRATION,
}
#: Skolverket subject codes of the teaching groups (`Ma 7B`, `Sv2 NA24A`) by school type.
_SUBJECT_CODES = {
    ("Ma", "GR"): "GRGRMAT01",
    ("Sv", "GR"): "GRGRSVE01",
    ("Ma", "GY"): "MATMAT0{year}c",
    ("Sv", "GY"): "SVESVE0{year}",
}


def _slug(text: str) -> str:
    """Lower-case ASCII words joined by `-`: "Ma 7B" → "ma-7b"."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower().translate(_FOLD)).strip("-")


def hub_grade(school_type: str | None, year: int | None) -> int | None:
    """A school year as the hub counts grades: F-class 0, grundskola 1-9, gymnasium 11-13."""
    if year is None:
        return None
    return 10 + year if school_type == "GY" else year


def swedish_roster(owner: SwedishOwner) -> SwedishRoster:
    """Present a Swedish owner's register as a `Roster` (see the module)."""
    kinds: dict[tuple[int, PersonKind], int] = defaultdict(int)
    for person in owner.people:
        kinds[(person.unit, person.kind)] += 1
    units = _units(owner.units, kinds)
    role_of = {duty.person: _duty_role(duty, owner.units[duty.unit]) for duty in owner.duties}
    faculty: dict[int, list[int]] = defaultdict(list)
    for duty in owner.duties:
        for group_index, _assignment in duty.assignments:
            faculty[group_index].append(duty.person)
    for activity in owner.activities:
        for group_index in activity.groups:
            faculty[group_index] += [owner.duties[d].person for d in activity.duties]
    memberships: dict[int, list[Membership]] = defaultdict(list)
    groups = []
    for source in owner.groups:
        teachers = list(dict.fromkeys(faculty[source.index]))
        group = _group(source, units[source.unit], len(teachers))
        groups.append(group)
        for member in source.members:
            memberships[member].append(Membership(group, GroupRole.STUDENT))
        for teacher in teachers:
            memberships[teacher].append(Membership(group, GroupRole.FACULTY))
    everyone = tuple(
        _person(p, units[p.unit], role_of, tuple(memberships[p.index])) for p in owner.people
    )
    start, end = owner.school_year
    return SwedishRoster(
        owner,
        units,
        tuple(groups),
        everyone,
        tenant=owner.tenant,
        name=owner.name,
        org_number=owner.org_number,
        realm=owner.realm,
        workspace_domain=f"skola.{owner.realm}",
        scale=owner.scale,
        valid_from=start,
        valid_to=end,
    )


def _units(
    sources: tuple[SwedishUnit, ...], kinds: dict[tuple[int, PersonKind], int]
) -> tuple[Unit, ...]:
    units: list[Unit] = []
    taken: set[str] = set()
    for source in sources:
        level = (
            SchoolLevel.PRESCHOOL
            if source.is_preschool
            else SchoolLevel.UPPER_SECONDARY
            if "GY" in source.school_types
            else SchoolLevel.PRIMARY
        )
        letters = re.sub(r"[^A-Z0-9]", "", source.name.lower().translate(_FOLD).upper())
        acronym = letters[:4] + _LEVEL_LETTER.get(level, "G")
        if acronym in taken:
            acronym += str(source.index)
        taken.add(acronym)
        school_type = "GY" if level is SchoolLevel.UPPER_SECONDARY else "GR"
        units.append(
            Unit(
                org_number=source.code,
                name=source.name,
                acronym=acronym,
                level=level,
                grades=tuple(10 + y if school_type == "GY" else y for y in source.grades),
                ages=(1, 2, 3, 4, 5) if source.is_preschool else (),
                pupil_count=kinds[(source.index, PersonKind.PUPIL)],
                staff_count=kinds[(source.index, PersonKind.STAFF)],
                child_count=kinds[(source.index, PersonKind.CHILD)],
            )
        )
    return tuple(units)


def _duty_role(duty: SwedishDuty, unit: SwedishUnit) -> Role:
    if duty.role == "Rektor":
        return Role.PRESCHOOL_HEAD if unit.is_preschool else Role.PRINCIPAL
    if duty.description == "IT-pedagog":
        return Role.IT_PEDAGOGUE
    return _DUTY_ROLES.get(duty.role, Role.ADMINISTRATION)


def _group(source: SwedishGroup, unit: Unit, faculty_count: int) -> Group:
    kind = _GROUP_TYPES.get(source.group_type, GroupType.OTHER)
    code = ""
    if kind is GroupType.TEACHING:
        school_type = "GY" if source.school_type == "GY" else "GR"
        code = _SUBJECT_CODES[(source.name[:2], school_type)].format(year=source.grade)
    return Group(
        type=kind,
        local_id=_slug(source.name),
        name=source.name,
        unit_org_number=unit.org_number,
        grep_code=code,
        grade=hub_grade(source.school_type, source.grade),
        valid_from=source.start,
        valid_to=source.end,
        student_count=len(source.members),
        faculty_count=faculty_count,
    )


def _person(
    source: SwedishPerson,
    unit: Unit,
    role_of: dict[int, Role],
    memberships: tuple[Membership, ...],
) -> Person:
    role = (
        Role.PUPIL
        if source.kind is PersonKind.PUPIL
        else Role.CHILD
        if source.kind is PersonKind.CHILD
        else role_of[source.index]
    )
    eppn = source.eppn or ""
    username = eppn.partition("@")[0]
    affiliations = eduperson_affiliations(role)
    return Person(
        seq=source.index,
        username=username,
        eppn=eppn,
        mail=source.email or "",
        given_name=source.given_name,
        family_name=source.family_name,
        role=role,
        birth_date=source.birth_date,
        nin=source.civic_no,
        password="",  # SS 12000 carries no passwords; nobody binds to a Swedish directory here
        unit_org_numbers=(unit.org_number,),
        affiliations=affiliations,
        primary_affiliation=affiliations[0],
        memberships=memberships,
        entitlements=(),
        grade=hub_grade(source.school_type, source.grade),
        has_feide_account=role is not Role.CHILD,
    )
