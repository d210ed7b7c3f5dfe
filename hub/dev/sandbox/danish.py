"""A synthetic Danish kommune as STIL's user database exports it, for the OS2skoledata sandbox.

`generate_danish(tenant, scale, seed)` builds one kommune deterministically:

- **Institutions** with six-digit institution numbers (the kommune's three-digit code,
  from the 900s that no real kommune uses, then a serial): two folkeskoler (`SCHOOL`,
  0. klasse to 9. klasse) and one dagtilbud (`DAYCARE`).
- **Groups** as STIL types them: a `HOVEDGRUPPE` per class (`0.A` … `9.A`, its level the
  grade), an `ÅRGANG` per level, a `HOLD` (a mathematics group) per class from 4. klasse,
  an `SFO` group per school holding its 0.–3. klasse pupils, a `TEAM` of the school's
  teachers; the dagtilbud's rooms are `HOVEDGRUPPE`s without a level.
- **People**: pupils (`ELEV`, about 80 % of `scale`, in their class, årgang, hold and
  SFO), children in the dagtilbud (`BARN`), staff with STIL's employee roles (`LÆRER`,
  `PÆDAGOG`, `VIKAR`, `LEDER`, `LEDELSE`, `TAP`, `KONSULENT`) and an external trainee
  (`PRAKTIKANT`) per school. Names are Danish, with æ, ø and å.
- **Protected people** (navne- og adressebeskyttelse): every 53rd person from the 11th
  carries alias names; OS2skoledata's REST API serves the alias in place of the name.

CPR numbers have a valid date, as the hub's detector requires, and are drawn from a series
CPR has not issued: the seventh digit 4 or 9 with a two-digit year of 30-36 stands for a
birth in 2030-2036 under CPR's century rule, so no living person holds one. Pupils' real
ages are in their class level, not in the number.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

__all__ = [
    "DANISH_TENANTS",
    "EMPLOYEE_ROLES",
    "DanishGroup",
    "DanishInstitution",
    "DanishKommune",
    "DanishPerson",
    "generate_danish",
    "synthetic_cpr",
]

#: The Danish sandbox tenants and their kommuner.
DANISH_TENANTS: dict[str, str] = {"sohavn": "Søhavn Kommune"}
#: The kommune code the sandbox's institution numbers start with (not a real kommune's).
KOMMUNE_CODE = "951"
#: STIL's employee roles as OS2skoledata names them (`DBEmployeeRole`).
EMPLOYEE_ROLES = ("LÆRER", "PÆDAGOG", "VIKAR", "LEDER", "LEDELSE", "TAP", "KONSULENT")
#: When the generated records were last modified (the export the sandbox serves).
EXPORTED_AT = datetime(2025, 9, 15, 5, 30, tzinfo=UTC)
#: The school year's first day; groups are valid from it to the next 30 June.
SCHOOL_YEAR_START = date(2025, 8, 11)

GIRLS = (
    "Freja", "Ida", "Clara", "Alma", "Ella", "Karla", "Agnes", "Sofie", "Emma", "Asta",
    "Ellen", "Lærke", "Mathilde", "Signe", "Astrid", "Olivia", "Maja", "Bodil", "Birthe",
    "Hanne", "Mette", "Tove", "Gry", "Sørine", "Åse", "Nanna", "Amira", "Zeynep",
)  # fmt: skip
BOYS = (
    "William", "Noah", "Oscar", "Lucas", "Carl", "Alfred", "Emil", "Aksel", "Valdemar",
    "Magnus", "Frederik", "Malthe", "Søren", "Jørgen", "Bjørn", "Mads", "Rasmus", "Anders",
    "Niels", "Poul", "Kåre", "Ebbe", "Troels", "Ahmad", "Yusuf", "Mikkel",
)  # fmt: skip
FAMILY = (
    "Nielsen", "Jensen", "Hansen", "Pedersen", "Andersen", "Christensen", "Larsen",
    "Sørensen", "Rasmussen", "Jørgensen", "Petersen", "Madsen", "Kristensen", "Olsen",
    "Thomsen", "Christiansen", "Poulsen", "Johansen", "Møller", "Mortensen", "Østergaard",
    "Bækgaard", "Damgaard", "Lykke", "Frølund", "Kjær", "Holm", "Skovgaard", "Ærø", "Yilmaz",
)  # fmt: skip
ROOMS = ("Mælkebøtten", "Solsikken", "Bøgen", "Egernet", "Søstjernen", "Myretuen")
SCHOOLS = ("Bakkeskolen", "Fjordskolen")
DAYCARE = "Børnehuset Æblehaven"


@dataclass
class DanishInstitution:
    """An institution as OS2skoledata lists it."""

    database_id: int
    number: str
    name: str
    abbreviation: str
    type: str  # SCHOOL, DAYCARE, MUNICIPALITY, FU


@dataclass
class DanishGroup:
    """A group of STIL's export: its STIL id, type, level and validity."""

    database_id: int
    group_id: str
    name: str
    group_type: str  # HOVEDGRUPPE, ÅRGANG, RETNING, HOLD, SFO, TEAM, ANDET
    level: str | None
    institution: int  # index into `DanishKommune.institutions`
    line: str | None = None
    from_date: date | None = SCHOOL_YEAR_START
    to_date: date | None = date(2026, 6, 30)
    last_modified: datetime = EXPORTED_AT


