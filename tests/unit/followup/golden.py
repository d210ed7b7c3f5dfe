"""The golden tenant: a small Swedish school owner built by hand, entity by entity.

Guldby kommun has two preschools (Solbackens förskola: 12 children placed, 2 shared
tablets, two preschool teachers; Lundens förskola: one child, who moved there from
Solbackens in April) and two schools: Ekskolan (F-class to grade 3, nine pupils, eight
iPads: one pupil short; three teachers and a head) and Björkskolan (four grade-1 pupils
with Chromebooks; d1 also has an iPad, d4's Chromebook has not checked in since April).
The directory is SS 12000 (`ss12000/sis`); the LMS is OneRoster (`oneroster/lms`); the
MDMs are Jamf, Intune and Google. Every figure the tests expect is derived in the
comments next to the data.

Some entities are there to catch a way of counting someone twice (issue 13): c14, the
child who changed preschool; lms-b1's enrolment that ended in January; d1's second
device beside d4 who has no working one; b1's iPad, noncompliant in Intune at 08:00 and
checked in to Jamf at 20:00 the same day; lms-sub, whose second external id names p2
while its username names t3.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from connectors.privacy import national_id_hmac
from hub.materialise import report_entities, report_history
from hub.settings import TenantSettings, parse_settings
from hub.store import metadata, now
from schemas.entities import (
    Entity,
    Organisation,
    OrganisationKind,
    Person,
    Role,
    SchoolType,
    SourceRef,
)
from schemas.equipment import (
    EquipmentItem,
    EquipmentKind,
    EquipmentStatus,
    SupportTicket,
    TicketStatus,
)
from schemas.licences import LicenceAssignment, LicencePool, ProductKind
from schemas.lms import Class, ClassType, Course, Enrollment, EnrollmentRole, Result, ScoreStatus
from schemas.mdm import (
    AssignedUserId,
    Compliance,
    Device,
    DeviceKind,
    ManagementState,
    Ownership,
    PurchasedDevice,
    UnitHints,
    UserIdKind,
)
from schemas.ss12000 import Placement, PlacementSchoolType

TENANT = "guldby"
AS_OF = date(2026, 6, 15)
#: A Swedish test-series personnummer; only its keyed HMAC is ever in an entity.
NIN = "199901019802"
NIN_HMAC = national_id_hmac(b"test-hmac-key-0123456789abcdef", "SE", NIN)

SIS = SourceRef(system="ss12000", instance="sis")
LMS = SourceRef(system="oneroster", instance="lms")
JAMF = SourceRef(system="jamf_pro", instance="jamf")
INTUNE = SourceRef(system="intune", instance="intune")
GOOGLE = SourceRef(system="google_chromeos", instance="chromebooks")
TOPDESK = SourceRef(system="topdesk", instance="topdesk_assets")
SNIPEIT = SourceRef(system="snipeit", instance="snipeit")
HELPDESK = SourceRef(system="topdesk", instance="topdesk_incidents")
ASM = SourceRef(system="apple_school_manager", instance="asm")

POLICY: dict[str, Any] = {
    "min_cell_size": 3,
    "competence_areas": {
        "information_security": {"course_tags": ["information-security"]},
        "digital_didactics": {"course_tags": ["digital_didactics"]},
    },
    "digital_skills": [{"grade": 3, "objective": "ak3.programmering", "meets_at": 0.6}],
}


def tenant_settings(**policy: Any) -> TenantSettings:
    """The golden tenant's settings, with policy overrides."""
    data = {"tenants": [{"id": TENANT, "name": "Guldby", "policy": {**POLICY, **policy}}]}
    return parse_settings(data).tenant(TENANT)


def _org(
    key: str, kind: OrganisationKind, name: str, code: str | None, *types: SchoolType
) -> Organisation:
    return Organisation(
        tenant=TENANT,
        source=SIS,
        key=key,
        kind=kind,
        name=name,
        school_unit_code=code,
        parent_key=None if kind is OrganisationKind.OWNER else "guldby-kommun",
        school_types=types,
    )


