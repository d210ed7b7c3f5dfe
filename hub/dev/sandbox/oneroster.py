"""The sandbox's OneRoster 1.2 provider: each tenant's learning platform, with OAuth 2.0.

Built from the tenant's generated owner (`hub.dev.sandbox.roster.roster(tenant, scale, seed)`:
a Norwegian population, or a Swedish owner's SS 12000 register), so the LMS holds the
same people as the directory: the same usernames, e-mail addresses and eduPerson
identifiers (`Feide`, or `eduPersonPrincipalName` in Sweden) for nearly all, while about
2 % have another username and no such identifier, 1 % no email and 1 % an upper-case
identifier, and a few external course instructors and some guardians exist only here, so
matching has work to do. Every tenth person has a national identity number among their
`userIds` (`NIN`, or `personnummer`), as some SIS exports do (the connector must hash it).
Titles are in the owner's language (`LmsWords`): Swedish courses, terms and the pupils'
digital competence (Skolverket's four aspects) for a Swedish owner.

Next to the ordinary classes (homerooms and subject teaching groups from the population)
every unit has staff competence-development classes tagged by area: digital didactics,
the learning platform, programming and robotics, and the information-security e-learning
that all staff take. Staff are enrolled in them and have completion results; pupils have
results against digital-skills learning objectives of their grade.

Records are rendered on demand from compact per-record rows, so a 100,000-person tenant
holds tens of megabytes, not gigabytes. Changes made through `OneRosterTenant.modify`,
`mark_tobedeleted` and `vanish` (or `POST /_sandbox/oneroster/<tenant>/<action>`) are kept
as overlays with their own `dateLastModified`, which the `filter` parameter compares.

Collections page with `limit`/`offset`, declare `X-Total-Count` and a `Link` header; one
record is `GET <collection>/<sourcedId>` (`{"user": {...}}`), a 404 with the minor code
`unknownobject` once it vanished. The web server's faults make partial reads: an
`empty_page` keeps its `Link: rel="next"` to the records it held back, `truncate` ends
the read short of `X-Total-Count`, and `change` with `action: vanish` and
`body: {"kind", "sourcedId"}` hard-deletes a record between two page fetches.

The token endpoint is `<base>/oauth/token` (client credentials, HTTP basic or form);
tokens live `token_ttl` seconds and `revoke_tokens()` expires them all at once.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import zlib
from array import array
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from hub.dev.sandbox._oauth import oauth_source_config, sandbox_client_id, secret_variable
from hub.dev.sandbox._rest import OverlaidTable, OverlaidTenant, RecordApi, control_time, iso
from hub.dev.sandbox.population import (
    Group,
    GroupRole,
    GroupType,
    Role,
    SchoolLevel,
)
from hub.dev.sandbox.roster import Roster, roster
from hub.dev.sandbox.webserver import (
    Request,
    Response,
    json_response,
    offset_window,
    paging_headers,
)

__all__ = [
    "COMPETENCE_COURSES",
    "DIGITAL_SKILLS_SOURCE",
    "KINDS",
    "LMS_WORDS",
    "SCOPES",
    "LmsWords",
    "OneRosterApp",
    "OneRosterTenant",
    "client_credentials",
    "client_id",
    "oneroster_source_config",
    "secret_env",
    "secrets_env",
]

ROSTERING = "/ims/oneroster/rostering/v1p2"
GRADEBOOK = "/ims/oneroster/gradebook/v1p2"
#: OneRoster 1.1 serves both services below one path.
V1P1 = "/ims/oneroster/v1p1"
SCOPES = (
    "https://purl.imsglobal.org/spec/or/v1p2/scope/roster.readonly "
    "https://purl.imsglobal.org/spec/or/v1p2/scope/gradebook.readonly"
)
#: Collections by service, with the singular key of a single-record response.
KINDS: dict[str, tuple[str, str]] = {
    "orgs": (ROSTERING, "org"),
    "academicSessions": (ROSTERING, "academicSession"),
    "courses": (ROSTERING, "course"),
    "classes": (ROSTERING, "class"),
    "users": (ROSTERING, "user"),
    "enrollments": (ROSTERING, "enrollment"),
    "lineItems": (GRADEBOOK, "lineItem"),
    "results": (GRADEBOOK, "result"),
}
_KIND_CODES = {kind: 0x1000 + n for n, kind in enumerate(KINDS, 1)}
_REF_TYPES = {
    "orgs": "org",
    "academicSessions": "academicSession",
    "courses": "course",
    "classes": "class",
    "users": "user",
    "lineItems": "lineItem",
}
DIGITAL_SKILLS_SOURCE = "udir:grunnleggende-digitale-ferdigheter"
DIGITAL_SKILLS_AREAS = (
    "bruke-og-forsta",
    "finne-og-behandle",
    "produsere",
    "kommunisere-og-samhandle",
    "digital-dommekraft",
)


@dataclass(frozen=True)
class CompetenceCourse:
    """A staff competence-development course offered at every unit."""

    code: str
    title: str
    subject: str
    tags: tuple[str, ...]
    objectives: tuple[str, ...]
    #: Share of eligible staff enrolled (1.0: everyone, the mandatory e-learning).
    share: float
    #: Share of the enrolled who completed it; another 20 % are in progress.
    completed: float


COMPETENCE_COURSES: tuple[CompetenceCourse, ...] = (
    CompetenceCourse("KOMP-DIGDID", "Digital didaktikk i klasserommet", "Digital didaktikk",
                     ("competence-development", "digital-didactics"),
                     ("3.1", "3.2", "3.3", "3.4"), 0.45, 0.6),
    CompetenceCourse("KOMP-LMS", "Læringsplattformen i praksis", "Læringsplattform",
                     ("competence-development", "learning-platforms"),
                     ("2.1", "2.2", "2.3"), 0.35, 0.7),
    CompetenceCourse("KOMP-PROG", "Programmering og robotikk i undervisningen",
                     "Programmering og robotikk",
                     ("competence-development", "programming-robotics"), ("6.5",), 0.15, 0.5),
    CompetenceCourse("KOMP-INFOSEC", "Informasjonssikkerhet – e-læring for alle ansatte",
                     "Informasjonssikkerhet",
                     ("competence-development", "information-security", "e-learning", "mandatory"),
                     ("1.1", "6.4"), 1.0, 0.8),
)  # fmt: skip
DIGCOMPEDU_SOURCE = "DigCompEdu"


@dataclass(frozen=True)
class LmsWords:
    """What a tenant's learning platform calls things, in the owner's language."""

    school_year: str
    #: Autumn and spring term titles (`{year}`).
    terms: tuple[str, str]
    #: Homeroom course titles (`{label}`: `grade_label` of the grade).
    homeroom: str
    grade_label: Callable[[int], str]
    #: Subject names by a fragment of the subject code (`MAT` in `MAT0005`, `GRGRMAT01`).
    subjects: Mapping[str, str]
    #: (title, subject) of each competence course by code; missing: the course's own.
    competence: Mapping[str, tuple[str, str]]
    skills_title: str
    completion_title: str
    skills_source: str
    skills_areas: tuple[str, ...]
    #: Digital-skills objective ids: `<prefix><grade:02d>.<area>`.
    skills_prefix: str
    levels: Mapping[SchoolLevel, str]
    eppn_type: str
    nin_type: str
    guardian_names: tuple[str, ...]
    #: Username stem, family name, given names and e-mail domain of external instructors.
    instructor: tuple[str, str, tuple[str, str], str]

    def course(self, spec: CompetenceCourse) -> tuple[str, str]:
        """A competence course's title and subject."""
        return self.competence.get(spec.code, (spec.title, spec.subject))

    def subject(self, code: str) -> str:
        """The subject a subject code names."""
        return next((name for part, name in self.subjects.items() if part in code), code[:3])


