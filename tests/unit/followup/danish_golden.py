"""The Danish golden tenant: a small kommune built by hand for the Danish follow-up.

Havby Kommune has two schools in OS2skoledata (`os2skoledata/stil`): Havby Skole with
four lærere (l1-l4), three pædagoger (p1-p3) and a ledelse of three (d1-d3), and Bakke
Skole with three lærere (m1-m3) and a leder (e1): 14 staff. The LMS (`oneroster/lms`)
offers three competence programmes: the information-security e-learning module, robots
and 3D printing, and digital dannelse. The policy follows the Danish strategy's six areas
(three without a programme yet), requires the module of every lærer, pædagog and leder
within 12 months, and names a baseline (15 January 2026) and one follow-up measurement
(15 April 2026). Every figure the tests expect is worked out in `test_danish_golden.py`
from the completion dates below.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from hub.settings import TenantSettings, parse_settings
from schemas.entities import (
    Entity,
    Organisation,
    OrganisationKind,
    Person,
    Role,
    SchoolType,
    SourceRef,
)
from schemas.lms import Class, ClassType, Course, Enrollment, EnrollmentRole, Result, ScoreStatus
from tests.unit.followup.golden import LMS

TENANT = "havby"
AS_OF = date(2026, 6, 15)
BASELINE = date(2026, 1, 15)
MEASUREMENT = date(2026, 4, 15)

STIL = SourceRef(system="os2skoledata", instance="stil")

POLICY: dict[str, Any] = {
    "min_cell_size": 3,
    "competence_areas": {
        "digital_didactics": {"course_tags": ["it-didaktik"]},
        "learning_platforms": {"course_tags": ["laeringsplatform"]},
        "programming": {"course_tags": ["programmering"]},
        "robots_3d_printing": {"course_tags": ["robotter-og-3d-print"]},
        "digital_citizenship": {"course_tags": ["digital-dannelse"]},
        "information_security": {"course_tags": ["informationssikkerhed"]},
    },
    "competence_requirements": [
        {
            "area": "information_security",
            "roles": ["teacher", "preschool_teacher", "school_leader"],
            "within_months": 12,
        }
    ],
    "baseline": BASELINE.isoformat(),
    "measurements": [MEASUREMENT.isoformat()],
}

#: Each staff member: (key, role, unit).
STAFF: tuple[tuple[str, Role, str], ...] = (
    *((f"l{n}", Role.TEACHER, "s1") for n in range(1, 5)),
    *((f"p{n}", Role.PRESCHOOL_TEACHER, "s1") for n in range(1, 4)),
    *((f"d{n}", Role.SCHOOL_LEADER, "s1") for n in range(1, 4)),
    *((f"m{n}", Role.TEACHER, "s2") for n in range(1, 4)),
    ("e1", Role.SCHOOL_LEADER, "s2"),
)

#: Completion dates per programme: (course key, tag) → person → the day it was fully graded.
COMPLETIONS: dict[tuple[str, str], dict[str, date]] = {
    ("crs-is", "informationssikkerhed"): {
        "l1": date(2025, 11, 1),
        "l2": date(2026, 2, 1),
        "l3": date(2026, 5, 1),
        "p1": date(2026, 3, 1),
        "p2": date(2025, 3, 1),  # completed, but more than 12 months before AS_OF
        "d1": date(2025, 12, 1),
        "d2": date(2026, 6, 1),
        "d3": date(2026, 6, 1),
        "m1": date(2026, 1, 10),
        "e1": date(2026, 2, 1),
    },
    ("crs-rb", "robotter-og-3d-print"): {
        "l1": date(2026, 3, 1),
        "l2": date(2026, 5, 1),
        "p1": date(2026, 2, 1),
        "m2": date(2026, 3, 1),
    },
    ("crs-dd", "digital-dannelse"): {
        "p2": date(2026, 4, 1),
        "p3": date(2026, 4, 10),
        "d1": date(2026, 1, 5),
    },
}


def tenant_settings(**policy: Any) -> TenantSettings:
    """The Danish golden tenant's settings (country DK), with policy overrides."""
    data = {
        "tenants": [
            {"id": TENANT, "name": "Havby", "country": "DK", "policy": {**POLICY, **policy}}
        ]
    }
    return parse_settings(data).tenant(TENANT)


def entities() -> list[Entity]:
    """The directory, the LMS people, programmes, classes, enrolments and completions."""
    found: list[Entity] = [
        Organisation(tenant=TENANT, source=STIL, key="havby", kind=OrganisationKind.OWNER,
                     name="Havby Kommune"),
        *(
            Organisation(tenant=TENANT, source=STIL, key=key, kind=OrganisationKind.SCHOOL_UNIT,
                         name=name, parent_key="havby",
                         school_types=(SchoolType.PRESCHOOL_CLASS, SchoolType.COMPULSORY))
            for key, name in (("s1", "Havby Skole"), ("s2", "Bakke Skole"))
        ),
    ]  # fmt: skip
    for key, role, unit in STAFF:
        found.append(
            Person(tenant=TENANT, source=STIL, key=key, roles=(role,), unit_keys=(unit,),
                   primary_unit_key=unit, username=key)
        )  # fmt: skip
        found.append(Person(tenant=TENANT, source=LMS, key=f"lms-{key}", roles=(role,),
                            username=key))  # fmt: skip
    for (course, tag), done in COMPLETIONS.items():
        found.append(Course(tenant=TENANT, source=LMS, key=course, title=tag, tags=(tag,)))
        klass = f"cls-{course}"
        found.append(Class(tenant=TENANT, source=LMS, key=klass, title=klass,
                           class_type=ClassType.SCHEDULED, course_key=course,
                           school_key="lms-havby"))  # fmt: skip
        for key, _role, _unit in STAFF:
            found.append(
                Enrollment(tenant=TENANT, source=LMS, key=f"enr-{klass}-{key}",
                           person_key=f"lms-{key}", class_key=klass,
                           role=EnrollmentRole.STUDENT, begin_date=date(2025, 1, 1))
            )  # fmt: skip
        for key, on in done.items():
            found.append(
                Result(tenant=TENANT, source=LMS, key=f"res-{klass}-{key}",
                       line_item_key=f"li-{klass}", person_key=f"lms-{key}", class_key=klass,
                       score_status=ScoreStatus.FULLY_GRADED, score=1.0, score_date=on,
                       score_min=0.0, score_max=1.0)
            )  # fmt: skip
    return found