def _person(key: str, role: Role, unit: str, grade: int | None = None, **extra: Any) -> Person:
    return Person(
        tenant=TENANT,
        source=SIS,
        key=key,
        roles=(role,),
        unit_keys=(unit,),
        primary_unit_key=unit,
        grade=grade,
        **extra,
    )


def _pupil(key: str, unit: str, grade: int, **extra: Any) -> Person:
    return _person(key, Role.PUPIL, unit, grade, eppn=f"{key}@guldby.se", username=key, **extra)


def _staff(key: str, role: Role, unit: str, **extra: Any) -> Person:
    return _person(key, role, unit, eppn=f"{key}@guldby.se", username=key, **extra)


def directory() -> list[Entity]:
    """The SS 12000 directory: owner, three units, children, pupils and staff, placements."""
    entities: list[Entity] = [
        _org("guldby-kommun", OrganisationKind.OWNER, "Guldby kommun", None),
        _org("sol", OrganisationKind.PRESCHOOL_UNIT, "Solbackens förskola", "10000001",
             SchoolType.PRESCHOOL),
        _org("ek", OrganisationKind.SCHOOL_UNIT, "Ekskolan", "10000002",
             SchoolType.PRESCHOOL_CLASS, SchoolType.COMPULSORY),
        _org("bj", OrganisationKind.SCHOOL_UNIT, "Björkskolan", "10000003",
             SchoolType.COMPULSORY),
        _org("lun", OrganisationKind.PRESCHOOL_UNIT, "Lundens förskola", "10000004",
             SchoolType.PRESCHOOL),
    ]  # fmt: skip
    # Children: c01-c11 are persons with placements; c12 is only a placement; c13's
    # placement ended before AS_OF. Children at Solbackens: 12.
    for n in range(1, 12):
        entities.append(_person(f"c{n:02d}", Role.CHILD, "sol"))
    for n in range(1, 14):
        entities.append(
            Placement(
                tenant=TENANT,
                source=SIS,
                key=f"pl-c{n:02d}",
                person_key=f"c{n:02d}",
                unit_key="sol",
                school_type=PlacementSchoolType.PRESCHOOL,
                start_date=date(2025, 8, 15),
                end_date=date(2026, 5, 31) if n == 13 else None,
            )
        )
    # c14 moved from Solbackens to Lundens on 2026-04-01. The register still names
    # Solbackens as the person's unit; only the placements are dated. On AS_OF c14 is
    # one child, at Lundens: Solbackens keeps 12 (c01-c12), Lundens has 1, the tenant 13.
    entities.append(_person("c14", Role.CHILD, "sol"))
    for key, unit, start, end in (
        ("pl-c14-sol", "sol", date(2025, 8, 15), date(2026, 3, 31)),
        ("pl-c14-lun", "lun", date(2026, 4, 1), None),
    ):
        entities.append(
            Placement(tenant=TENANT, source=SIS, key=key, person_key="c14", unit_key=unit,
                      school_type=PlacementSchoolType.PRESCHOOL, start_date=start,
                      end_date=end)
        )  # fmt: skip
    # Ekskolan: two pupils each in F-class (0), grades 1 and 2, three in grade 3: 9.
    for key, grade in (("f1", 0), ("f2", 0), ("a1", 1), ("a2", 1), ("b1", 2), ("b2", 2)):
        entities.append(_pupil(key, "ek", grade))
    entities.append(_pupil("g1", "ek", 3, nin_hmac=NIN_HMAC))
    entities.append(_pupil("g2", "ek", 3))
    entities.append(_pupil("g3", "ek", 3))
    # Björkskolan: four grade-1 pupils.
    for n in range(1, 5):
        entities.append(_pupil(f"d{n}", "bj", 1))
    # Staff: three teachers and the head at Ekskolan, two preschool teachers at Solbackens.
    entities += [
        _staff("t1", Role.TEACHER, "ek", email="t1.larare@guldby.se"),
        _staff("t2", Role.TEACHER, "ek", email="t2.larare@guldby.se"),
        _staff("t3", Role.TEACHER, "ek", email="t3.larare@guldby.se"),
        _staff("r1", Role.SCHOOL_LEADER, "ek", email="r1.rektor@guldby.se"),
        _staff("p1", Role.PRESCHOOL_TEACHER, "sol", external_ids=("sis-id:P1-777",)),
        _staff("p2", Role.PRESCHOOL_TEACHER, "sol", external_ids=("sis-id:P2-888",)),
    ]
    return entities


