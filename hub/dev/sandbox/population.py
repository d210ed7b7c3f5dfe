"""A synthetic Norwegian school owner (kommune): units, groups and people, deterministically.

`generate(tenant, scale, seed)` plans the municipality up front (units, groups, head counts,
who teaches which group) and streams the people from that plan: `SchoolOwner.people()` is a
generator that rebuilds every person from the seed on each call, so 100,000 people never sit
in memory at once. Nothing here touches LDAP; the LDIF writer, and later the LMS and MDM
sandboxes, all read the same people.

Shape of a municipality (ratios from DOMAIN.md): pupils are ~82 % of `scale`, school staff
~13 %, preschool staff ~5 %; preschool children come on top (~20 % of `scale`) because they
have no Feide account. The first school is a barneskole (1.-7. trinn), the second an
ungdomsskole (8.-10.), the rest a mix including combined 1.-10. schools, so every grade exists.

Identifiers are synthetic but real-shaped (see `hub.dev.sandbox.identifiers`, re-exported
here): organisation numbers carry a valid mod-11 check digit, national identity numbers are
synthetic test numbers (month + 80) with valid check digits, unique within a tenant.
"""

from __future__ import annotations

import dataclasses
import math
import random
import re
import string
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from urllib.parse import quote

from hub.dev.sandbox import _names
from hub.dev.sandbox.identifiers import (
    NinAllocator,
    is_valid_nin,
    is_valid_org_number,
    org_number_check_digit,
    synthetic_nin,
)

__all__ = [
    "FAULT_KINDS",
    "Group",
    "GroupRole",
    "GroupType",
    "Membership",
    "Person",
    "Role",
    "SchoolLevel",
    "SchoolOwner",
    "Unit",
    "eduperson_affiliations",
    "generate",
    "grade_urn",
    "group_urn",
    "groupid_urn",
    "is_valid_nin",
    "is_valid_org_number",
    "org_number_check_digit",
    "synthetic_nin",
]


class Role(StrEnum):
    """A person's role at the school owner; the value is the Norwegian title written to LDAP."""

    PUPIL = "elev"
    TEACHER = "lærer"
    PRESCHOOL_TEACHER = "barnehagelærer"
    ASSISTANT = "assistent"
    IT_PEDAGOGUE = "IKT-veileder"
    PRINCIPAL = "rektor"
    PRESCHOOL_HEAD = "styrer"
    ADMINISTRATION = "administrasjon"
    CHILD = "barn"


class SchoolLevel(StrEnum):
    """The kind of unit, written as its `businessCategory`."""

    PRESCHOOL = "barnehage"
    PRIMARY = "grunnskole"
    UPPER_SECONDARY = "videregaende"


class GroupType(StrEnum):
    """Feide group types: base group/class, teaching group, other (here: preschool section)."""

    BASE = "b"
    TEACHING = "u"
    OTHER = "a"


class GroupRole(StrEnum):
    """A member's role in a group, as written in the Feide group URN."""

    STUDENT = "student"
    FACULTY = "faculty"


#: Deliberate defects applied to a few people when `generate(..., faults=True)`; each names
#: what is wrong in that person's directory entry, so DLQ tests can assert the reason.
FAULT_KINDS: tuple[str, ...] = (
    "nin_check_digit",  # norEduPersonNIN with a wrong second check digit
    "eppn_without_realm",  # eduPersonPrincipalName is the bare username
    "affiliation_unknown",  # eduPersonPrimaryAffiliation outside the eduPerson vocabulary
    "group_urn_truncated",  # a group entitlement cut after the local id
    "unit_dangling",  # eduPersonOrgUnitDN points at a unit that does not exist
    "given_name_missing",  # no givenName at all
)

_AFFILIATIONS: dict[Role, tuple[str, ...]] = {
    Role.PUPIL: ("student", "member"),
    Role.TEACHER: ("faculty", "employee", "member"),
    Role.PRESCHOOL_TEACHER: ("faculty", "employee", "member"),
    Role.CHILD: ("affiliate",),
}
_STAFF_AFFILIATIONS = ("staff", "employee", "member")


