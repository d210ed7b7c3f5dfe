"""A Danish kommune's STIL export presented as a `Roster`, so its LMS and MDMs hold its people.

`danish_roster(kommune)` gives the sandbox's OneRoster provider and device fleets
(`hub.dev.sandbox.roster.Roster`) the people of the kommune that OS2skoledata serves
(`hub.dev.sandbox.danish`):

- institutions keep their six-digit institution number as `org_number`; acronyms (the
  first letters of the name, `BAKK`) are what the MDMs' hints use, and `unit_aliases()`
  maps them to OS2skoledata's institution database ids (the hub's organisation keys);
- main groups (`HOVEDGRUPPE`) of a school are base groups with their level as grade, a
  `HOLD` is a teaching group (mathematics), a dagtilbud's rooms are other groups; SFO,
  årgang and team groups are not classes in the LMS;
- STIL's roles become roles: `LÆRER` and `VIKAR` teachers, `PÆDAGOG` a teacher at a school
  and a preschool teacher at a dagtilbud, `LEDER`/`LEDELSE` the principal or the
  dagtilbud's head, `KONSULENT` an IT pedagogue, `TAP` administration, a trainee an
  assistant; teachers and pedagogues are faculty of the groups STIL lists them in;
- usernames are the UNI-Login ids OS2skoledata serves as `username`, and addresses are
  `<username>@<realm>` (the accounts OS2skoledata provisions), so the hub links LMS users
  by username and devices by address (the connector's `account_domain`).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from hub.dev.sandbox.danish import SCHOOL_YEAR_START, DanishKommune, DanishPerson
from hub.dev.sandbox.population import (
    Group,
    GroupRole,
    GroupType,
    Membership,
    Person,
    Role,
    SchoolLevel,
    Unit,
    eduperson_affiliations,
)

__all__ = ["DanishRoster", "danish_policy", "danish_roster", "realm_of"]

#: STIL employee roles → sandbox roles (a pædagog at a dagtilbud: preschool teacher).
_EMPLOYEE_ROLES = {
    "LÆRER": Role.TEACHER,
    "VIKAR": Role.TEACHER,
    "PÆDAGOG": Role.TEACHER,
    "LEDER": Role.PRINCIPAL,
    "LEDELSE": Role.PRINCIPAL,
    "KONSULENT": Role.IT_PEDAGOGUE,
    "TAP": Role.ADMINISTRATION,
}
_TEACHING = frozenset({"LÆRER", "VIKAR", "PÆDAGOG", "LEDER"})
_FOLD = str.maketrans({"æ": "ae", "ø": "oe", "å": "aa", "Æ": "AE", "Ø": "OE", "Å": "AA"})


def danish_policy(today: date) -> dict[str, Any]:
    """The Danish targets of a sandbox kommune's policy (docs/denmark.md explains each).

    The strategy's six competence areas: the sandbox's programming course
    ("Programmering, robotter og 3D-print") counts for programming and for robots and 3D
    printing, and digital dannelse has no course yet. The information-security module is
    required of every lærer, pædagog and leder within 12 months. The nationale test are
    taken in grades 2, 3, 4, 6, 7 and 8. The baseline is the first compiled snapshot and
    the follow-up measurements the first day of each of the next two quarters.
    """
    quarter = (today.month - 1) // 3
    measurements = [
        date(today.year + (quarter + n) // 4, (quarter + n) % 4 * 3 + 1, 1).isoformat()
        for n in (1, 2)
    ]
    return {
        "competence_areas": {
            "digital_didactics": {"course_tags": ["digital-didactics", "it-didaktik"]},
            "learning_platforms": {"course_tags": ["learning-platforms"]},
            "programming": {"course_tags": ["programming-robotics"]},
            "robots_3d_printing": {"course_tags": ["programming-robotics"]},
            "digital_citizenship": {"course_tags": ["digital-dannelse"]},
            "information_security": {"course_tags": ["information-security"]},
        },
        "competence_requirements": [
            {
                "area": "information_security",
                "roles": ["teacher", "preschool_teacher", "school_leader"],
                "within_months": 12,
            }
        ],
        "exam_readiness": {"grades": [2, 3, 4, 6, 7, 8]},
        "baseline": "first",
        "measurements": measurements,
    }


def realm_of(tenant: str) -> str:
    """The kommune's account domain in the sandbox: `<tenant>.skole.dk`."""
    return f"{tenant}.skole.dk"


@dataclass(frozen=True)
class DanishRoster:
    """A Danish kommune's STIL export with the members of a Norwegian `SchoolOwner`."""

    kommune: DanishKommune
    units: tuple[Unit, ...]
    groups: tuple[Group, ...]
    everyone: tuple[Person, ...]
    tenant: str
    name: str
    #: The kommune's CVR number (synthetic: 8 digits).
    org_number: str
    realm: str
    workspace_domain: str
    scale: int
    valid_from: date
    valid_to: date
    country: str = "DK"

    def people(self, *, include_children: bool = True) -> Iterator[Person]:
        """Everyone in the export's order; dagtilbud children only when asked for."""
        for person in self.everyone:
            if include_children or person.has_feide_account:
                yield person

    def unit_aliases(self) -> dict[str, str]:
        """Unit acronym → the institution's OS2skoledata database id (the hub's key)."""
        return {
            unit.acronym: str(inst.database_id)
            for unit, inst in zip(self.units, self.kommune.institutions, strict=True)
        }


