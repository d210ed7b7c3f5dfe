"""The OS2skoledata mapping of recorded person, group and institution records."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from connectors.base import Item, Rejected
from connectors.identity.os2skoledata import (
    OS2skoledata,
    OS2skoledataSettings,
    _Groups,
    _Institutions,
    _Persons,
    grade_of,
)
from connectors.privacy import national_id_hmac
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
)

KEY = b"parsing-test-key-0123456789"
RECORDS = json.loads((Path(__file__).parent / "data" / "os2skoledata_persons.json").read_text())


@pytest.fixture
def source() -> OS2skoledata:
    settings = OS2skoledataSettings.model_validate(
        {
            "id": "os2skoledata",
            "type": "os2skoledata",
            "base_url": "http://127.0.0.1:9/sohavn/os2skoledata",
            "auth": {"kind": "bearer", "secret": {"env": "UNUSED"}},
        }
    )
    connector = OS2skoledata(settings, tenant="sohavn", secret="k" * 20, hmac_key=KEY)
    connector.institution_ids = {"951001": "100", "951003": "102"}
    connector.institution_types = {"100": "SCHOOL", "102": "DAYCARE"}
    return connector


def parsed(source: OS2skoledata, index: int) -> list[Item]:
    return _Persons(source).parse(RECORDS[index], index)


def person(source: OS2skoledata, index: int) -> Person:
    found = [i for i in parsed(source, index) if isinstance(i, Person)]
    assert 1 == len(found)
    return found[0]


def test_a_pupil_has_grade_unit_hmac_and_one_membership_per_group(source: OS2skoledata) -> None:
    """A pupil in 7. klasse: grade 7, their school, the CPR's DK HMAC, each group once."""
    items = parsed(source, 0)
    pupil = items[0]
    assert isinstance(pupil, Person)
    assert (
        "4711",
        (Role.PUPIL,),
        7,
        ("100",),
        "Lærke",
        "Lærke Østergaard",
        national_id_hmac(KEY, "DK", "1509324017"),
        ("unilogin:laer0001",),
    ) == (
        pupil.key,
        pupil.roles,
        pupil.grade,
        pupil.unit_keys,
        pupil.given_name,
        pupil.display_name,
        pupil.nin_hmac,
        pupil.external_ids,
    )
    memberships = [i for i in items if isinstance(i, Membership)]
    assert [("1201", MembershipRole.STUDENT), ("1202", MembershipRole.STUDENT)] == [
        (m.group_key, m.role) for m in memberships
    ]
    assert ["1201|4711", "1202|4711"] == [m.key for m in memberships]


def test_an_employee_with_two_roles_gets_both_and_a_bad_cpr_is_dropped(
    source: OS2skoledata,
) -> None:
    """LÆRER and LEDELSE give teacher and school leader; day 32 is no CPR: `nin_invalid`."""
    employee = person(source, 1)
    assert ((Role.TEACHER, Role.SCHOOL_LEADER), "Lærer", None, True) == (
        employee.roles,
        employee.title,
        employee.nin_hmac,
        employee.nin_invalid,
    )
    assert "3213334999" not in json.dumps(employee.model_dump(mode="json"))


def test_a_daycare_pedagogue_is_a_preschool_teacher_and_a_barn_is_a_child(
    source: OS2skoledata,
) -> None:
    """At a dagtilbud, PÆDAGOG is a preschool teacher; `studentRole: BARN` is a child."""
    assert (Role.PRESCHOOL_TEACHER,) == person(source, 2).roles
    child = person(source, 3)
    assert ((Role.CHILD,), None) == (child.roles, child.grade)


def test_a_school_pedagogue_is_a_preschool_teacher_apart_from_the_teachers(
    source: OS2skoledata,
) -> None:
    """A pædagog at a school is a preschool teacher too, so the follow-up tells them apart."""
    record = {**RECORDS[2], "currentInstitutionNumber": "951001"}
    found = [i for i in _Persons(source).parse(record, 2) if isinstance(i, Person)]
    assert ((Role.PRESCHOOL_TEACHER,), ("100",)) == (found[0].roles, found[0].unit_keys)


def test_a_protected_person_keeps_roles_and_hmac_but_no_names(source: OS2skoledata) -> None:
    """A person the full record marks protected is published without the alias names."""
    source.protected_ids = {4714}
    child = person(source, 3)
    assert (True, None, None, None, (Role.CHILD,)) == (
        child.protected,
        child.given_name,
        child.family_name,
        child.username,
        child.roles,
    )
    assert child.nin_hmac == national_id_hmac(KEY, "DK", "0202314555")