LMS_WORDS: dict[str, LmsWords] = {
    "NO": LmsWords(
        school_year="Skoleåret {start}/{end:02d}",
        terms=("Høst {year}", "Vår {year}"),
        homeroom="Kontaktgruppe {label}",
        grade_label=lambda grade: f"{grade}. trinn",
        subjects={"MAT": "Matematikk", "NOR": "Norsk", "ENG": "Engelsk", "NAT": "Naturfag"},
        competence={},
        skills_title="Digitale ferdigheter – {title}",
        completion_title="Fullført: {title}",
        skills_source=DIGITAL_SKILLS_SOURCE,
        skills_areas=DIGITAL_SKILLS_AREAS,
        skills_prefix="trinn",
        levels={level: level.value for level in SchoolLevel},
        eppn_type="Feide",
        nin_type="NIN",
        guardian_names=("Anne", "Per", "Lise", "Geir", "Hilde", "Tor"),
        instructor=("kursholder", "Kursholder", ("Ola", "Kari"), "kompetanse.example"),
    ),
    "SE": LmsWords(
        school_year="Läsåret {start}/{end:02d}",
        terms=("Hösttermin {year}", "Vårtermin {year}"),
        homeroom="Mentorsgrupp {label}",
        grade_label=lambda grade: (
            "förskoleklass" if grade == 0 else f"åk {grade}" if grade < 10 else
            f"gymnasiet år {grade - 10}"
        ),
        subjects={"MAT": "Matematik", "SVE": "Svenska"},
        competence={
            "KOMP-DIGDID": ("Digital didaktik i klassrummet", "Digital didaktik"),
            "KOMP-LMS": ("Lärplattformen i praktiken", "Lärplattform"),
            "KOMP-PROG": ("Programmering och robotik i undervisningen",
                          "Programmering och robotik"),
            "KOMP-INFOSEC": ("Informationssäkerhet – e-utbildning för alla anställda",
                             "Informationssäkerhet"),
        },
        skills_title="Digital kompetens – {title}",
        completion_title="Genomförd: {title}",
        skills_source="skolverket:digital-kompetens",
        skills_areas=("digitaliseringens-paverkan", "digitala-verktyg-och-medier",
                      "kritiskt-och-ansvarsfullt", "losa-problem"),
        skills_prefix="ak",
        levels={SchoolLevel.PRESCHOOL: "förskola", SchoolLevel.PRIMARY: "grundskola",
                SchoolLevel.UPPER_SECONDARY: "gymnasieskola"},
        eppn_type="eduPersonPrincipalName",
        nin_type="personnummer",
        guardian_names=("Anna", "Per", "Lena", "Mats", "Eva", "Johan"),
        instructor=("kursledare", "Kursledare", ("Anders", "Karin"), "kompetens.example"),
    ),
    "DK": LmsWords(
        school_year="Skoleåret {start}/{end:02d}",
        terms=("Efterår {year}", "Forår {year}"),
        homeroom="Klasse {label}",
        grade_label=lambda grade: f"{grade}. klasse",
        subjects={"MAT": "Matematik", "DAN": "Dansk"},
        competence={
            "KOMP-DIGDID": ("Digital didaktik i undervisningen", "It-didaktik"),
            "KOMP-LMS": ("Læringsplatformen og digitale læremidler i praksis",
                         "Læringsplatform"),
            "KOMP-PROG": ("Programmering, robotter og 3D-print i undervisningen",
                          "Programmering og robotter"),
            "KOMP-INFOSEC": ("Informationssikkerhed – e-læring for alle offentligt ansatte",
                             "Informationssikkerhed"),
        },
        skills_title="Digitale kompetencer – {title}",
        completion_title="Gennemført: {title}",
        skills_source="emu:teknologiforstaaelse",
        skills_areas=("digital-myndiggoerelse", "digital-design", "computationel-tankegang",
                      "teknologisk-handleevne"),
        skills_prefix="klasse",
        levels={SchoolLevel.PRESCHOOL: "dagtilbud", SchoolLevel.PRIMARY: "folkeskole",
                SchoolLevel.UPPER_SECONDARY: "gymnasium"},
        eppn_type="UNI-Login",
        nin_type="CPR",
        guardian_names=("Anne", "Peter", "Mette", "Jens", "Lone", "Søren"),
        instructor=("kursusleder", "Kursusleder", ("Mads", "Hanne"), "kompetence.example"),
    ),
}  # fmt: skip

