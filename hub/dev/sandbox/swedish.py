"""A synthetic Swedish school owner (kommun): units, groups, people, duties and placements.

`generate_swedish(tenant, scale, seed)` builds one municipality deterministically, for the
sandbox's SS 12000 API (`hub.dev.sandbox.ss12000`):

- **Units** (skolenheter) with 8-digit skolenhetskoder and SS 12000 school types:
  preschools (`FS`, about 70 children each, in sections of about 15), compulsory schools
  with preschool class and grades 1-9 (`FKLASS`, `GR`; the first is F-6, the second 7-9,
  the rest F-9) and one upper-secondary school (`GY`, years 1-3, four programmes).
- **Groups**: classes (`Klass`, e.g. `7B`, `FA`, `NA25A`), teaching groups
  (`Undervisning`, mathematics and Swedish per class) and preschool sections (`Avdelning`,
  e.g. `Avdelning Humlan`), with their members.
- **People**: pupils (about 82 % of `scale`, enrolled with school type and school year),
  school and preschool staff (about 18 %), and preschool children on top (about 20 % of
  `scale`), who have no eduPersonPrincipalName or e-mail, only a placement.
- **Duties** (Rektor, Lärare, Förskollärare, Barnskötare, Lärarassistent,
  Skoladministratör, and an IT pedagogue as `Annan personal`), with mentor and section
  assignments; **placements** of every child in its preschool section; **activities**
  linking each teaching group and class to its teacher's duty.

Names are Swedish, with å, ä and ö. Civic numbers follow the style of the Swedish Tax
Agency's published test series: real birth dates, birth numbers 980-999 and a valid Luhn
check digit, so privacy tests hunt for something real-shaped that belongs to no one. A few
are coordination numbers (day + 60), and a few are served in other common formats
(`YYYYMMDD-NNNC`, `YYMMDD-NNNC`) or as temporary numbers with letters, as real registers do.
"""

from __future__ import annotations

import dataclasses
import math
import random
import re
import uuid
import zlib
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum

__all__ = [
    "FAULT_KINDS",
    "SWEDISH_TENANTS",
    "PersonKind",
    "SwedishActivity",
    "SwedishDuty",
    "SwedishGroup",
    "SwedishOwner",
    "SwedishPerson",
    "SwedishPlacement",
    "SwedishUnit",
    "civic_no_formats",
    "generate_swedish",
    "luhn_digit",
    "security_marking",
    "synthetic_civic_no",
]

#: The Swedish sandbox tenants and their names; `hub sandbox up` serves SS 12000 for these.
SWEDISH_TENANTS: dict[str, str] = {
    "solberga": "Solberga kommun",
    "ekby": "Ekby kommun",
    "norrvik": "Norrviks kommun",
}

GIRLS = (
    "Alice", "Maja", "Elsa", "Astrid", "Wilma", "Ebba", "Saga", "Signe", "Ella", "Olivia",
    "Åsa", "Märta", "Linnéa", "Ingrid", "Karin", "Lovisa", "Greta", "Agnes", "Stina", "Tove",
    "Annika", "Birgitta", "Ylva", "Jönsa", "Frida", "Sofia", "Amira", "Leila", "Hedvig", "Kajsa",
)  # fmt: skip
BOYS = (
    "William", "Liam", "Noah", "Hugo", "Elias", "Oscar", "Lucas", "Nils", "Olle", "Måns",
    "Åke", "Björn", "Göran", "Örjan", "Sören", "Pär", "Jöns", "Gösta", "Ludvig", "Axel",
    "Vincent", "Isak", "Adam", "Malte", "Sixten", "Tage", "Omar", "Yusuf", "Anders", "Håkan",
)  # fmt: skip
FAMILY = (
    "Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson",
    "Persson", "Svensson", "Gustafsson", "Pettersson", "Jönsson", "Jansson", "Hansson",
    "Bengtsson", "Lindström", "Åberg", "Öberg", "Sjöberg", "Ström", "Holmström", "Lundström",
    "Bäckström", "Söderberg", "Åström", "Ekström", "Nyström", "Hägglund", "Sandström",
    "Löfgren", "Wästberg", "Björk", "Lindqvist", "Forsgren", "Mäkinen", "Nguyen", "Ali",
)  # fmt: skip
PLACES = (
    "Solberga", "Björkhagen", "Ängsvik", "Tallåsen", "Ekbacken", "Lövsta", "Sjövik",
    "Granbacka", "Äppelgården", "Rönnbäcken", "Hällby", "Örnäs", "Kvarnbäcken", "Norrskogen",
    "Lärkängen", "Strömsnäs", "Furulund", "Hagaby", "Västergärde", "Östermalm", "Bäckby",
    "Sörgården", "Mälarhöjden", "Lillån",
)  # fmt: skip
SECTIONS = (
    "Humlan", "Myran", "Nyckelpigan", "Ekorren", "Blåbäret", "Lingonet", "Fjärilen",
    "Snäckan", "Igelkotten", "Räven", "Ugglan", "Tallkotten", "Gräshoppan", "Älgen",
)  # fmt: skip
PROGRAMMES = (("NA", "Naturvetenskapsprogrammet"), ("SA", "Samhällsvetenskapsprogrammet"),
              ("TE", "Teknikprogrammet"), ("EK", "Ekonomiprogrammet"))  # fmt: skip