def _lms_person(key: str, role: Role, **ids: Any) -> Person:
    return Person(tenant=TENANT, source=LMS, key=key, roles=(role,), **ids)


def lms() -> list[Entity]:
    """The LMS: its people (matched or not), schools, courses, classes, enrollments, results."""
    people = [
        _lms_person("lms-t1", Role.TEACHER, eppn="t1@guldby.se"),  # eppn
        _lms_person("lms-t2", Role.TEACHER, username="T2"),  # username, any case
        _lms_person("lms-t3", Role.TEACHER, email="t3.larare@guldby.se"),  # email
        _lms_person("lms-r1", Role.SCHOOL_LEADER, email="r1@guldby.se"),  # email → eppn
        _lms_person("lms-p1", Role.PRESCHOOL_TEACHER, external_ids=("sis-id:P1-777",)),
        _lms_person("lms-p2", Role.PRESCHOOL_TEACHER, eppn="p2@guldby.se"),
        _lms_person("lms-g1", Role.PUPIL, eppn="g1@guldby.se", nin_hmac=NIN_HMAC),
        _lms_person("lms-g2", Role.PUPIL, eppn="g2@guldby.se"),
        _lms_person("lms-g3", Role.PUPIL, eppn="g3@guldby.se"),
        # b1 took part in cls-3a until January (their enrolment ended 2026-01-31).
        _lms_person("lms-b1", Role.PUPIL, eppn="b1@guldby.se"),
        # A second account of p2's: its ids are tried in the rule order (eppn, then
        # external_id, then username): the external_id rule finds p2 by its second id
        # before the username rule would find t3 (whose username it carries by mistake).
        _lms_person(
            "lms-sub",
            Role.PRESCHOOL_TEACHER,
            username="t3",
            external_ids=("lms-id:9911", "sis-id:P2-888"),
        ),
        # Unmatched: an external instructor and a guardian (not_found), and a user
        # without any identifier (no_identifier).
        _lms_person("ext-1", Role.TEACHER, email="kursledare@utbildning.se"),
        _lms_person("gu-1", Role.GUARDIAN, username="foralder9"),
        _lms_person("lms-x", Role.OTHER),
    ]
    schools = [
        Organisation(
            tenant=TENANT,
            source=LMS,
            key=f"lms-org-{unit}",
            kind=OrganisationKind.SCHOOL_UNIT,
            name=f"{unit.title()} (LMS)",
            school_unit_code=code,
        )
        for unit, code in (("ek", "10000002"), ("sol", "10000001"))
    ]
    courses = [
        Course(tenant=TENANT, source=LMS, key="crs-is", title="Informationssäkerhet för alla",
               tags=("information-security", "e-learning")),
        Course(tenant=TENANT, source=LMS, key="crs-dd", title="Digital didaktik",
               tags=("digital-didactics",)),
        Course(tenant=TENANT, source=LMS, key="crs-ak3", title="Årskurs 3"),
    ]  # fmt: skip

    def klass(key: str, course: str, school: str, kind: ClassType = ClassType.SCHEDULED) -> Class:
        return Class(tenant=TENANT, source=LMS, key=key, title=key.upper(), class_type=kind,
                     course_key=course, school_key=school)  # fmt: skip

    classes = [
        klass("cls-is-ek", "crs-is", "lms-org-ek"),
        klass("cls-is-sol", "crs-is", "lms-org-sol"),
        klass("cls-dd-ek", "crs-dd", "lms-org-ek"),
        klass("cls-3a", "crs-ak3", "lms-org-ek", ClassType.HOMEROOM),
    ]
    enrolled = {
        "cls-is-ek": (["lms-t1", "lms-t2", "lms-t3", "lms-r1"], ["ext-1"]),
        # lms-sub is p2's second account: cls-is-sol has two students, p1 and p2.
        "cls-is-sol": (["lms-p1", "lms-p2", "lms-sub"], ["ext-1"]),
        "cls-dd-ek": (["lms-t1"], ["ext-1"]),
        "cls-3a": (["lms-g1", "lms-g2", "lms-g3"], ["lms-t1"]),
    }
    student, teacher = EnrollmentRole.STUDENT, EnrollmentRole.TEACHER
    enrollments = [
        Enrollment(
            tenant=TENANT,
            source=LMS,
            key=f"enr-{c}-{p}",
            person_key=p,
            class_key=c,
            role=role,
            begin_date=date(2025, 8, 15),
        )
        for c, (students, teachers) in enrolled.items()
        for people_, role in ((students, student), (teachers, teacher))
        for p in people_
    ]
    enrollments.append(
        Enrollment(tenant=TENANT, source=LMS, key="enr-cls-3a-lms-b1", person_key="lms-b1",
                   class_key="cls-3a", role=student, begin_date=date(2025, 8, 15),
                   end_date=date(2026, 1, 31))
    )  # fmt: skip

    def result(
        person: str,
        klass_: str,
        on: date | None,
        status: ScoreStatus = ScoreStatus.FULLY_GRADED,
        score: float | None = 1.0,
        high: float = 1.0,
        objectives: tuple[str, ...] = (),
    ) -> Result:
        return Result(
            tenant=TENANT,
            source=LMS,
            key=f"res-{klass_}-{person}",
            line_item_key=f"li-{klass_}",
            person_key=person,
            class_key=klass_,
            score_status=status,
            score=score,
            score_date=on,
            score_min=0.0,
            score_max=high,
            learning_objective_ids=objectives,
        )

    skill = ("skolverket:digital-kompetens:ak3.programmering",)
    results = [
        result("lms-t1", "cls-is-ek", date(2026, 1, 10)),  # within 12 months
        result("lms-t2", "cls-is-ek", date(2024, 9, 1)),  # too long ago
        result("lms-t3", "cls-is-ek", date(2026, 7, 1)),  # after AS_OF: not yet
        result("lms-r1", "cls-is-ek", date(2025, 8, 1)),  # within (since 2025-06-15)
        result("lms-p1", "cls-is-sol", date(2026, 3, 1)),
        result("lms-p2", "cls-is-sol", None, ScoreStatus.SUBMITTED, None),  # in progress
        # p2 completed it under the second account.
        result("lms-sub", "cls-is-sol", date(2026, 4, 1)),
        result("lms-t1", "cls-dd-ek", date(2026, 2, 1)),
        result("lms-g1", "cls-3a", date(2026, 5, 20), score=80.0, high=100.0, objectives=skill),
        result("lms-g2", "cls-3a", date(2026, 5, 20), score=50.0, high=100.0, objectives=skill),
        result("lms-g3", "cls-3a", None, ScoreStatus.NOT_SUBMITTED, None, 100.0, skill),
    ]
    return [*people, *schools, *courses, *classes, *enrollments, *results]