@dataclass
class DanishPerson:
    """A person at one institution (OS2skoledata's "institution person")."""

    database_id: int
    institution: int
    first_name: str
    family_name: str
    cpr: str
    uni_id: str
    role: str  # STUDENT, EMPLOYEE, EXTERNAL
    student_role: str | None = None  # ELEV, BARN
    employee_roles: list[str] = field(default_factory=list)
    external_role: str | None = None  # PRAKTIKANT, EKSTERN
    groups: list[int] = field(default_factory=list)  # group database ids
    main_group: int | None = None
    level: str | None = None
    protected: bool = False
    alias_first_name: str | None = None
    alias_family_name: str | None = None
    deleted: bool = False
    last_modified: datetime = EXPORTED_AT

    @property
    def shown_names(self) -> tuple[str, str]:
        """The names OS2skoledata's REST API serves: the alias of a protected person."""
        if self.protected and self.alias_first_name and self.alias_family_name:
            return self.alias_first_name, self.alias_family_name
        return self.first_name, self.family_name


@dataclass
class DanishKommune:
    """One generated kommune: institutions, groups and people."""

    tenant: str
    name: str
    institutions: list[DanishInstitution]
    groups: list[DanishGroup]
    persons: list[DanishPerson]


def synthetic_cpr(seq: int) -> str:
    """The `seq`-th CPR number of the sandbox's unissued series (`DDMMYY` + 4 digits).

    The year is 30-36 and the seventh digit 4 or 9: a birth in 2030-2036 by CPR's century
    rule, a number nobody holds. Day, month and serial vary so numbers are distinct.
    """
    day = 1 + seq % 28
    month = 1 + (seq // 28) % 12
    year = 30 + (seq // 336) % 7
    serial = (seq // 2352) % 2000
    seventh = "4" if serial < 1000 else "9"
    return f"{day:02d}{month:02d}{year:02d}{seventh}{serial % 1000:03d}"


class _Builder:
    def __init__(self, tenant: str, seed: int) -> None:
        self.rng = random.Random(f"{tenant}|{seed}")
        self.institutions: list[DanishInstitution] = []
        self.groups: list[DanishGroup] = []
        self.persons: list[DanishPerson] = []

    def institution(self, name: str, abbreviation: str, kind: str) -> int:
        index = len(self.institutions)
        number = f"{KOMMUNE_CODE}{index + 1:03d}"
        self.institutions.append(DanishInstitution(100 + index, number, name, abbreviation, kind))
        return index

    def group(self, institution: int, name: str, kind: str, level: str | None) -> DanishGroup:
        number = self.institutions[institution].number
        group = DanishGroup(
            database_id=1000 + len(self.groups),
            group_id=f"{number}-{kind[:2]}-{len(self.groups)}",
            name=name,
            group_type=kind,
            level=level,
            institution=institution,
        )
        self.groups.append(group)
        return group

    def person(self, institution: int, role: str, **fields: object) -> DanishPerson:
        seq = len(self.persons)
        girl = self.rng.random() < 0.5
        person = DanishPerson(
            database_id=5000 + seq,
            institution=institution,
            first_name=self.rng.choice(GIRLS if girl else BOYS),
            family_name=self.rng.choice(FAMILY),
            cpr=synthetic_cpr(seq),
            uni_id=f"{''.join(self.rng.choice('abcdefghjkmnpqrstuvwxyz') for _ in range(4))}"
            f"{seq:04d}",
            role=role,
            **fields,  # type: ignore[arg-type]
        )
        if seq % 53 == 11:
            person.protected = True
            person.alias_first_name = "Beskyttet"
            person.alias_family_name = f"Navn{seq}"
        self.persons.append(person)
        return person


def generate_danish(tenant: str, scale: int = 120, seed: int = 1) -> DanishKommune:
    """One Danish kommune of about `scale` pupils and staff, the same for the same arguments."""
    b = _Builder(tenant, seed)
    class_size = max(2, round(scale * 0.8 / (10 * len(SCHOOLS))))
    for school_name in SCHOOLS:
        school = b.institution(school_name, school_name[:3].upper(), "SCHOOL")
        team = b.group(school, "Lærerteam", "TEAM", None)
        sfo = b.group(school, f"SFO {school_name}", "SFO", None)
        for level in range(10):
            level_text = str(level)
            main = b.group(school, f"{level}.A", "HOVEDGRUPPE", level_text)
            year_group = b.group(school, f"{level}. årgang", "ÅRGANG", level_text)
            hold = (
                b.group(school, f"{level}.A matematik", "HOLD", level_text) if level >= 4 else None
            )
            for _ in range(class_size):
                groups = [main.database_id, year_group.database_id]
                groups += [hold.database_id] if hold else []
                groups += [sfo.database_id] if level <= 3 else []
                b.person(
                    school,
                    "STUDENT",
                    student_role="ELEV",
                    groups=groups,
                    main_group=main.database_id,
                    level=level_text,
                )
            b.person(
                school,
                "EMPLOYEE",
                employee_roles=["LÆRER"],
                groups=[main.database_id, team.database_id],
            )
        staff = (
            ["PÆDAGOG"],
            ["PÆDAGOG"],
            ["VIKAR"],
            ["LEDER"],
            ["LEDELSE"],
            ["TAP"],
            ["KONSULENT"],
        )
        for roles in staff:
            groups = [sfo.database_id] if roles == ["PÆDAGOG"] else []
            b.person(school, "EMPLOYEE", employee_roles=list(roles), groups=groups)
        b.person(school, "EXTERNAL", external_role="PRAKTIKANT")
    daycare = b.institution(DAYCARE, "ÆBL", "DAYCARE")
    children = max(4, scale // 5)
    rooms = [b.group(daycare, f"Stue {room}", "HOVEDGRUPPE", None) for room in ROOMS[:3]]
    for index in range(children):
        room = rooms[index % len(rooms)]
        b.person(
            daycare,
            "STUDENT",
            student_role="BARN",
            groups=[room.database_id],
            main_group=room.database_id,
        )
    for room in rooms:
        b.person(daycare, "EMPLOYEE", employee_roles=["PÆDAGOG"], groups=[room.database_id])
    b.person(daycare, "EMPLOYEE", employee_roles=["LEDER"])
    for group in b.groups:  # spread the modified times over the export's last week
        group.last_modified = EXPORTED_AT - timedelta(minutes=b.rng.randrange(7 * 24 * 60))
    for person in b.persons:
        person.last_modified = EXPORTED_AT - timedelta(minutes=b.rng.randrange(7 * 24 * 60))
    return DanishKommune(
        tenant, DANISH_TENANTS.get(tenant, f"{tenant} Kommune"), b.institutions, b.groups, b.persons
    )