SUBJECTS = (("Ma", "Matematik"), ("Sv", "Svenska"))

#: Deliberate defects applied when `generate_swedish(..., faults=True)`: (kind, what).
FAULT_KINDS: tuple[tuple[str, str], ...] = (
    ("persons", "civic_no_check_digit"),  # civicNo with a wrong Luhn digit
    ("persons", "civic_no_malformed"),  # civicNo that is no personnummer at all
    ("persons", "given_name_missing"),  # no givenName
    ("organisations", "school_unit_code_malformed"),  # schoolUnitCode not 8 digits
    ("placements", "school_type_unknown"),  # a placement in school type GR
    ("duties", "person_missing"),  # a duty without a person
)

_FOLD = str.maketrans({"å": "a", "ä": "a", "ö": "o", "é": "e", "ü": "u", "æ": "ae", "ø": "o"})
_NAMESPACE = uuid.UUID("5d3a1f0e-1c1b-4e55-9d0e-55c2a6f0b000")
_PUPILS_PER_SCHOOL = 350
_CHILDREN_PER_PRESCHOOL = 70
_SECTION_SIZE = 15
_CLASS_SIZE = 25


class PersonKind(StrEnum):
    """What a person is at the school owner."""

    PUPIL = "elev"
    CHILD = "barn"
    STAFF = "personal"


# --------------------------------------------------------------------------- the model


@dataclass(frozen=True, slots=True)
class SwedishUnit:
    """A skolenhet: a preschool, a compulsory school or an upper-secondary school."""

    index: int
    code: str
    name: str
    school_types: tuple[str, ...]
    #: School years offered; 0 is the preschool class (F).
    grades: tuple[int, ...]

    @property
    def is_preschool(self) -> bool:
        """True for a förskola."""
        return self.school_types == ("FS",)


@dataclass(frozen=True, slots=True)
class SwedishGroup:
    """A class, teaching group or preschool section, with its members (person indexes)."""

    index: int
    unit: int
    name: str
    group_type: str
    school_type: str
    grade: int | None
    members: tuple[int, ...]
    start: date
    end: date


@dataclass(frozen=True, slots=True)
class SwedishPerson:
    """A pupil, a preschool child or a staff member."""

    index: int
    kind: PersonKind
    given_name: str
    family_name: str
    birth_date: date
    #: The civic number as 12 digits, the canonical form (the needle of privacy tests).
    civic_no: str
    #: The civic number as the register serves it (usually `civic_no`; see the module).
    civic_no_served: str
    unit: int
    school_type: str | None
    grade: int | None
    eppn: str | None
    email: str | None
    employee_number: str | None = None


@dataclass(frozen=True, slots=True)
class SwedishDuty:
    """A staff member's duty at a unit, with group assignments (group index, role type)."""

    index: int
    person: int
    unit: int
    role: str
    description: str | None
    percent: int
    start: date
    assignments: tuple[tuple[int, str], ...] = ()


@dataclass(frozen=True, slots=True)
class SwedishPlacement:
    """A child placed in a preschool section."""

    index: int
    person: int
    unit: int
    group: int
    start: date


@dataclass(frozen=True, slots=True)
class SwedishActivity:
    """Teaching of one group (or class) by one teacher's duty."""

    index: int
    name: str
    unit: int
    groups: tuple[int, ...]
    duties: tuple[int, ...]
    start: date
    end: date