def eduperson_affiliations(role: Role) -> tuple[str, ...]:
    """A role's `eduPersonAffiliation` values, the primary one first (the eduPerson tree)."""
    return _AFFILIATIONS.get(role, _STAFF_AFFILIATIONS)


_GREP_GRADE = "http://psi.udir.no/laereplan/aarstrinn/aarstrinn{grade}"
_GROUP_PREFIX = "urn:mace:feide.no:go:group"
_GROUPID_PREFIX = "urn:mace:feide.no:go:groupid"
_GREP_PREFIX = "urn:mace:feide.no:go:grep"

#: Subjects taught as teaching groups: (local id suffix, name, Grep subject code per grade).
#: Grade 10 uses the 10th-grade codes (MAT0010, NOR0214, ENG0012, NAT0010); lower grades
#: follow the grade-numbered pattern of Feide's own example (MAT0006 for 6th grade maths).
_SUBJECTS: tuple[tuple[str, str, str], ...] = (
    ("mat", "Matematikk", "MAT"),
    ("nor", "Norsk", "NOR"),
    ("eng", "Engelsk", "ENG"),
    ("nat", "Naturfag", "NAT"),
)
_GRADE10_CODES = {"MAT": "MAT0010", "NOR": "NOR0214", "ENG": "ENG0012", "NAT": "NAT0010"}

_TENANT = re.compile(r"^[a-zæøå][a-zæøå0-9-]{0,39}$")
_ASCII_FOLD = str.maketrans({"æ": "ae", "ø": "o", "å": "aa", "é": "e", "ü": "u", "ö": "o"})
_PASSWORD_ALPHABET = string.ascii_letters + string.digits

_MAX_CLASS_SIZE = 28
_PUPILS_PER_SCHOOL = 380
_CHILDREN_PER_PRESCHOOL = 75
_CHILDREN_SHARE = 0.2


# --------------------------------------------------------------------------- the model


@dataclass(frozen=True, slots=True)
class Unit:
    """A school or preschool owned by the municipality, with its own organisation number."""

    org_number: str
    name: str
    acronym: str
    level: SchoolLevel
    grades: tuple[int, ...]
    ages: tuple[int, ...]
    pupil_count: int
    staff_count: int
    child_count: int

    @property
    def feide_id(self) -> str:
        """The unit's `norEduOrgUnitUniqueIdentifier`: "NO" + organisation number."""
        return f"NO{self.org_number}"

    @property
    def grade_range(self) -> str | None:
        """The grade range as written in the unit's description ("trinn 1-7"), if a school."""
        return f"trinn {self.grades[0]}-{self.grades[-1]}" if self.grades else None


@dataclass(frozen=True, slots=True)
class Group:
    """A base group (class), teaching group, or preschool section at one unit."""

    type: GroupType
    local_id: str
    name: str
    unit_org_number: str
    grep_code: str
    grade: int | None
    valid_from: date
    valid_to: date
    student_count: int
    faculty_count: int

    @property
    def key(self) -> str:
        """A stable key: the Feide group id URN (type, unit, local id, school year)."""
        return groupid_urn(self)


@dataclass(frozen=True, slots=True)
class Membership:
    """A person's membership of a group, with the role they have in it."""

    group: Group
    role: GroupRole


@dataclass(frozen=True, slots=True)
class Person:
    """One person as the school owner's directory holds them.

    `password` is the clear-text userPassword (a needle for leak tests); `nin` the synthetic
    identity number; `fault` names the deliberate defect in this record, if any (see
    `FAULT_KINDS`). Preschool children have `has_feide_account=False`.
    """

    seq: int
    username: str
    eppn: str
    mail: str
    given_name: str
    family_name: str
    role: Role
    birth_date: date
    nin: str
    password: str
    unit_org_numbers: tuple[str, ...]
    affiliations: tuple[str, ...]
    primary_affiliation: str
    memberships: tuple[Membership, ...]
    entitlements: tuple[str, ...]
    grade: int | None = None
    has_feide_account: bool = True
    fault: str | None = None

    @property
    def full_name(self) -> str:
        """Given name and family name, as in `cn` and `displayName`."""
        return f"{self.given_name} {self.family_name}".strip()

    @property
    def primary_unit(self) -> str:
        """The organisation number of the person's primary unit."""
        return self.unit_org_numbers[0]