_ROLES: dict[Role, str] = {
    Role.PUPIL: "student",
    Role.TEACHER: "teacher",
    Role.PRESCHOOL_TEACHER: "teacher",
    Role.IT_PEDAGOGUE: "teacher",
    Role.ASSISTANT: "aide",
    Role.PRINCIPAL: "principal",
    Role.PRESCHOOL_HEAD: "principal",
    Role.ADMINISTRATION: "siteAdministrator",
}
_TEACHING_ROLES = frozenset(
    {Role.TEACHER, Role.PRESCHOOL_TEACHER, Role.IT_PEDAGOGUE, Role.PRINCIPAL, Role.PRESCHOOL_HEAD}
)
_FILTER = re.compile(r"^\s*(\w+)\s*(<=|>=|!=|=|<|>|~)\s*'([^']*)'\s*$")
_ENROLLMENT_ROLES = ("student", "teacher", "aide")


def _hash(*parts: object) -> int:
    return zlib.crc32("|".join(str(p) for p in parts).encode())


def _grade_code(grade: int) -> str:
    """A grade in OneRoster's vocabulary (CEDS): `KG` for the preschool class, else `01` on."""
    return "KG" if grade == 0 else f"{grade:02d}"


def _parse_time(text: str) -> float:
    return datetime.fromisoformat(text.strip().replace("Z", "+00:00")).timestamp()


# -- one collection ---------------------------------------------------------------------


class _Table(OverlaidTable):
    """One collection: base records rendered on demand, plus overlays of changes."""

    def __init__(self, kind: str, count: int, render: Callable[[int, str], dict[str, Any]]) -> None:
        super().__init__(kind, count)
        self._render = render
        #: Records announced as `status: tobedeleted`.
        self.deleting: set[int] = set()

    def record(self, index: int, base_url: str, sourced_id: str) -> dict[str, Any]:
        record = {
            "sourcedId": sourced_id,
            "status": "tobedeleted" if index in self.deleting else "active",
            "dateLastModified": iso(self.stamps[index]),
            **self._render(index, base_url),
        }
        record.update(self.changes.get(index, {}))
        return record


# -- one tenant -------------------------------------------------------------------------