@dataclass(frozen=True, slots=True)
class SwedishOwner:
    """A Swedish municipality as school owner (huvudman), everything it registers."""

    tenant: str
    name: str
    org_number: str
    municipality_code: str
    realm: str
    scale: int
    seed: int
    school_year: tuple[date, date]
    units: tuple[SwedishUnit, ...]
    groups: tuple[SwedishGroup, ...]
    people: tuple[SwedishPerson, ...]
    duties: tuple[SwedishDuty, ...]
    placements: tuple[SwedishPlacement, ...]
    activities: tuple[SwedishActivity, ...]
    #: (collection, index) → the fault applied to that record (see `FAULT_KINDS`).
    faults: dict[tuple[str, int], str] = field(default_factory=dict, compare=False)

    def uuid(self, kind: str, index: int) -> str:
        """The stable SS 12000 id (a UUID) of record `index` of a collection."""
        return str(uuid.uuid5(_NAMESPACE, f"{self.tenant}|{self.seed}|{kind}|{index}"))

    @property
    def preschools(self) -> tuple[SwedishUnit, ...]:
        """The förskolor."""
        return tuple(u for u in self.units if u.is_preschool)

    @property
    def schools(self) -> tuple[SwedishUnit, ...]:
        """The compulsory and upper-secondary schools."""
        return tuple(u for u in self.units if not u.is_preschool)

    def count(self, kind: PersonKind) -> int:
        """How many people of a kind."""
        return sum(1 for p in self.people if p.kind is kind)


# --------------------------------------------------------------------------- identifiers

#: Every `PROTECTED_EVERY`-th person (from the `PROTECTED_FROM`-th) is a protected identity,
#: alternately "Skyddad folkbokföring" and "Sekretessmarkering": a few per tenant, chosen by
#: index so the seeded generation of everything else stays as it was.
PROTECTED_EVERY = 97
PROTECTED_FROM = 13
SECURITY_MARKINGS = ("Skyddad folkbokföring", "Sekretessmarkering")