def _device(
    source: SourceRef,
    key: str,
    physical: str | None,
    kind: DeviceKind,
    os_name: str,
    os_version: str,
    *,
    users: Sequence[tuple[UserIdKind, str]] = (),
    hints: UnitHints | None = None,
    shared: bool = False,
    seen: date = date(2026, 6, 14),
    checked_in: time = time(12, 0),
    enrolled: date = date(2025, 8, 20),
    compliance: Compliance = Compliance.UNKNOWN,
    ownership: Ownership = Ownership.SCHOOL_OWNED,
) -> Device:
    return Device(
        tenant=TENANT,
        source=source,
        key=key,
        physical_key=physical,
        kind=kind,
        os_name=os_name,
        os_version=os_version,
        ownership=ownership,
        management_state=ManagementState.MANAGED,
        compliance=compliance,
        enrolled_at=datetime.combine(enrolled, datetime.min.time(), UTC),
        last_check_in_on=seen,
        source_modified=datetime.combine(seen, checked_in, UTC),
        assigned_users=tuple(AssignedUserId(kind=k, value=v) for k, v in users),
        unit_hints=hints or UnitHints(),
        shared=shared,
    )


def devices() -> list[Device]:
    """Jamf iPads, Intune laptops (and a twin iPad), Google Chromebooks."""
    ek = UnitHints(site="Ekskolan")
    found = [
        # Eight pupils' iPads at Ekskolan (g3 has none: one device short); g2's runs an
        # iPadOS too old for the national tests.
        _device(JAMF, f"ipad-{p}", f"apple:IPAD{p.upper()}", DeviceKind.TABLET, "iPadOS",
                "16.7" if p == "g2" else "18.1", users=[(UserIdKind.USERNAME, p)], hints=ek,
                checked_in=time(20, 0) if p == "b1" else time(12, 0))
        for p in ("f1", "f2", "a1", "a2", "b1", "b2", "g1", "g2")
    ]  # fmt: skip
    found += [
        # a1's iPad is enrolled in Intune as well: the same physical device, counted once.
        _device(INTUNE, "twin-a1", "apple:IPADA1", DeviceKind.TABLET, "iPadOS", "18.1",
                users=[(UserIdKind.UPN, "a1@guldby.se")], seen=date(2026, 6, 10),
                compliance=Compliance.COMPLIANT),
        # b1's iPad is in Intune too, reported noncompliant at 08:00 on 2026-06-14; it
        # checked in to Jamf at 20:00 the same day, so Jamf (no compliance verdict)
        # speaks for it: one device, not noncompliant.
        _device(INTUNE, "twin-b1", "apple:IPADB1", DeviceKind.TABLET, "iPadOS", "18.1",
                users=[(UserIdKind.UPN, "b1@guldby.se")], checked_in=time(8, 0),
                compliance=Compliance.NONCOMPLIANT),
        # Two shared tablets at Solbackens: 12 children per 2 devices = 6 > 5.
        _device(JAMF, "shared-1", "apple:SHARED1", DeviceKind.TABLET, "iPadOS", "17.5",
                hints=UnitHints(site="Solbackens förskola"), shared=True, seen=date(2026, 6, 12)),
        _device(JAMF, "shared-2", "apple:SHARED2", DeviceKind.TABLET, "iPadOS", "17.5",
                hints=UnitHints(site="Solbackens förskola"), shared=True, seen=date(2026, 6, 12)),
        # Staff laptops: t2's is past the 36-month cycle, t3's noncompliant, r1's not
        # seen for 75 days (not active), p1's fine; p2 has none; t1's BYOD phone is no
        # school device.
        _device(INTUNE, "lap-t1", "lenovo:PF1", DeviceKind.LAPTOP, "Windows", "10.0.22631.4460",
                users=[(UserIdKind.UPN, "t1@guldby.se")], enrolled=date(2024, 8, 1),
                compliance=Compliance.COMPLIANT),
        _device(INTUNE, "lap-t2", "lenovo:PF2", DeviceKind.LAPTOP, "Windows", "10.0.19045.5131",
                users=[(UserIdKind.UPN, "T2@guldby.se")], enrolled=date(2022, 3, 1),
                seen=date(2026, 6, 13), compliance=Compliance.COMPLIANT),
        _device(INTUNE, "lap-t3", "lenovo:PF3", DeviceKind.LAPTOP, "Windows", "10.0.22631.4460",
                users=[(UserIdKind.EMAIL, "t3.larare@guldby.se")], enrolled=date(2025, 1, 10),
                compliance=Compliance.NONCOMPLIANT),
        _device(INTUNE, "lap-r1", "lenovo:PF4", DeviceKind.LAPTOP, "Windows", "10.0.22631.4460",
                users=[(UserIdKind.UPN, "r1@guldby.se")], enrolled=date(2024, 1, 1),
                seen=date(2026, 4, 1), compliance=Compliance.COMPLIANT),
        _device(INTUNE, "lap-p1", "lenovo:PF5", DeviceKind.LAPTOP, "Windows", "10.0.22631.4460",
                users=[(UserIdKind.UPN, "p1@guldby.se")], enrolled=date(2025, 9, 1),
                compliance=Compliance.COMPLIANT),
        _device(INTUNE, "phone-t1", "apple:PHONE1", DeviceKind.PHONE, "iOS", "18.1",
                users=[(UserIdKind.UPN, "t1@guldby.se")], ownership=Ownership.PERSONAL),
        # A shared lab desktop whose Intune category names no unit the hub knows.
        _device(INTUNE, "lab-x", "dell:LAB1", DeviceKind.DESKTOP, "Windows", "10.0.22631.4460",
                hints=UnitHints(group="EKS Felles"), shared=True, compliance=Compliance.COMPLIANT),
    ]  # fmt: skip
    # d4's Chromebook last checked in on 2026-04-01: not seen within 30 days, not active.
    for n in range(1, 5):
        found.append(
            _device(GOOGLE, f"cb-d{n}", f"acer:NX{n}", DeviceKind.CHROMEBOOK, "ChromeOS",
                    "131.0.6778.99", users=[(UserIdKind.ANNOTATED, f"d{n}@guldby.se")],
                    hints=UnitHints(org_unit_path="/Enheter/Björkskolan/Elever"),
                    seen=date(2026, 4, 1) if n == 4 else date(2026, 6, 14),
                    enrolled=date(2025, 8, 1), compliance=Compliance.COMPLIANT)
        )  # fmt: skip
    # d1 also has an iPad from Björkskolan's Jamf site; d4 has no working device.
    found.append(
        _device(JAMF, "ipad-d1", "apple:IPADD1", DeviceKind.TABLET, "iPadOS", "18.1",
                users=[(UserIdKind.USERNAME, "d1")], hints=UnitHints(site="Björkskolan"))
    )  # fmt: skip
    # A Chromebook assigned to someone not in the directory, placed at Ekskolan by its OU.
    found.append(
        _device(GOOGLE, "cb-ghost", "acer:NX9", DeviceKind.CHROMEBOOK, "ChromeOS", "131.0.6778.99",
                users=[(UserIdKind.ANNOTATED, "ghost@guldby.se")],
                hints=UnitHints(org_unit_path="/Enheter/Ekskolan/Elever"),
                enrolled=date(2025, 8, 1), compliance=Compliance.COMPLIANT)
    )  # fmt: skip
    return found