class OneRosterTenant(OverlaidTenant):
    """One tenant's OneRoster data: compact rows, rendered records, and changes.

    `modify` and `vanish` take a collection (`kind`) and a sourcedId.
    """

    tables: dict[str, _Table]

    def __init__(self, owner: Roster, *, version: str = "1.2", gradebook: bool = True) -> None:
        super().__init__()
        #: "1.1": served below `/ims/oneroster/v1p1` with 1.1's user shape (`role`, `orgs`).
        self.version = version
        #: False: the gradebook collections answer 404 (a rostering-only provider).
        self.gradebook = gradebook
        self.owner = owner
        self.tenant = owner.tenant
        self.words = LMS_WORDS[owner.country]
        self._tag = f"{zlib.crc32(owner.tenant.encode()):08x}"
        self._listings: OrderedDict[tuple[str, str, int], Sequence[int]] = OrderedDict()
        self._build()

    # -- identifiers ----------------------------------------------------------------------

    def sourced_id(self, kind: str, index: int) -> str:
        """The sourcedId of record `index` of a collection (GUID-shaped, reversible)."""
        return f"{self._tag}-{_KIND_CODES[kind]:04x}-4000-8000-{index:012x}"

    def index_of(self, kind: str, sourced_id: str) -> int:
        """The record index a sourcedId names; KeyError if it is not one of this tenant's."""
        prefix = f"{self._tag}-{_KIND_CODES[kind]:04x}-4000-8000-"
        if not sourced_id.startswith(prefix):
            raise KeyError(sourced_id)
        index = int(sourced_id[len(prefix) :], 16)
        if index >= self.tables[kind].count:
            raise KeyError(sourced_id)
        return index

    def count(self, kind: str) -> int:
        """How many records a collection has, vanished ones left out."""
        table = self.tables[kind]
        return table.count - len(table.vanished)

    def record(self, kind: str, sourced_id: str, base_url: str = "") -> dict[str, Any]:
        """One record as the API renders it."""
        with self._lock:
            index = self.index_of(kind, sourced_id)
            return self.tables[kind].record(index, base_url, sourced_id)

    def user_index(self, username: str) -> int:
        """The index of the user with this directory username (a person from the population)."""
        for index, row in enumerate(self._people):
            if row[1] == username:
                return index
        raise KeyError(username)

    # -- changes ----------------------------------------------------------------------------

    def mark_tobedeleted(self, kind: str, sourced_id: str, *, at: datetime | None = None) -> str:
        """Set `status: tobedeleted` (the OneRoster way of announcing a delete)."""
        with self._lock:
            table = self.tables[kind]
            index = self.index_of(kind, sourced_id)
            table.deleting.add(index)
            return table.touch(index, at)

    # -- listing ----------------------------------------------------------------------------

    def listing(self, kind: str, filter_text: str | None) -> Sequence[int]:
        """The record indexes a collection request returns, in order; ValueError: bad filter."""
        table = self.tables[kind]
        if not filter_text and not table.vanished:
            return range(table.count)
        key = (kind, filter_text or "", table.version)
        with self._lock:
            cached = self._listings.get(key)
            if cached is not None:
                self._listings.move_to_end(key)
                return cached
            test = self._predicate(kind, filter_text) if filter_text else None
            found = [
                i
                for i in range(table.count)
                if i not in table.vanished and (test is None or test(i))
            ]
            self._listings[key] = found
            while len(self._listings) > 8:
                self._listings.popitem(last=False)
            return found

    def _predicate(self, kind: str, text: str) -> Callable[[int], bool]:
        """A filter (`field op 'value'`, joined by ` AND `) as a test of a record index."""
        table = self.tables[kind]
        tests: list[Callable[[int], bool]] = []
        for clause in text.split(" AND "):
            match = _FILTER.match(clause)
            if match is None:
                raise ValueError(f"cannot parse filter clause {clause.strip()!r}")
            name, op, value = match.groups()
            if name == "dateLastModified":
                try:
                    moment = _parse_time(value)
                except ValueError:
                    raise ValueError(f"{value!r} is not a date-time") from None
                tests.append(_compare(lambda i: table.stamps[i], op, moment))
            elif name == "status":
                tests.append(
                    _compare(
                        lambda i: "tobedeleted" if i in table.deleting else "active", op, value
                    )
                )
            elif name == "sourcedId":
                tests.append(_compare(lambda i: self.sourced_id(kind, i), op, value))
            else:
                raise ValueError(f"filtering on {name!r} is not supported by this provider")
        return lambda i: all(t(i) for t in tests)

    # -- building ---------------------------------------------------------------------------

    def _build(self) -> None:
        owner = self.owner
        self._school_year = (owner.valid_from, owner.valid_to)
        self._units = list(owner.units)
        unit_index = {u.org_number: n + 1 for n, u in enumerate(self._units)}
        self._build_courses()
        # classes: (title, code, homeroom?, course, org, grade, subject code)
        self._classes: list[tuple[str, str, bool, int, int, int | None, str]] = []
        group_class: dict[Group, int] = {}
        homerooms_of_unit: dict[int, list[int]] = {}
        for group in owner.groups:
            if group.type is GroupType.OTHER:
                continue
            org = unit_index[group.unit_org_number]
            unit = self._units[org - 1]
            homeroom = group.type is GroupType.BASE
            course = (
                self._homeroom_course[group.grade or 0]
                if homeroom
                else self._subject_course[(group.grep_code, group.grade)]
            )
            index = len(self._classes)
            self._classes.append(
                (
                    group.name,
                    f"{unit.acronym}-{group.local_id}",
                    homeroom,
                    course,
                    org,
                    group.grade,
                    group.grep_code,
                )
            )
            group_class[group] = index
            if homeroom:
                homerooms_of_unit.setdefault(org, []).append(index)
        self._competence_class: dict[tuple[int, int], int] = {}
        for c, spec in enumerate(COMPETENCE_COURSES):
            for org, unit in enumerate(self._units, 1):
                self._competence_class[(c, org)] = len(self._classes)
                self._classes.append(
                    (
                        f"{self.words.course(spec)[0]} – {unit.name}",
                        f"{spec.code}-{unit.acronym}",
                        False,
                        self._competence_course[c],
                        org,
                        None,
                        spec.code,
                    )
                )
        # line items: (class index, competence course index or -1)
        self._line_items: list[tuple[int, int]] = []
        item_of_class: dict[int, int] = {}
        for index, row in enumerate(self._classes):
            if row[2]:
                item_of_class[index] = len(self._line_items)
                self._line_items.append((index, -1))
        for (c, _org), index in self._competence_class.items():
            item_of_class[index] = len(self._line_items)
            self._line_items.append((index, c))

        # people, enrollments and results
        #: (seq, username, given, family, role, units, grade, variant, mail) per person
        self._people: list[
            tuple[int, str, str, str, Role, tuple[int, ...], int | None, int, str]
        ] = []
        self._nins: dict[int, str] = {}
        self._guardians: list[int] = []
        enr_user, enr_class, enr_role = array("i"), array("i"), array("b")
        enr_primary = array("b")
        res_item, res_user = array("i"), array("i")

        def enrol(user: int, klass: int, role: int, primary: bool) -> None:
            enr_user.append(user)
            enr_class.append(klass)
            enr_role.append(role)
            enr_primary.append(1 if primary else 0)

        it_pedagogues: dict[int, int] = {}
        for person in owner.people(include_children=False):
            user = len(self._people)
            units = tuple(unit_index[o] for o in person.unit_org_numbers if o in unit_index)
            variant = _hash(self.tenant, person.seq) % 100
            self._people.append(
                (
                    person.seq,
                    person.username,
                    person.given_name,
                    person.family_name,
                    person.role,
                    units,
                    person.grade,
                    variant,
                    person.mail,
                )
            )
            if variant % 10 == 7:
                self._nins[user] = person.nin
            if person.role is Role.PUPIL and 50 <= variant < 55:
                self._guardians.append(user)
            first = True
            for membership in person.memberships:
                klass = group_class.get(membership.group)
                if klass is None:
                    continue
                student = membership.role is GroupRole.STUDENT
                primary = self._classes[klass][2] if student else first
                enrol(user, klass, 0 if student else 1, primary)
                first = first and student
                if student and klass in item_of_class and self._classes[klass][2]:
                    res_item.append(item_of_class[klass])
                    res_user.append(user)
            if person.role is Role.PUPIL or not units:
                continue
            org = units[0]
            if person.role is Role.ASSISTANT and org in homerooms_of_unit:
                rooms = homerooms_of_unit[org]
                enrol(user, rooms[person.seq % len(rooms)], 2, True)
            if person.role is Role.IT_PEDAGOGUE:
                it_pedagogues.setdefault(org, user)
            for c, spec in enumerate(COMPETENCE_COURSES):
                eligible = spec.share >= 1.0 or person.role in _TEACHING_ROLES
                roll = _hash(self.tenant, person.seq, spec.code) % 1000
                if not eligible or roll >= spec.share * 1000:
                    continue
                klass = self._competence_class[(c, org)]
                enrol(user, klass, 0, False)
                if self._completion(klass, user, c) is not None:
                    res_item.append(item_of_class[klass])
                    res_user.append(user)
        for org, user in it_pedagogues.items():
            for c in range(len(COMPETENCE_COURSES)):
                enrol(user, self._competence_class[(c, org)], 1, False)
        n_people = len(self._people)
        self._instructors = 2 + owner.scale // 5_000
        first_instructor = n_people + len(self._guardians)
        for k in range(self._instructors):
            org = 1 + k % len(self._units)
            for c in (0, 2):
                enrol(first_instructor + k, self._competence_class[(c, org)], 1, False)
        self._enrollments = (enr_user, enr_class, enr_role, enr_primary)
        self._results = (res_item, res_user)
        self._first_guardian = n_people
        self._first_instructor = first_instructor
        users = first_instructor + self._instructors
        self.tables: dict[str, _Table] = {
            "orgs": _Table("orgs", 1 + len(self._units), self._render_org),
            "academicSessions": _Table("academicSessions", 3, self._render_session),
            "courses": _Table("courses", len(self._courses), self._render_course),
            "classes": _Table("classes", len(self._classes), self._render_class),
            "users": _Table("users", users, self._render_user),
            "enrollments": _Table("enrollments", len(enr_user), self._render_enrollment),
            "lineItems": _Table("lineItems", len(self._line_items), self._render_line_item),
            "results": _Table("results", len(res_item), self._render_result),
        }

    def _build_courses(self) -> None:
        words = self.words
        self._courses: list[dict[str, Any]] = []
        self._homeroom_course: dict[int, int] = {}
        self._subject_course: dict[tuple[str, int | None], int] = {}
        self._competence_course: list[int] = []
        grades = sorted({g.grade for g in self.owner.groups if g.grade is not None})
        for grade in grades:
            self._homeroom_course[grade] = len(self._courses)
            self._courses.append(
                {
                    "title": words.homeroom.format(label=words.grade_label(grade)),
                    "courseCode": f"KONTAKT{grade:02d}",
                    "grades": [_grade_code(grade)],
                    "subjects": [],
                    "subjectCodes": [],
                }
            )
        codes = sorted({(g.grep_code, g.grade) for g in self.owner.groups if g.grep_code})
        for code, level in codes:
            self._subject_course[(code, level)] = len(self._courses)
            subject = words.subject(code)
            label = "" if level is None else f" {words.grade_label(level)}"
            self._courses.append(
                {
                    "title": f"{subject}{label}",
                    "courseCode": code,
                    "grades": [_grade_code(level)] if level is not None else [],
                    "subjects": [subject],
                    "subjectCodes": [code],
                }
            )
        for course in COMPETENCE_COURSES:
            title, subject = words.course(course)
            self._competence_course.append(len(self._courses))
            self._courses.append(
                {
                    "title": title,
                    "courseCode": course.code,
                    "grades": [],
                    "subjects": [subject],
                    "subjectCodes": [course.code],
                    "metadata": {
                        "tags": list(course.tags),
                        "audience": "staff",
                        "digCompEdu": list(course.objectives),
                    },
                }
            )

    def _completion(self, klass: int, user: int, course: int) -> str | None:
        """`completed`, `in progress`, or None (not started) for a staff competence result."""
        roll = _hash(self.tenant, "completion", klass, user) % 1000
        share = COMPETENCE_COURSES[course].completed
        if roll < share * 1000:
            return "completed"
        if roll < (share + 0.2) * 1000:
            return "in progress"
        return None

    # -- rendering ----------------------------------------------------------------------

    def _ref(self, kind: str, index: int, base_url: str) -> dict[str, str]:
        sourced_id = self.sourced_id(kind, index)
        service = KINDS[kind][0] if self.version == "1.2" else V1P1
        return {
            "href": f"{base_url}{service}/{kind}/{sourced_id}",
            "sourcedId": sourced_id,
            "type": _REF_TYPES[kind],
        }

    def _render_org(self, index: int, base: str) -> dict[str, Any]:
        owner = self.owner
        if index == 0:
            return {
                "name": owner.name,
                "type": "district",
                "identifier": owner.org_number,
                "parent": None,
                "children": [self._ref("orgs", n, base) for n in range(1, len(self._units) + 1)],
            }
        unit = self._units[index - 1]
        return {
            "name": unit.name,
            "type": "school",
            "identifier": unit.org_number,
            "parent": self._ref("orgs", 0, base),
            "children": [],
            "metadata": {"level": self.words.levels[unit.level]},
        }

    def _render_session(self, index: int, base: str) -> dict[str, Any]:
        start, end = self._school_year
        year = self._ref("academicSessions", 0, base)
        if index == 0:
            return {
                "title": self.words.school_year.format(start=start.year, end=end.year % 100),
                "type": "schoolYear",
                "startDate": start.isoformat(),
                "endDate": end.isoformat(),
                "parent": None,
                "schoolYear": str(end.year),
            }
        autumn = index == 1
        term_start = start if autumn else date(end.year, 1, 1)
        term_end = date(start.year, 12, 31) if autumn else end
        return {
            "title": self.words.terms[0 if autumn else 1].format(year=term_start.year),
            "type": "term",
            "startDate": term_start.isoformat(),
            "endDate": term_end.isoformat(),
            "parent": year,
            "schoolYear": str(end.year),
        }

    def _render_course(self, index: int, base: str) -> dict[str, Any]:
        return {
            **self._courses[index],
            "schoolYear": self._ref("academicSessions", 0, base),
            "org": self._ref("orgs", 0, base),
        }

    def _render_class(self, index: int, base: str) -> dict[str, Any]:
        title, code, homeroom, course, org, grade, subject_code = self._classes[index]
        return {
            "title": title,
            "classCode": code,
            "classType": "homeroom" if homeroom else "scheduled",
            "location": self._units[org - 1].name,
            "grades": [_grade_code(grade)] if grade is not None else [],
            "subjectCodes": [subject_code] if subject_code else [],
            "course": self._ref("courses", course, base),
            "school": self._ref("orgs", org, base),
            "terms": [self._ref("academicSessions", 0, base)],
        }

    def _render_user(self, index: int, base: str) -> dict[str, Any]:
        words = self.words
        if index >= self._first_instructor:
            k = index - self._first_instructor
            stem, surname, names, domain = words.instructor
            return self._user_record(
                username=f"{stem}{k + 1}",
                given=names[k % 2],
                family=f"{surname} {k + 1}",
                role="teacher",
                orgs=(0,),
                grade=None,
                user_ids=[{"type": "LMS", "identifier": f"ext{k + 1}"}],
                email=f"{stem}{k + 1}@{domain}",
                base=base,
            )
        if index >= self._first_guardian:
            pupil = self._people[self._guardians[index - self._first_guardian]]
            seq, _username, _given, family = pupil[0], pupil[1], pupil[2], pupil[3]
            given = words.guardian_names[seq % len(words.guardian_names)]
            return self._user_record(
                username=None,
                given=given,
                family=family,
                role="guardian",
                orgs=(pupil[5][:1]),
                grade=None,
                user_ids=[{"type": "LMS", "identifier": f"f{seq}"}],
                email=None,
                base=base,
                agents=[self._ref("users", self._guardians[index - self._first_guardian], base)],
            )
        seq, username, given, family, role, units, grade, variant, mail = self._people[index]
        eppn = f"{username}@{self.owner.realm}"
        lms_username = username
        user_ids: list[dict[str, str]] = []
        if variant < 2:  # another username here, and no eduPerson identifier
            lms_username = f"{given}.{family.split()[-1]}".lower().replace(" ", "")
        elif variant == 3:
            user_ids.append({"type": words.eppn_type, "identifier": eppn.upper()})
        else:
            user_ids.append({"type": words.eppn_type, "identifier": eppn})
        user_ids.append({"type": "LMS", "identifier": f"lms{seq}"})
        if index in self._nins:
            user_ids.append({"type": words.nin_type, "identifier": self._nins[index]})
        return self._user_record(
            username=lms_username,
            given=given,
            family=family,
            role=_ROLES.get(role, "teacher"),
            orgs=units,
            grade=grade,
            user_ids=user_ids,
            email=None if variant == 2 else mail,
            base=base,
        )

    def _user_record(
        self,
        *,
        username: str | None,
        given: str,
        family: str,
        role: str,
        orgs: Sequence[int],
        grade: int | None,
        user_ids: list[dict[str, str]],
        email: str | None,
        base: str,
        agents: list[dict[str, str]] | None = None,
    ) -> dict[str, Any]:
        roles = [
            {
                "roleType": "primary" if n == 0 else "secondary",
                "role": role,
                "org": self._ref("orgs", org, base),
            }
            for n, org in enumerate(orgs)
        ]
        if self.version == "1.1":
            shape: dict[str, Any] = {"role": role, "orgs": [r["org"] for r in roles]}
        else:
            shape = {"roles": roles, "primaryOrg": roles[0]["org"] if roles else None}
        return {
            "enabledUser": True,
            "username": username,
            "userIds": user_ids,
            "givenName": given,
            "familyName": family,
            **shape,
            "email": email,
            "grades": [_grade_code(grade)] if grade is not None else [],
            "agents": agents or [],
        }

    def _render_enrollment(self, index: int, base: str) -> dict[str, Any]:
        users, classes, roles, primaries = self._enrollments
        klass = classes[index]
        start, end = self._school_year
        return {
            "user": self._ref("users", users[index], base),
            "class": self._ref("classes", klass, base),
            "school": self._ref("orgs", self._classes[klass][4], base),
            "role": _ENROLLMENT_ROLES[roles[index]],
            "primary": bool(primaries[index]),
            "beginDate": start.isoformat(),
            "endDate": end.isoformat(),
        }

    def _render_line_item(self, index: int, base: str) -> dict[str, Any]:
        klass, course = self._line_items[index]
        title, _code, _homeroom, _course, org, grade, _subject = self._classes[klass]
        start, end = self._school_year
        words = self.words
        if course < 0:
            objectives = {
                "source": words.skills_source,
                "learningObjectiveIds": [self._objective(grade, a) for a in words.skills_areas],
            }
            item_title, low, high = words.skills_title.format(title=title), 0.0, 100.0
        else:
            spec = COMPETENCE_COURSES[course]
            objectives = {
                "source": DIGCOMPEDU_SOURCE,
                "learningObjectiveIds": list(spec.objectives),
            }
            course_title = words.course(spec)[0]
            item_title, low, high = words.completion_title.format(title=course_title), 0.0, 1.0
        return {
            "title": item_title,
            "description": None,
            "assignDate": f"{start.isoformat()}T08:00:00.000Z",
            "dueDate": f"{end.isoformat()}T16:00:00.000Z",
            "class": self._ref("classes", klass, base),
            "school": self._ref("orgs", org, base),
            "resultValueMin": low,
            "resultValueMax": high,
            "learningObjectiveSet": [objectives],
        }

    def _objective(self, grade: int | None, area: str) -> str:
        """A digital-skills learning objective id: `trinn05.produsere`, `ak07.losa-problem`."""
        return f"{self.words.skills_prefix}{grade or 0:02d}.{area}"

    def _render_result(self, index: int, base: str) -> dict[str, Any]:
        items, users = self._results
        item, user = items[index], users[index]
        klass, course = self._line_items[item]
        record: dict[str, Any] = {
            "lineItem": self._ref("lineItems", item, base),
            "student": self._ref("users", user, base),
            "class": self._ref("classes", klass, base),
            "scoreDate": f"{self._school_year[0].year + 1}-03-15",
            "comment": None,
        }
        if course < 0:
            grade = self._classes[klass][5]
            if _hash(self.tenant, "skills", index) % 10 == 0:
                return {**record, "scoreStatus": "not submitted", "score": None}
            areas = self.words.skills_areas
            levels = [1 + _hash(self.tenant, index, a) % 4 for a in areas]
            return {
                **record,
                "scoreStatus": "fully graded",
                "score": round(sum(levels) / len(levels) * 25, 1),
                "learningObjectiveSet": [
                    {
                        "source": self.words.skills_source,
                        "learningObjectiveResults": [
                            {"learningObjectiveId": self._objective(grade, a), "score": float(n)}
                            for a, n in zip(areas, levels, strict=True)
                        ],
                    }
                ],
            }
        if self._completion(klass, user, course) == "completed":
            objectives = COMPETENCE_COURSES[course].objectives
            return {
                **record,
                "scoreStatus": "fully graded",
                "score": 1.0,
                "textScore": "completed",
                "learningObjectiveSet": [
                    {
                        "source": DIGCOMPEDU_SOURCE,
                        "learningObjectiveResults": [
                            {"learningObjectiveId": o, "score": 1.0} for o in objectives
                        ],
                    }
                ],
            }
        return {**record, "scoreStatus": "submitted", "score": None, "textScore": "in progress"}