def security_marking(index: int) -> str:
    """The SS 12000 `securityMarking` of person `index`: `Ingen` for all but a few."""
    if index % PROTECTED_EVERY != PROTECTED_FROM:
        return "Ingen"
    return SECURITY_MARKINGS[(index // PROTECTED_EVERY) % len(SECURITY_MARKINGS)]


def luhn_digit(digits: str) -> int:
    """The Luhn (modulus 10, weights 2-1-2…) check digit of a personnummer's first 9 digits."""
    total = 0
    for position, char in enumerate(digits):
        value = int(char) * (2 if position % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return (10 - total % 10) % 10


def synthetic_civic_no(birth: date, birth_number: int, *, coordination: bool = False) -> str:
    """A 12-digit civic number in the tax agency's test-series style: birth numbers 980-999.

    `coordination` makes it a samordningsnummer (the day plus 60).
    """
    if not 980 <= birth_number <= 999:
        raise ValueError("test-series birth numbers are 980-999")
    day = birth.day + (60 if coordination else 0)
    first9 = f"{birth.year % 100:02d}{birth.month:02d}{day:02d}{birth_number:03d}"
    return f"{birth.year // 100:02d}{first9}{luhn_digit(first9)}"


def civic_no_formats(civic_no: str) -> tuple[str, ...]:
    """Every common way of writing a 12-digit civic number (for leak hunts)."""
    century, short = civic_no[:2], civic_no[2:]
    separator = "+" if int(century) < 19 else "-"
    return (
        civic_no,
        f"{century}{short[:6]}-{short[6:]}",
        short,
        f"{short[:6]}{separator}{short[6:]}",
        f"{short[:6]}-{short[6:]}",
    )


class _CivicNumbers:
    """Hands out distinct test-series numbers; a date whose 20 numbers are used moves a day."""

    def __init__(self) -> None:
        self._next: dict[date, int] = {}

    def take(self, birth: date, coordination: bool) -> tuple[date, str]:
        while True:
            number = self._next.get(birth, 980)
            if number <= 999:
                self._next[birth] = number + 1
                return birth, synthetic_civic_no(birth, number, coordination=coordination)
            birth += timedelta(days=1)


def _luhn_org_number(rng: random.Random) -> str:
    """A municipality's organisation number: 212000-NNNC with a Luhn check digit."""
    first9 = f"212000{rng.randrange(1000):03d}"
    return f"{first9[:6]}-{first9[6:]}{luhn_digit(first9)}"


def _fold(text: str) -> str:
    """Lower-case ASCII letters and digits only: "Åström" -> "astrom"."""
    return re.sub(r"[^a-z0-9]", "", text.lower().translate(_FOLD))


# --------------------------------------------------------------------------- generation


def generate_swedish(
    tenant: str, scale: int, seed: int = 1, *, faults: bool = False, school_year: int = 2025
) -> SwedishOwner:
    """A municipality of about `scale` pupils and staff, plus preschool children."""
    if scale < 20:
        raise ValueError("scale must be at least 20 (one of each unit kind needs people)")
    return _Builder(tenant, scale, seed, faults, school_year).build()


class _Builder:
    def __init__(self, tenant: str, scale: int, seed: int, faults: bool, year: int) -> None:
        self.tenant, self.scale, self.seed, self.faults = tenant, scale, seed, faults
        self.rng = random.Random(f"{tenant}|{scale}|{seed}|se")
        self.year = year
        self.term = (date(year, 8, 18), date(year + 1, 6, 12))
        self.units: list[SwedishUnit] = []
        self.groups: list[SwedishGroup] = []
        self.people: list[SwedishPerson] = []
        self.duties: list[SwedishDuty] = []
        #: Staff person index → the index of their duty.
        self.duty_of: dict[int, int] = {}
        self.placements: list[SwedishPlacement] = []
        self.activities: list[SwedishActivity] = []
        self.civic = _CivicNumbers()
        self.codes: set[str] = set()
        self.places = list(PLACES)
        self.rng.shuffle(self.places)
        self.realm = f"{_fold(tenant)}.se"

    def build(self) -> SwedishOwner:
        pupils = round(self.scale * 0.82)
        children = max(_SECTION_SIZE, round(self.scale * 0.2))
        upper = max(12, round(pupils * 0.25))
        compulsory = max(20, pupils - upper)
        for size in _split(children, max(1, round(children / _CHILDREN_PER_PRESCHOOL))):
            self.preschool(size)
        n_schools = max(2, round(compulsory / _PUPILS_PER_SCHOOL))
        spans = [tuple(range(0, 7)), tuple(range(7, 10))]
        spans += [tuple(range(0, 10))] * (n_schools - 2)
        per_grade = {g: sum(1 for s in spans if g in s) for g in range(10)}
        for span in spans:
            sizes = {g: max(2, round(compulsory / 10 / per_grade[g])) for g in span}
            self.school(span, sizes)
        self.upper_secondary(upper)
        faults = self.plan_faults() if self.faults else {}
        owner_name = SWEDISH_TENANTS.get(self.tenant, f"{self.tenant.title()} kommun")
        return SwedishOwner(
            tenant=self.tenant,
            name=owner_name,
            org_number=_luhn_org_number(self.rng),
            municipality_code=f"{1400 + zlib.crc32(self.tenant.encode()) % 500:04d}",
            realm=self.realm,
            scale=self.scale,
            seed=self.seed,
            school_year=self.term,
            units=tuple(self.units),
            groups=tuple(self.groups),
            people=tuple(self.people),
            duties=tuple(self.duties),
            placements=tuple(self.placements),
            activities=tuple(self.activities),
            faults=faults,
        )

    # -- units ----------------------------------------------------------------------------

    def unit(self, name: str, school_types: tuple[str, ...], grades: tuple[int, ...]) -> int:
        while True:
            code = f"{self.rng.randrange(10_000_000, 100_000_000)}"
            if code not in self.codes:
                self.codes.add(code)
                break
        index = len(self.units)
        self.units.append(SwedishUnit(index, code, name, school_types, grades))
        return index

    def place(self) -> str:
        n = len(self.units)
        place = self.places[n % len(self.places)]
        return place if n < len(self.places) else f"{place} {n // len(self.places) + 1}"

    def preschool(self, children: int) -> None:
        unit = self.unit(f"{self.place()} förskola", ("FS",), ())
        self.staff(unit, "Rektor")
        n_sections = max(1, round(children / _SECTION_SIZE))
        labels = self.rng.sample(SECTIONS, min(n_sections, len(SECTIONS)))
        sizes = _split(children, n_sections)
        for s, size in enumerate(sizes):
            label = labels[s % len(labels)] + ("" if s < len(labels) else f" {s // len(labels)}")
            kids = [self.person(PersonKind.CHILD, unit, "FS", None) for _ in range(size)]
            section = self.group(unit, f"Avdelning {label}", "Avdelning", "FS", None, kids)
            adults = max(1, math.ceil(size / 5))
            for a in range(adults):
                role = "Förskollärare" if a < max(1, round(adults * 0.45)) else "Barnskötare"
                self.staff(unit, role, assignments=((section, role),))
            for kid in kids:
                start = max(self.people[kid].birth_date + timedelta(days=365), date(2021, 8, 1))
                self.placements.append(
                    SwedishPlacement(len(self.placements), kid, unit, section, start)
                )

    def school(self, grades: tuple[int, ...], sizes: dict[int, int]) -> None:
        place = self.place()
        school_types = ("FKLASS", "GR") if 0 in grades else ("GR",)
        unit = self.unit(f"{place}skolan", school_types, grades)
        self.staff(unit, "Rektor")
        self.staff(unit, "Skoladministratör")
        self.staff(unit, "Annan personal", description="IT-pedagog")
        teachers: list[int] = []
        pupils_total = sum(sizes.values())
        for _ in range(max(2, round(pupils_total / 12))):
            teachers.append(self.staff(unit, "Lärare"))
        for _ in range(max(1, round(pupils_total / 60))):
            self.staff(unit, "Lärarassistent")
        t = 0
        for grade in grades:
            school_type = "FKLASS" if grade == 0 else "GR"
            for c, size in enumerate(_split(sizes[grade], math.ceil(sizes[grade] / _CLASS_SIZE))):
                letter = "ABCDEFGH"[c % 8]
                name = f"F{letter}" if grade == 0 else f"{grade}{letter}"
                members = [
                    self.person(PersonKind.PUPIL, unit, school_type, grade) for _ in range(size)
                ]
                mentor = teachers[t % len(teachers)]
                t += 1
                klass = self.group(unit, name, "Klass", school_type, grade, members)
                self.assign(mentor, klass, "Mentor")
                self.activity(f"Klasstid {name}", unit, klass, mentor)
                if grade == 0:
                    continue
                for short, subject in SUBJECTS:
                    teacher = teachers[t % len(teachers)]
                    t += 1
                    group = self.group(
                        unit, f"{short} {name}", "Undervisning", school_type, grade, members
                    )
                    self.activity(f"{subject} {name}", unit, group, teacher)

    def upper_secondary(self, pupils: int) -> None:
        unit = self.unit(f"{self.place()}gymnasiet", ("GY",), (1, 2, 3))
        self.staff(unit, "Rektor")
        self.staff(unit, "Skoladministratör")
        self.staff(unit, "Annan personal", description="IT-pedagog")
        teachers = [self.staff(unit, "Lärare") for _ in range(max(2, round(pupils / 14)))]
        t = 0
        per_year = _split(pupils, 3)
        for year, count in zip((1, 2, 3), per_year, strict=True):
            intake = (self.year - year + 1) % 100
            programmes = PROGRAMMES[: max(1, min(len(PROGRAMMES), round(count / _CLASS_SIZE)))]
            for (code, _programme), size in zip(
                programmes, _split(count, len(programmes)), strict=True
            ):
                for c, class_size in enumerate(_split(size, math.ceil(size / 30))):
                    name = f"{code}{intake:02d}{'ABCDEFGH'[c % 8]}"
                    members = [
                        self.person(PersonKind.PUPIL, unit, "GY", year) for _ in range(class_size)
                    ]
                    mentor = teachers[t % len(teachers)]
                    t += 1
                    klass = self.group(unit, name, "Klass", "GY", year, members)
                    self.assign(mentor, klass, "Mentor")
                    for short, subject in SUBJECTS:
                        teacher = teachers[t % len(teachers)]
                        t += 1
                        group = self.group(
                            unit, f"{short}{year} {name}", "Undervisning", "GY", year, members
                        )
                        self.activity(f"{subject} {year} {name}", unit, group, teacher)

    # -- records --------------------------------------------------------------------------

    def group(
        self,
        unit: int,
        name: str,
        group_type: str,
        school_type: str,
        grade: int | None,
        members: list[int],
    ) -> int:
        index = len(self.groups)
        self.groups.append(
            SwedishGroup(
                index, unit, name, group_type, school_type, grade, tuple(members), *self.term
            )
        )
        return index

    def activity(self, name: str, unit: int, group: int, teacher_person: int) -> None:
        duty = self.duty_of[teacher_person]
        self.activities.append(
            SwedishActivity(len(self.activities), name, unit, (group,), (duty,), *self.term)
        )

    def assign(self, person: int, group: int, role: str) -> None:
        duty = self.duties[self.duty_of[person]]
        self.duties[duty.index] = dataclasses.replace(
            duty, assignments=(*duty.assignments, (group, role))
        )

    def staff(
        self,
        unit: int,
        role: str,
        *,
        description: str | None = None,
        assignments: tuple[tuple[int, str], ...] = (),
    ) -> int:
        person = self.person(PersonKind.STAFF, unit, None, None)
        percent = 100 if self.rng.random() < 0.8 else self.rng.choice((50, 75, 80, 90))
        start = date(self.year - self.rng.randrange(0, 12), 8, 1)
        self.duty_of[person] = len(self.duties)
        self.duties.append(
            SwedishDuty(
                len(self.duties), person, unit, role, description, percent, start, assignments
            )
        )
        return person

    def person(
        self, kind: PersonKind, unit: int, school_type: str | None, grade: int | None
    ) -> int:
        rng = self.rng
        index = len(self.people)
        given = rng.choice(GIRLS if rng.random() < 0.5 else BOYS)
        family = rng.choice(FAMILY)
        if rng.random() < 0.06:
            family = f"{rng.choice(FAMILY)} {family}"
        birth = self.birth_date(kind, school_type, grade)
        coordination = index % 47 == 3
        birth, civic_no = self.civic.take(birth, coordination)
        served = civic_no
        if index % 37 == 5:
            served = f"{civic_no[:8]}-{civic_no[8:]}"
        elif index % 53 == 7:
            served = f"{civic_no[2:8]}-{civic_no[8:]}"
        elif index % 211 == 100 and kind is PersonKind.PUPIL:
            served = f"{civic_no[:8]}TF{civic_no[10:]}"  # a temporary number
        username = f"{_fold(given)[:3]}{_fold(family.split()[-1])[:3]}{index}"
        eppn = email = employee = None
        if kind is PersonKind.STAFF:
            eppn = f"{username}@{self.realm}"
            email = f"{_fold(given)}.{_fold(family.split()[-1])}{index}@{self.realm}"
            employee = f"A{100_000 + index}"
        elif kind is PersonKind.PUPIL:
            eppn = f"{username}@{self.realm}"
            email = f"{username}@elev.{self.realm}"
        self.people.append(
            SwedishPerson(
                index,
                kind,
                given,
                family,
                birth,
                civic_no,
                served,
                unit,
                school_type,
                grade,
                eppn,
                email,
                employee,
            )
        )
        return index

    def birth_date(self, kind: PersonKind, school_type: str | None, grade: int | None) -> date:
        rng = self.rng
        if kind is PersonKind.STAFF:
            born = self.year - rng.randint(23, 64)
        elif kind is PersonKind.CHILD:
            born = self.year - rng.randint(1, 5)
        elif school_type == "GY":
            born = self.year - 15 - (grade or 1)
        else:  # the preschool class in the year a child turns 6, grade 1 at 7
            born = self.year - 6 - (grade or 0)
        return date(born, 1, 1) + timedelta(days=rng.randrange(365))

    def plan_faults(self) -> dict[tuple[str, int], str]:
        """One record of each fault kind, chosen among records that can carry it."""
        pupils = [p.index for p in self.people if p.kind is PersonKind.PUPIL]
        picks = {
            "persons": iter(pupils[3::7]),
            "organisations": iter(u.index for u in self.units if not u.is_preschool),
            "placements": iter(range(1, len(self.placements))),
            "duties": iter(d.index for d in self.duties if not d.assignments),
        }
        return {(kind, next(picks[kind])): name for kind, name in FAULT_KINDS}


def _split(total: int, parts: int) -> list[int]:
    """`total` split into `parts` near-equal positive counts."""
    parts = max(1, min(parts, total))
    base, extra = divmod(total, parts)
    return [base + (1 if n < extra else 0) for n in range(parts)]