def equipment() -> list[Entity]:
    """Classroom equipment in TOPdesk and Snipe-IT, and the service desk's tickets."""
    k = EquipmentKind

    def item(
        key: str,
        kind: EquipmentKind,
        school: str,
        room: str,
        *,
        serial: str | None = None,
        status: EquipmentStatus = EquipmentStatus.IN_USE,
        source: SourceRef = TOPDESK,
    ) -> EquipmentItem:
        return EquipmentItem(
            tenant=TENANT,
            source=source,
            key=key,
            kind=kind,
            location=school,
            room=room,
            status=status,
            serial_number=serial,
        )

    found: list[Entity] = [
        # Ekskolan 101: projector + sound (meets); 102: board, its sound broken (misses
        # sound); 103: board + sound (meets); Lager: a spare projector (not a classroom).
        item("e1", k.PROJECTOR, "Ekskolan", "101"),
        item("e2", k.SOUND_SYSTEM, "Ekskolan", "101"),
        item("e3", k.INTERACTIVE_BOARD, "Ekskolan", "102"),
        item("e4", k.SOUND_SYSTEM, "Ekskolan", "102", status=EquipmentStatus.BROKEN),
        item("e5", k.INTERACTIVE_BOARD, "Ekskolan", "103"),
        item("e6", k.SOUND_SYSTEM, "Ekskolan", "103"),
        item("e7", k.PROJECTOR, "Ekskolan", "Lager", status=EquipmentStatus.IN_STOCK),
        # Björkskolan B1: a board in both registers (one serial: once) + sound (meets);
        # B2: a document camera only (misses both).
        item("b1", k.INTERACTIVE_BOARD, "Björkskolan", "B1", serial="PM-0001"),
        item("17", k.INTERACTIVE_BOARD, "Björkskolan", "B1", serial="pm0001", source=SNIPEIT),
        item("18", k.SOUND_SYSTEM, "Björkskolan", "B1", source=SNIPEIT),
        item("19", k.DOCUMENT_CAMERA, "Björkskolan", "B2", source=SNIPEIT),
        # A school no directory unit is called: its own row, in no unit's figures.
        item("x1", k.PROJECTOR, "Okänd skola", "X"),
    ]  # fmt: skip

    def ticket(
        key: str,
        school: str,
        category: str,
        requester: str,
        opened: datetime,
        hours: float | None,
    ) -> SupportTicket:
        resolved = None if hours is None else opened + timedelta(hours=hours)
        return SupportTicket(
            tenant=TENANT, source=HELPDESK, key=key, location=school, category=category,
            status=TicketStatus.OPEN if hours is None else TicketStatus.RESOLVED,
            opened_at=opened, resolved_at=resolved, requester_link=f"hmac-{requester}",
        )  # fmt: skip

    def at(day: date, hour: int = 8) -> datetime:
        return datetime.combine(day, time(hour), UTC)

    found += [
        ticket("t1", "Ekskolan", "Maskinvara", "A", at(date(2026, 3, 1)), 10),
        ticket("t2", "Ekskolan", "Maskinvara", "B", at(date(2026, 3, 2)), 100),
        ticket("t3", "Ekskolan", "Maskinvara", "C", at(date(2026, 4, 1)), 30),
        ticket("t4", "Ekskolan", "Nätverk", "A", at(date(2026, 5, 1)), 2),
        ticket("t5", "Ekskolan", "Nätverk", "A", at(date(2026, 6, 15), 20), None),
        ticket("t6", "Ekskolan", "Nätverk", "D", at(date(2026, 6, 1)), None),
        ticket("t7", "Ekskolan", "Maskinvara", "B", at(date(2025, 1, 10)), 5),
        ticket("t8", "Björkskolan", "Program", "E", at(date(2026, 2, 1)), 50),
        ticket("t9", "Björkskolan", "Program", "F", at(date(2026, 2, 2)), 80),
        ticket("t10", "Björkskolan", "Program", "G", at(date(2026, 2, 3)), 4),
        ticket("t11", "Okänd skola", "Program", "H", at(date(2026, 2, 3)), 4),
    ]
    return found