def _compare(value: Callable[[int], Any], op: str, target: Any) -> Callable[[int], bool]:
    if op == "~":
        return lambda i: str(target).lower() in str(value(i)).lower()
    operations: dict[str, Callable[[Any, Any], bool]] = {
        "=": lambda a, b: a == b,
        "!=": lambda a, b: a != b,
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
    }
    compare = operations[op]
    return lambda i: compare(value(i), target)


# -- the app ----------------------------------------------------------------------------


#: The status-info minor code of each error status the app answers.
_MINOR_CODES = {
    400: "invalid_filter_field",
    401: "unauthorisedrequest",
    404: "unknownobject",
    405: "unsupported_method",
}


def _imsx(status: int, minor: str, description: str) -> Response:
    """A OneRoster status-info error body."""
    body = {
        "imsx_codeMajor": "failure",
        "imsx_severity": "error",
        "imsx_description": description,
        "imsx_CodeMinor": {
            "imsx_codeMinorField": [
                {"imsx_codeMinorFieldName": "TargetEndSystem", "imsx_codeMinorFieldValue": minor}
            ]
        },
    }
    return json_response(body, status)


class OneRosterApp(RecordApi[OneRosterTenant]):
    """The OneRoster 1.2 provider of every sandbox tenant, mounted as vendor `oneroster`."""

    realm = "oneroster"
    default_scope = SCOPES

    @classmethod
    def generate(
        cls,
        tenants: Sequence[str],
        scale: int,
        seed: int = 1,
        *,
        clients: Mapping[str, tuple[str, str]],
        token_ttl: float = 3600.0,
        v1p1_tenants: Collection[str] = (),
    ) -> OneRosterApp:
        """The app for tenants generated at `scale` people each (Norwegian or Swedish).

        Tenants in `v1p1_tenants` are served as OneRoster 1.1 providers without the
        gradebook service, as Norwegian FINT providers are.
        """
        data = {
            t: OneRosterTenant(
                roster(t, scale, seed),
                version="1.1" if t in v1p1_tenants else "1.2",
                gradebook=t not in v1p1_tenants,
            )
            for t in tenants
        }
        return cls(data, clients=clients, token_ttl=token_ttl)

    # -- requests ---------------------------------------------------------------------------

    def endpoint(self, request: Request) -> Callable[[OneRosterTenant], Response] | None:
        """A rostering or gradebook collection, or one record of it (1.2 or 1.1 paths)."""
        version = "1.1" if f"{V1P1}/" in request.path else "1.2"
        if version == "1.1":
            rest = request.path.rpartition(f"{V1P1}/")[2]
        else:
            service, _, rest = request.path.rpartition("/v1p2/")
        parts = rest.split("/")
        kind = parts[0]
        if kind not in KINDS or len(parts) > 2:
            return None
        if version == "1.2" and KINDS[kind][0] != service + "/v1p2":
            return None

        def answer(tenant: OneRosterTenant) -> Response:
            if tenant.version != version or (not tenant.gradebook and KINDS[kind][0] == GRADEBOOK):
                return self.error(404, f"no such service: {request.path}")
            if len(parts) == 2:
                return self._one(request, tenant, kind, parts[1])
            return self._collection(request, tenant, kind)

        return answer

    def error(self, status: int, message: str) -> Response:
        """A OneRoster status-info error with the minor code of its status."""
        return _imsx(status, _MINOR_CODES[status], message)

    def _one(
        self, request: Request, tenant: OneRosterTenant, kind: str, sourced_id: str
    ) -> Response:
        try:
            record = tenant.record(kind, sourced_id, request.base_url)
        except KeyError:
            return self.error(404, f"no {KINDS[kind][1]} {sourced_id}")
        if tenant.tables[kind].vanished and tenant.index_of(kind, sourced_id) in (
            tenant.tables[kind].vanished
        ):
            return self.error(404, f"no {KINDS[kind][1]} {sourced_id}")
        return json_response({KINDS[kind][1]: record})

    def _collection(self, request: Request, tenant: OneRosterTenant, kind: str) -> Response:
        try:
            offset, limit = offset_window(request, max_limit=self.max_limit)
            indexes = tenant.listing(kind, request.query.get("filter"))
        except ValueError as exc:
            return self.error(400, str(exc))
        window = indexes[offset : offset + limit]
        table = tenant.tables[kind]
        records = [table.record(i, request.base_url, tenant.sourced_id(kind, i)) for i in window]
        headers = paging_headers(request, offset, limit, len(indexes))
        return json_response({kind: records}, headers=headers)

    # -- control ----------------------------------------------------------------------------

    def change(self, target: OneRosterTenant, action: str, data: Mapping[str, Any]) -> Any:
        """Apply `modify`, `tobedeleted` or `vanish` to the record `kind` and `sourcedId` name."""
        kind, sourced_id = data["kind"], data["sourcedId"]
        at = control_time(data)
        if action == "modify":
            return {"dateLastModified": target.modify(kind, sourced_id, data.get("changes"), at=at)}
        if action == "tobedeleted":
            return {"dateLastModified": target.mark_tobedeleted(kind, sourced_id, at=at)}
        if action == "vanish":
            target.vanish(kind, sourced_id)
            return {"vanished": sourced_id}
        raise ValueError(f"unknown action {action!r}")