def danish_roster(kommune: DanishKommune, scale: int = 0) -> DanishRoster:
    """Present a Danish kommune as a `Roster` (see the module)."""
    units = _units(kommune)
    groups: dict[int, Group] = {}
    for source in kommune.groups:
        unit = units[source.institution]
        daycare = unit.level is SchoolLevel.PRESCHOOL
        if source.group_type == "HOVEDGRUPPE":
            kind = GroupType.OTHER if daycare else GroupType.BASE
        elif source.group_type == "HOLD":
            kind = GroupType.TEACHING
        else:
            continue
        members = [p for p in kommune.persons if source.database_id in p.groups]
        grade = int(source.level) if source.level and source.level.isdigit() else None
        groups[source.database_id] = Group(
            type=kind,
            local_id=_slug(source.name),
            name=source.name,
            unit_org_number=unit.org_number,
            grep_code=f"DAN-MAT{grade:02d}" if kind is GroupType.TEACHING and grade else "",
            grade=grade,
            valid_from=source.from_date or SCHOOL_YEAR_START,
            valid_to=source.to_date or date(SCHOOL_YEAR_START.year + 1, 6, 30),
            student_count=sum(1 for p in members if p.role == "STUDENT"),
            faculty_count=sum(1 for p in members if p.role == "EMPLOYEE"),
        )
    realm = realm_of(kommune.tenant)
    everyone = tuple(
        _person(p, units[p.institution], groups, realm) for p in kommune.persons if not p.deleted
    )
    return DanishRoster(
        kommune,
        units,
        tuple(groups.values()),
        everyone,
        tenant=kommune.tenant,
        name=kommune.name,
        org_number="29189951",
        realm=realm,
        workspace_domain=realm,
        scale=scale or len(kommune.persons),
        valid_from=SCHOOL_YEAR_START,
        valid_to=date(SCHOOL_YEAR_START.year + 1, 6, 30),
    )


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.translate(_FOLD).lower()).strip("-")


def _units(kommune: DanishKommune) -> tuple[Unit, ...]:
    counts: dict[tuple[int, str], int] = defaultdict(int)
    for person in kommune.persons:
        kind = "child" if person.student_role == "BARN" else person.role
        counts[(person.institution, kind)] += 1
    units = []
    for index, inst in enumerate(kommune.institutions):
        daycare = inst.type == "DAYCARE"
        letters = re.sub(r"[^A-Z]", "", inst.name.translate(_FOLD).upper())
        units.append(
            Unit(
                org_number=inst.number,
                name=inst.name,
                acronym=letters[:4] + ("D" if daycare else "S"),
                level=SchoolLevel.PRESCHOOL if daycare else SchoolLevel.PRIMARY,
                grades=() if daycare else tuple(range(10)),
                ages=(1, 2, 3, 4, 5) if daycare else (),
                pupil_count=counts[(index, "STUDENT")],
                staff_count=counts[(index, "EMPLOYEE")] + counts[(index, "EXTERNAL")],
                child_count=counts[(index, "child")],
            )
        )
    return tuple(units)


def _role(person: DanishPerson, unit: Unit) -> Role:
    daycare = unit.level is SchoolLevel.PRESCHOOL
    if person.role == "STUDENT":
        return Role.CHILD if person.student_role == "BARN" else Role.PUPIL
    if person.role == "EXTERNAL":
        return Role.ASSISTANT
    code = (person.employee_roles or ["TAP"])[0]
    role = _EMPLOYEE_ROLES.get(code, Role.ADMINISTRATION)
    if daycare and role is Role.TEACHER:
        return Role.PRESCHOOL_TEACHER
    if daycare and role is Role.PRINCIPAL:
        return Role.PRESCHOOL_HEAD
    return role


def _person(person: DanishPerson, unit: Unit, groups: dict[int, Group], realm: str) -> Person:
    role = _role(person, unit)
    teaches = person.role == "EMPLOYEE" and bool(set(person.employee_roles) & _TEACHING)
    memberships = tuple(
        Membership(groups[g], GroupRole.FACULTY if teaches else GroupRole.STUDENT)
        for g in person.groups
        if g in groups and (person.role == "STUDENT" or teaches)
    )
    grade = int(person.level) if person.level and person.level.isdigit() else None
    affiliations = eduperson_affiliations(role)
    first, family = person.shown_names
    born = date(SCHOOL_YEAR_START.year - 6 - (grade or 0), 1 + person.database_id % 12, 1)
    if person.role != "STUDENT":
        born = date(1970 + person.database_id % 30, 1 + person.database_id % 12, 1)
    elif person.student_role == "BARN":
        born = date(SCHOOL_YEAR_START.year - 3, 1 + person.database_id % 12, 1)
    return Person(
        seq=person.database_id,
        username=person.uni_id,
        eppn=f"{person.uni_id}@{realm}",
        mail=f"{person.uni_id}@{realm}",
        given_name=first,
        family_name=family,
        role=role,
        birth_date=born,
        nin=person.cpr,
        password="",  # OS2skoledata serves no passwords to the hub
        unit_org_numbers=(unit.org_number,),
        affiliations=affiliations,
        primary_affiliation=affiliations[0],
        memberships=memberships,
        entitlements=(),
        grade=grade,
        has_feide_account=role is not Role.CHILD,
    )