def test_an_external_is_other_with_the_external_role_as_title(source: OS2skoledata) -> None:
    """A PRAKTIKANT is published with role `other` and title `Praktikant`."""
    external = person(source, 4)
    assert ((Role.OTHER,), "Praktikant") == (external.roles, external.title)


def test_an_unknown_person_role_is_a_dead_letter_without_the_cpr(source: OS2skoledata) -> None:
    """A role OS2skoledata does not define makes a dead letter whose payload has no CPR."""
    (rejected,) = parsed(source, 5)
    assert isinstance(rejected, Rejected)
    assert ("person", "4716", "[redacted]") == (
        rejected.entity,
        rejected.key,
        rejected.payload["cpr"],
    )
    assert "0404334777" not in json.dumps(rejected.payload)


def test_a_protected_persons_dead_letter_has_no_names(source: OS2skoledata) -> None:
    """A protected person's record that fails keeps only its id and roles in the dead letter."""
    source.protected_ids = {4716}
    (rejected,) = parsed(source, 5)
    assert isinstance(rejected, Rejected)
    assert {"databaseId", "role", "currentInstitutionNumber"} == set(rejected.payload)


GROUP: dict[str, Any] = {
    "databaseId": 1201,
    "lastModified": "2025-09-10 04:00:00",
    "fromDate": "2025-08-11",
    "toDate": "2026-06-30",
    "groupId": "951001-HO-3",
    "groupLevel": "7",
    "groupName": "7.A",
    "groupType": "HOVEDGRUPPE",
    "institutionNumber": "951001",
}


@pytest.mark.parametrize(
    ("group_type", "institution", "kind"),
    [
        ("HOVEDGRUPPE", "951001", GroupKind.BASE_GROUP),
        ("HOVEDGRUPPE", "951003", GroupKind.PRESCHOOL_SECTION),
        ("HOLD", "951001", GroupKind.TEACHING_GROUP),
        ("ÅRGANG", "951001", GroupKind.OTHER),
        ("SFO", "951001", GroupKind.OTHER),
        ("TEAM", "951001", GroupKind.OTHER),
    ],
)
def test_group_types_map_to_group_kinds(
    source: OS2skoledata, group_type: str, institution: str, kind: GroupKind
) -> None:
    """Main groups are classes (a dagtilbud's: sections), HOLD teaching groups, others other."""
    record = {**GROUP, "groupType": group_type, "institutionNumber": institution}
    (group,) = _Groups(source).parse(record, 0)
    assert isinstance(group, Group)
    assert (kind, source.institution_ids[institution], "7.A") == (
        group.kind,
        group.unit_key,
        group.name,
    )
    assert (str(group.valid_from), str(group.valid_to)) == ("2025-08-11", "2026-06-30")
    assert group.source_modified is not None and group.source_modified.tzinfo is not None


@pytest.mark.parametrize(
    ("kind", "expected", "school_types"),
    [
        (
            "SCHOOL",
            OrganisationKind.SCHOOL_UNIT,
            (SchoolType.PRESCHOOL_CLASS, SchoolType.COMPULSORY),
        ),
        ("DAYCARE", OrganisationKind.PRESCHOOL_UNIT, (SchoolType.PRESCHOOL,)),
        ("MUNICIPALITY", OrganisationKind.OWNER, ()),
        (None, OrganisationKind.OTHER, ()),
    ],
)
def test_institution_types_map_to_organisation_kinds(
    source: OS2skoledata, kind: str | None, expected: OrganisationKind, school_types: tuple
) -> None:
    """SCHOOL, DAYCARE and MUNICIPALITY become school unit, preschool unit and owner."""
    record = {"databaseId": 100, "name": "Bakkeskolen", "number": "951001", "type": kind}
    (org,) = _Institutions(source).parse(record, 0)
    assert isinstance(org, Organisation)
    assert ("100", expected, "951001", school_types) == (
        org.key,
        org.kind,
        org.school_unit_code,
        org.school_types,
    )


@pytest.mark.parametrize(
    ("level", "grade"),
    [("0", 0), ("9", 9), ("10", 10), ("11", None), ("", None), (None, None), ("X", None)],
)
def test_levels_become_grades(level: str | None, grade: int | None) -> None:
    """A main group's level is the grade from 0 (børnehaveklasse) to 10; anything else none."""
    assert grade == grade_of(level)


def test_the_account_domain_gives_each_person_an_address(source: OS2skoledata) -> None:
    """With `account_domain`, a person's email is their username at it; without it, none."""
    assert person(source, 0).email is None
    source.settings = source.settings.model_copy(update={"account_domain": "sohavn.skole.dk"})
    assert "laer0001@sohavn.skole.dk" == person(source, 0).email
    source.protected_ids = {4711}
    assert person(source, 0).email is None