@dataclass(frozen=True, slots=True)
class _StaffSlot:
    role: Role
    memberships: tuple[Membership, ...] = ()
    extra_units: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Cohort:
    """Pupils of one grade at one school, or the children of one preschool section."""

    role: Role
    grade: int | None
    ages: tuple[int, ...]
    count: int
    bundles: tuple[tuple[Membership, ...], ...]  # person k gets bundles[k % len(bundles)]


@dataclass(frozen=True, slots=True)
class _UnitPlan:
    index: int
    unit: Unit
    seq_start: int
    staff: tuple[_StaffSlot, ...]
    cohorts: tuple[_Cohort, ...]

    @property
    def size(self) -> int:
        return len(self.staff) + sum(c.count for c in self.cohorts)


@dataclass(frozen=True, slots=True)
class SchoolOwner:
    """A municipality with its units and groups; `people()` streams its people.

    Counts are known without streaming: `person_count` is everyone with a Feide account
    (pupils and staff, the directory's people), `child_count` the preschool children.
    """

    tenant: str
    name: str
    org_number: str
    realm: str
    home_page: str
    scale: int
    seed: int
    faults: bool
    valid_from: date
    valid_to: date
    units: tuple[Unit, ...]
    groups: tuple[Group, ...]
    _plans: tuple[_UnitPlan, ...] = field(repr=False, compare=False)
    _faulty: dict[int, str] = field(repr=False, compare=False)

    @property
    def feide_id(self) -> str:
        """The owner's `norEduOrgNIN`: "NO" + organisation number."""
        return f"NO{self.org_number}"

    @property
    def country(self) -> str:
        """Where the owner is: Norway."""
        return "NO"

    @property
    def workspace_domain(self) -> str:
        """The domain of the pupils' Google Workspace accounts: the Feide realm itself."""
        return self.realm

    def unit_aliases(self) -> dict[str, str]:
        """Unit acronym (as the MDMs' hints spell it) → the directory's unit key (Feide id)."""
        return {u.acronym: u.feide_id for u in self.units}

    @property
    def pupil_count(self) -> int:
        """Pupils in all schools."""
        return sum(u.pupil_count for u in self.units)

    @property
    def staff_count(self) -> int:
        """Staff in all schools and preschools (by primary unit)."""
        return sum(u.staff_count for u in self.units)

    @property
    def child_count(self) -> int:
        """Children in all preschools (not in the directory by default)."""
        return sum(u.child_count for u in self.units)

    @property
    def person_count(self) -> int:
        """People with a Feide account: pupils and staff."""
        return self.pupil_count + self.staff_count

    @property
    def schools(self) -> tuple[Unit, ...]:
        """The grunnskoler."""
        return tuple(u for u in self.units if u.level is SchoolLevel.PRIMARY)

    @property
    def preschools(self) -> tuple[Unit, ...]:
        """The barnehager."""
        return tuple(u for u in self.units if u.level is SchoolLevel.PRESCHOOL)

    def unit(self, org_number: str) -> Unit:
        """The unit with this organisation number."""
        for unit in self.units:
            if unit.org_number == org_number:
                return unit
        raise KeyError(org_number)

    def people(self, *, include_children: bool = True) -> Iterator[Person]:
        """Every person, unit by unit (staff, then pupils or children), rebuilt from the seed."""
        nins = NinAllocator(offset=zlib.crc32(self.tenant.encode()) % 64)
        for plan in self._plans:
            rng = random.Random(f"{self.tenant}|{self.scale}|{self.seed}|unit|{plan.index}")
            seq = plan.seq_start
            for slot in plan.staff:
                yield self._person(
                    rng,
                    nins,
                    seq,
                    plan.unit,
                    slot.role,
                    slot.memberships,
                    extra_units=slot.extra_units,
                )
                seq += 1
            for cohort in plan.cohorts:
                for k in range(cohort.count):
                    bundle = cohort.bundles[k % len(cohort.bundles)]
                    person = self._person(
                        rng,
                        nins,
                        seq,
                        plan.unit,
                        cohort.role,
                        bundle,
                        grade=cohort.grade,
                        ages=cohort.ages,
                    )
                    seq += 1
                    if include_children or person.has_feide_account:
                        yield person

    def _person(
        self,
        rng: random.Random,
        nins: NinAllocator,
        seq: int,
        unit: Unit,
        role: Role,
        memberships: tuple[Membership, ...],
        *,
        extra_units: tuple[str, ...] = (),
        grade: int | None = None,
        ages: tuple[int, ...] = (),
    ) -> Person:
        given = rng.choice(_names.GIRLS if rng.random() < 0.5 else _names.BOYS)
        family = rng.choice(_names.FAMILY)
        if rng.random() < 0.08:
            family = f"{rng.choice(_names.FAMILY)} {family}"
        birth = _birth_date(rng, self.valid_from.year, role, grade, ages)
        username = f"{_fold(given)[:3]}{_fold(family.split()[-1])[:3]}{seq}"
        entitlements = [group_urn(m.group, m.role) for m in memberships]
        entitlements += [groupid_urn(m.group) for m in memberships]
        if grade is not None:
            entitlements.append(grade_urn(grade))
        person = Person(
            seq=seq,
            username=username,
            eppn=f"{username}@{self.realm}",
            mail=f"{username}@{self.realm}",
            given_name=given,
            family_name=family,
            role=role,
            birth_date=birth,
            nin=nins.next(birth),
            password="".join(rng.choice(_PASSWORD_ALPHABET) for _ in range(16)),
            unit_org_numbers=(unit.org_number, *extra_units),
            affiliations=eduperson_affiliations(role),
            primary_affiliation=eduperson_affiliations(role)[0],
            memberships=memberships,
            entitlements=tuple(entitlements),
            grade=grade,
            has_feide_account=role is not Role.CHILD,
        )
        fault = self._faulty.get(seq)
        return _apply_fault(person, fault) if fault else person