def purchases() -> list[Entity]:
    """Devices bought through Apple School Manager: some managed in Jamf, some never enrolled."""

    def bought(
        serial: str,
        ordered: date,
        *,
        family: str = "iPad",
        assigned: bool = True,
        released: date | None = None,
    ) -> PurchasedDevice:
        return PurchasedDevice(
            tenant=TENANT, source=ASM, key=serial, serial_number=serial,
            physical_key=f"apple:{serial}", product_family=family, assigned=assigned,
            ordered_at=datetime.combine(ordered, time(), UTC),
            released_at=datetime.combine(released, time(), UTC) if released else None,
        )  # fmt: skip

    return [
        bought("IPADF1", date(2025, 8, 1)),
        bought("IPADA1", date(2022, 5, 1)),  # 36 months ended 2025-05-01
        bought("IPADG1", date(2023, 7, 1)),  # 36 months end 2026-07-01, after AS_OF
        bought("NEVR0001", date(2024, 1, 10)),  # assigned to Jamf, never enrolled
        bought("NEVR0002", date(2021, 3, 1), assigned=False),  # old, never enrolled
        bought("MAC0001", date(2023, 1, 1), family="Mac", assigned=False),
        bought("GONE0001", date(2020, 1, 1), released=date(2026, 1, 1)),  # released
    ]