# -- wiring for `hub sandbox up` --------------------------------------------------------


def client_id(tenant: str) -> str:
    """The sandbox OAuth client id of a tenant's API."""
    return sandbox_client_id(tenant)


def secret_env(tenant: str) -> str:
    """The environment variable that holds a tenant's OneRoster client secret."""
    return secret_variable("ONEROSTER", tenant)


def client_credentials(home: Path, tenants: Sequence[str]) -> dict[str, tuple[str, str]]:
    """Each tenant's (client id, client secret), generated once and kept in `home` (0600)."""
    path = home / "oneroster-clients.json"
    known: dict[str, str] = {}
    if path.exists():
        known = json.loads(path.read_text())
    missing = [t for t in tenants if t not in known]
    if missing:
        known.update({t: secrets.token_urlsafe(24) for t in missing})
        home.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as stream:
            json.dump(known, stream, indent=2)
    return {t: (client_id(t), known[t]) for t in tenants}


def secrets_env(home: Path, tenants: Sequence[str]) -> dict[str, str]:
    """`secrets.env` lines for the tenants' OneRoster clients: variable name → secret."""
    return {secret_env(t): secret for t, (_, secret) in client_credentials(home, tenants).items()}


def oneroster_source_config(
    tenant: str,
    base_url: str,
    *,
    source_id: str = "oneroster",
    page_size: int = 500,
    version: str = "1.2",
) -> dict[str, Any]:
    """A hub.yaml source entry for a tenant's sandbox OneRoster API at `base_url`.

    A 1.1 provider (`version="1.1"`) is read with the 1.1 paths; the entry keeps
    `gradebook` on, so the connector finds out by itself that the service is missing.
    """
    entry = oauth_source_config(
        "oneroster",
        tenant,
        base_url,
        source_id=source_id,
        secret_env=secret_env(tenant),
        page_size=page_size,
        scope=SCOPES,
    )
    if version != "1.2":
        entry["version"] = version
    return entry