# --------------------------------------------------------------------------- URNs


def group_urn(group: Group, role: GroupRole) -> str:
    """The Feide group entitlement for a member of `group` with `role`.

    `urn:mace:feide.no:go:group:<type>:<grep code>:<org>:<local id>:<from>:<to>:<role>:<name>`
    with the local id and the name percent-encoded (UTF-8).
    """
    return ":".join(
        (
            _GROUP_PREFIX,
            group.type.value,
            group.grep_code,
            f"NO{group.unit_org_number}",
            quote(group.local_id, safe=""),
            group.valid_from.isoformat(),
            group.valid_to.isoformat(),
            role.value,
            quote(group.name, safe=""),
        )
    )


def groupid_urn(group: Group) -> str:
    """The Feide group id entitlement: the same for every member, local id lower-cased."""
    return ":".join(
        (
            _GROUPID_PREFIX,
            group.type.value,
            f"NO{group.unit_org_number}",
            quote(group.local_id.lower(), safe=""),
            group.valid_from.isoformat(),
            group.valid_to.isoformat(),
        )
    )


def grade_urn(grade: int) -> str:
    """The Feide Grep entitlement for a pupil's grade level (Udir's aarstrinn URI)."""
    return f"{_GREP_PREFIX}:{_GREP_GRADE.format(grade=grade)}"


# --------------------------------------------------------------------------- planning