M365 = SourceRef(system="microsoft_licences", instance="m365")
VPP = SourceRef(system="apple_vpp", instance="vpp")


def licences() -> list[Entity]:
    """Microsoft 365 licences of staff and pupils; a Book Creator app bought for iPads."""
    found: list[Entity] = [
        LicencePool(tenant=TENANT, source=M365, key="fac", product_id="fac",
                    product_name="STANDARDWOFFPACK_FACULTY", vendor="microsoft",
                    kind=ProductKind.SUBSCRIPTION, total=10, assigned=7, available=3),
        LicencePool(tenant=TENANT, source=M365, key="stu", product_id="stu",
                    product_name="STANDARDWOFFPACK_STUDENT", vendor="microsoft",
                    kind=ProductKind.SUBSCRIPTION, total=20, assigned=11, available=9),
        LicencePool(tenant=TENANT, source=VPP, key="661166101|STDQ", product_id="661166101",
                    vendor="apple", kind=ProductKind.APP, total=12, assigned=10, available=2,
                    unit_price=Decimal("29.00"), currency="SEK"),
    ]  # fmt: skip

    def held(source: SourceRef, pool: str, holder: str, **link: Any) -> LicenceAssignment:
        return LicenceAssignment(
            tenant=TENANT, source=source, key=f"{holder}|{pool}", pool_key=pool, **link
        )

    def upn(value: str) -> tuple[AssignedUserId, ...]:
        return (AssignedUserId(kind=UserIdKind.UPN, value=value),)

    # Faculty: Ekskolan's four staff, Solbackens' two and left1, who has left: 6 active
    # (Ekskolan 4, Solbackens 2), 1 who left.
    for person in ("t1", "t2", "t3", "r1", "p1", "p2", "left1"):
        found.append(held(M365, "fac", person, assigned_users=upn(f"{person}@guldby.se")))
    # Students: Ekskolan's eight pupils with iPads and Björkskolan's d1-d3: 11 active.
    for pupil in ("f1", "f2", "a1", "a2", "b1", "b2", "g1", "g2", "d1", "d2", "d3"):
        found.append(held(M365, "stu", pupil, assigned_users=upn(f"{pupil}@guldby.se")))
    # Book Creator on five Ekskolan pupils' iPads and d1's, on both shared preschool
    # tablets, on an iPad no MDM knows, and for an MDM's user id that matches nobody:
    # 6 active (Ekskolan 5, Björkskolan 1), 2 shared devices, 2 unresolved.
    for serial in ("IPADF1", "IPADF2", "IPADA1", "IPADA2", "IPADB1", "IPADD1", "SHARED1",
                   "SHARED2", "IPADZZ"):  # fmt: skip
        found.append(
            held(VPP, "661166101|STDQ", serial, device_serial=serial,
                 device_physical_key=f"apple:{serial}")
        )  # fmt: skip
    found.append(
        held(VPP, "661166101|STDQ", "vpp-user-9",
             assigned_users=(AssignedUserId(kind=UserIdKind.DIRECTORY_ID, value="vpp-user-9"),))
    )  # fmt: skip
    return found