def generate(
    tenant: str, scale: int, seed: int = 1, *, faults: bool = False, school_year: int = 2025
) -> SchoolOwner:
    """Plan a municipality for `tenant` with about `scale` people (pupils + staff).

    Deterministic for (tenant, scale, seed, faults, school_year); `school_year` is the
    autumn the school year starts, which dates the groups and the pupils' birth years.
    """
    if not _TENANT.match(tenant):
        raise ValueError(f"tenant must match {_TENANT.pattern}: {tenant!r}")
    if scale < 20:
        raise ValueError("scale must be at least 20")
    planner = _Planner(random.Random(f"{tenant}|{scale}|{seed}|plan"), school_year)
    owner_org = planner.org_number("9")
    children_total = max(8, round(scale * _CHILDREN_SHARE))
    n_preschools = max(1, round(children_total / _CHILDREN_PER_PRESCHOOL))
    preschool_staff = round(children_total / 4.2) + n_preschools
    pupils_total = max(10, round((scale - preschool_staff) / 1.15))
    n_schools = max(2, round(pupils_total / _PUPILS_PER_SCHOOL))
    planner.schools(n_schools, pupils_total)
    for children in _split(planner.rng, children_total, n_preschools, spread=0.35):
        planner.preschool(children)
    faulty: dict[int, str] = {}
    if faults:
        school_seqs = [
            s
            for p in planner.plans
            if p.unit.level is SchoolLevel.PRIMARY
            for s in range(p.seq_start, p.seq_start + p.size)
        ]
        chosen = planner.rng.sample(school_seqs, len(FAULT_KINDS))
        faulty = dict(zip(chosen, FAULT_KINDS, strict=True))
    realm = f"{re.sub('[^a-z0-9-]', '', tenant.translate(_ASCII_FOLD))}.kommune.no"
    return SchoolOwner(
        tenant=tenant,
        name="-".join(part.capitalize() for part in tenant.split("-")) + " kommune",
        org_number=owner_org,
        realm=realm,
        home_page=f"https://www.{realm}",
        scale=scale,
        seed=seed,
        faults=faults,
        valid_from=planner.valid_from,
        valid_to=planner.valid_to,
        units=tuple(p.unit for p in planner.plans),
        groups=tuple(planner.groups),
        _plans=tuple(planner.plans),
        _faulty=faulty,
    )


class _Planner:
    """Builds unit plans one unit at a time, handing out org numbers and person numbers."""

    def __init__(self, rng: random.Random, school_year: int) -> None:
        self.rng = rng
        self.valid_from, self.valid_to = date(school_year, 8, 1), date(school_year + 1, 6, 30)
        self.plans: list[_UnitPlan] = []
        self.groups: list[Group] = []
        self._names = _UnitNames(rng)
        self._orgs: set[str] = set()
        self._seq = 1

    def org_number(self, prefix: str) -> str:
        """A new valid organisation number starting with `prefix`, unique in this owner."""
        while True:
            first8 = prefix + "".join(
                self.rng.choice(string.digits) for _ in range(8 - len(prefix))
            )
            check = org_number_check_digit(first8)
            if check is not None and f"{first8}{check}" not in self._orgs:
                self._orgs.add(f"{first8}{check}")
                return f"{first8}{check}"

    def group(
        self,
        kind: GroupType,
        local_id: str,
        name: str,
        org: str,
        students: int,
        *,
        grep_code: str = "",
        grade: int | None = None,
        faculty_count: int = 1,
    ) -> Group:
        """A group of this school year, remembered for the owner."""
        group = Group(
            kind,
            local_id,
            name,
            org,
            grep_code,
            grade,
            self.valid_from,
            self.valid_to,
            students,
            faculty_count,
        )
        self.groups.append(group)
        return group

    def schools(self, n_schools: int, pupils_total: int) -> None:
        """A barneskole, an ungdomsskole, then a mix including combined 1-10 schools."""
        kinds = [tuple(range(1, 8)), tuple(range(8, 11))]
        for _ in range(n_schools - 2):
            roll = self.rng.random()
            first, last = (1, 7) if roll < 0.55 else (8, 10) if roll < 0.75 else (1, 10)
            kinds.append(tuple(range(first, last + 1)))
        slots = [(s, g) for s, grades in enumerate(kinds) for g in grades]
        school_weight = [self.rng.uniform(0.6, 1.4) for _ in kinds]
        weights = [school_weight[s] * self.rng.uniform(0.9, 1.1) for s, _ in slots]
        pupils: list[dict[int, int]] = [{} for _ in kinds]
        for (s, g), n in zip(slots, _largest_remainder(weights, pupils_total), strict=True):
            pupils[s][g] = max(1, n)
        orgs = [self.org_number("97") for _ in kinds]
        for org, grades, by_grade in zip(orgs, kinds, pupils, strict=True):
            self._school(org, grades, by_grade, [o for o in orgs if o != org])

    def _school(
        self, org: str, grades: tuple[int, ...], pupils: dict[int, int], others: list[str]
    ) -> None:
        n_pupils = sum(pupils.values())
        kind = "ungdomsskole" if grades[0] == 8 else "skole"
        name, acronym = self._names.take(kind, "S" if kind == "skole" else "U")
        n_teachers = max(2, round(n_pupils / 9))
        teaches: list[list[Membership]] = [[] for _ in range(n_teachers)]
        cohorts: list[_Cohort] = []
        class_no = 0
        for grade in grades:
            n = pupils[grade]
            n_classes = max(1, math.ceil(n / _MAX_CLASS_SIZE))
            bundles: list[tuple[Membership, ...]] = []
            for c in range(n_classes):
                # Pupil k of the grade goes to class k % n_classes, hence this size.
                size = n // n_classes + (1 if c < n % n_classes else 0)
                label = f"{grade}{string.ascii_lowercase[c]}"
                base = self.group(
                    GroupType.BASE, label, f"Klasse {label.upper()}", org, size, grade=grade
                )
                teaches[class_no % n_teachers].append(Membership(base, GroupRole.FACULTY))
                bundle = [Membership(base, GroupRole.STUDENT)]
                for s, (suffix, subject, prefix) in enumerate(_SUBJECTS):
                    code = _GRADE10_CODES[prefix] if grade == 10 else f"{prefix}{grade:04d}"
                    teaching = self.group(
                        GroupType.TEACHING,
                        f"{label}-{suffix}",
                        f"{subject} {label.upper()}",
                        org,
                        size,
                        grep_code=code,
                        grade=grade,
                    )
                    slot = (class_no * len(_SUBJECTS) + s + 1) % n_teachers
                    teaches[slot].append(Membership(teaching, GroupRole.FACULTY))
                    bundle.append(Membership(teaching, GroupRole.STUDENT))
                bundles.append(tuple(bundle))
                class_no += 1
            cohorts.append(_Cohort(Role.PUPIL, grade, (), n, tuple(bundles)))
        staff = [_StaffSlot(Role.PRINCIPAL)]
        staff += [_StaffSlot(Role.ADMINISTRATION)] * max(1, round(n_pupils / 250))
        staff += [_StaffSlot(Role.IT_PEDAGOGUE)]
        for groups in teaches:
            extra = (self.rng.choice(others),) if others and self.rng.random() < 0.04 else ()
            staff.append(_StaffSlot(Role.TEACHER, tuple(groups), extra))
        staff += [_StaffSlot(Role.ASSISTANT)] * round(n_pupils / 40)
        unit = Unit(org, name, acronym, SchoolLevel.PRIMARY, grades, (), n_pupils, len(staff), 0)
        self._add(unit, staff, cohorts)

    def preschool(self, children: int) -> None:
        """A barnehage with small-children (1-2) and big-children (3-5) sections."""
        org = self.org_number("98")
        name, acronym = self._names.take("barnehage", "B")
        n_sections = max(1, round(children / 16))
        small_sections = max(1, round(n_sections / 3)) if n_sections > 1 else 0
        weights = [0.6 if s < small_sections else 1.0 for s in range(n_sections)]
        sizes = [max(1, n) for n in _largest_remainder(weights, children)]
        labels = self.rng.sample(_names.SECTIONS, min(n_sections, len(_names.SECTIONS)))
        staff = [_StaffSlot(Role.PRESCHOOL_HEAD)]
        cohorts: list[_Cohort] = []
        for s, size in enumerate(sizes):
            small = s < small_sections
            label = labels[s % len(labels)]
            if s >= len(labels):
                label = f"{label} {s // len(labels) + 1}"
            adults = max(1, math.ceil(size / (3 if small else 6)))
            pedagogues = max(1, round(adults * 0.45))
            assistants = max(0, adults - pedagogues)
            section = self.group(
                GroupType.OTHER,
                f"avd-{_fold(label)}",
                f"Avdeling {label}",
                org,
                size,
                faculty_count=pedagogues + assistants,
            )
            faculty = (Membership(section, GroupRole.FACULTY),)
            staff += [_StaffSlot(Role.PRESCHOOL_TEACHER, faculty)] * pedagogues
            staff += [_StaffSlot(Role.ASSISTANT, faculty)] * assistants
            bundle = ((Membership(section, GroupRole.STUDENT),),)
            ages = (1, 2) if small else (3, 4, 5)
            cohorts.append(_Cohort(Role.CHILD, None, ages, size, bundle))
        unit = Unit(
            org,
            name,
            acronym,
            SchoolLevel.PRESCHOOL,
            (),
            (1, 2, 3, 4, 5),
            0,
            len(staff),
            sum(sizes),
        )
        self._add(unit, staff, cohorts)

    def _add(self, unit: Unit, staff: list[_StaffSlot], cohorts: list[_Cohort]) -> None:
        plan = _UnitPlan(len(self.plans), unit, self._seq, tuple(staff), tuple(cohorts))
        self.plans.append(plan)
        self._seq += plan.size