def entities() -> list[Entity]:
    """Every entity of the golden tenant."""
    return [*directory(), *lms(), *devices(), *equipment(), *purchases(), *licences()]


#: When the golden tenant's history begins: before any day its tests compile.
HISTORY_BEGINS = datetime(2025, 1, 1, tzinfo=UTC)


def write_entities(engine: sa.Engine, items: Sequence[Entity]) -> None:
    """Write entities as the materialiser stores them: latest state and history.

    Their versions are valid from `HISTORY_BEGINS`, as if the hub had synced them then.
    """
    metadata.create_all(engine, tables=[report_entities, report_history])
    stamp = now()
    rows = [
        {
            "tenant": e.tenant,
            "entity": e.entity,
            "source": f"{e.source.system}/{e.source.instance}",
            "key": e.key,
            "domain": e.domain,
            "payload": json.dumps(e.model_dump(mode="json"), sort_keys=True, ensure_ascii=False),
            "event_id": f"golden-{n}",
            "topic": f"hub.{e.topic_suffix()}.v1",
            "partition": 0,
            "offset": n,
            "updated_at": stamp,
        }
        for n, e in enumerate(items)
    ]
    versions = [
        {
            **{k: row[k] for k in ("tenant", "entity", "source", "key", "payload", "event_id")},
            "valid_from": HISTORY_BEGINS,
        }
        for row in rows
    ]
    with engine.begin() as conn:
        conn.execute(report_entities.insert(), rows)
        conn.execute(report_history.insert(), versions)


def move_history_back(engine: sa.Engine) -> None:
    """Date every version from `HISTORY_BEGINS`, as if the hub had synced it then.

    For a golden tenant published through Kafka today but compiled for its day in June.
    """
    with engine.begin() as conn:
        conn.execute(
            report_history.update()
            .where(report_history.c.tenant == TENANT)
            .values(valid_from=HISTORY_BEGINS)
        )