class _UnitNames:
    """Unit names on distinct places ("Lade skole", "Øvre Tiller barnehage") with acronyms."""

    def __init__(self, rng: random.Random) -> None:
        bare, prefixed = (
            list(_names.PLACES),
            [p + q for p in _names.PLACE_PREFIXES[1:] for q in _names.PLACES],
        )
        rng.shuffle(bare)
        rng.shuffle(prefixed)
        self._places = bare + prefixed
        self._taken = 0

    def take(self, kind: str, letter: str) -> tuple[str, str]:
        n, self._taken = self._taken, self._taken + 1
        place = self._places[n % len(self._places)]
        if n >= len(self._places):
            place = f"{place} {n // len(self._places) + 1}"
        initials = "".join(word[0] for word in place.split()[:-1])
        return f"{place} {kind}", f"{initials}{place.split()[-1][:3]}{letter}".upper()


def _split(rng: random.Random, total: int, parts: int, spread: float) -> list[int]:
    weights = [rng.uniform(1 - spread, 1 + spread) for _ in range(parts)]
    return [max(1, n) for n in _largest_remainder(weights, total)]


def _largest_remainder(weights: list[float], total: int) -> list[int]:
    """Integers proportional to `weights` that add up to exactly `total`."""
    whole = sum(weights)
    exact = [w * total / whole for w in weights]
    counts = [math.floor(x) for x in exact]
    order = sorted(range(len(weights)), key=lambda i: exact[i] - counts[i], reverse=True)
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return counts


def _birth_date(
    rng: random.Random, year: int, role: Role, grade: int | None, ages: tuple[int, ...]
) -> date:
    if grade is not None:  # 1st grade in the calendar year the pupil turns 6
        born = year - 5 - grade
        last = date(born, 12, 31)
    elif role is Role.CHILD:
        age = rng.choice(ages)
        born = year - age
        last = date(born, 8, 31) if age == 1 else date(born, 12, 31)
    else:
        born = year - rng.randint(23, 66)
        last = date(born, 12, 31)
    first = date(born, 1, 1)
    return first + timedelta(days=rng.randrange((last - first).days + 1))


def _fold(text: str) -> str:
    """Lower-case ASCII letters only: "Ødegård" -> "odegaard"."""
    return re.sub(r"[^a-z0-9]", "", text.lower().translate(_ASCII_FOLD))


def _apply_fault(person: Person, fault: str) -> Person:
    if fault == "nin_check_digit":
        wrong = str((int(person.nin[-1]) + 1) % 10)
        return dataclasses.replace(person, nin=person.nin[:-1] + wrong, fault=fault)
    if fault == "eppn_without_realm":
        return dataclasses.replace(person, eppn=person.username, fault=fault)
    if fault == "affiliation_unknown":
        return dataclasses.replace(
            person,
            primary_affiliation="elev",
            affiliations=("elev", *person.affiliations),
            fault=fault,
        )
    if fault == "group_urn_truncated":
        entitlements = list(person.entitlements)
        index = next(
            (i for i, e in enumerate(entitlements) if e.startswith(_GROUP_PREFIX + ":")), None
        )
        if index is None:
            entitlements.append(f"{_GROUP_PREFIX}:b::NO{person.primary_unit}")
        else:
            entitlements[index] = ":".join(entitlements[index].split(":")[:9])
        return dataclasses.replace(person, entitlements=tuple(entitlements), fault=fault)
    if fault == "unit_dangling":
        return dataclasses.replace(
            person, unit_org_numbers=(*person.unit_org_numbers, "000000000"), fault=fault
        )
    if fault == "given_name_missing":
        return dataclasses.replace(person, given_name="", fault=fault)
    raise ValueError(f"unknown fault kind {fault!r}")
