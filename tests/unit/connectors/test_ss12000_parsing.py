"""SS 12000 objects, in the shapes of the standard's OpenAPI, become hub entities."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from connectors.base import Item, Rejected, Removed
from connectors.identity.ss12000 import (
    SS12000,
    _DeletedEntities,
    deleted_records,
    duty_role,
    enrolment_grade,
    hub_school_types,
    luhn_valid,
    normalise_civic_no,
)
from connectors.privacy import national_id_hmac
from hub.settings import parse_settings
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
from schemas.ss12000 import Duty, Placement, PlacementSchoolType

DATA = Path(__file__).parent / "data" / "ss12000"
HMAC_KEY = b"test-hmac-key-0123456789abcdef"
TODAY = date(2026, 1, 15)
STREAMS = {s.name: s for s in SS12000.streams}
SCHOOL = "9f1c0b52-5a3e-4c1d-9a57-0d2c1b7e0002"
PRESCHOOL = "9f1c0b52-5a3e-4c1d-9a57-0d2c1b7e0003"
UPPER = "9f1c0b52-5a3e-4c1d-9a57-0d2c1b7e0004"


def source(**settings: Any) -> SS12000:
    """An SS 12000 connector that is never asked to connect."""
    entry = {
        "type": "ss12000",
        "id": "sis",
        "base_url": "https://sis.example/ss12000/v2",
        "auth": {"kind": "bearer", "secret": {"env": "UNUSED"}},
        **settings,
    }
    config = parse_settings(
        {"tenants": [{"id": "ekby", "name": "Ekby kommun", "country": "SE", "sources": [entry]}]}
    )
    return SS12000(
        config.tenants[0].sources[0],  # type: ignore[arg-type]
        tenant="ekby",
        secret="unused",
        hmac_key=HMAC_KEY,
        today=lambda: TODAY,
    )


def records(name: str) -> list[Any]:
    """The example objects of one endpoint."""
    return json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))["data"]


def parse(name: str, connector: SS12000 | None = None) -> dict[str, list[Item]]:
    """Every example object of an endpoint parsed, by id: its entity and derived ones."""
    connector = connector or source()
    stream = STREAMS[name](connector)
    return {r["id"]: stream.parse(r, i) for i, r in enumerate(records(name))}


def one(items: list[Item]) -> Any:
    """The single item of a parse."""
    (item,) = items
    return item


def hmac_of(twelve_digits: str) -> str:
    return national_id_hmac(HMAC_KEY, "SE", twelve_digits)


# -- personnummer ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("197804129810", "197804129810"),
        ("19780412-9810", "197804129810"),
        ("780412-9810", "197804129810"),
        ("7804129810", "197804129810"),
        ("120903-9849", "201209039849"),
        ("120903+9849", "191209039849"),
        ("202202749871", "202202749871"),
        (" 20220274-9871 ", "202202749871"),
    ],
)
def test_civic_numbers_are_normalised_to_twelve_digits(written: str, expected: str):
    """Every common way of writing a personnummer or samordningsnummer gives the same 12 digits."""
    assert expected == normalise_civic_no(written, TODAY)


@pytest.mark.parametrize(
    ("written", "reason"),
    [
        ("199001019951", "has a wrong check digit"),
        ("19900101", "is not shaped like a personnummer (YYYYMMDDNNNC or YYMMDD-NNNC)"),
        ("199013019956", "has no valid birth date"),
    ],
)
def test_malformed_civic_numbers_are_refused_without_the_number(written: str, reason: str):
    """A wrong check digit, a short value or an impossible date is a ValueError not naming it."""
    with pytest.raises(ValueError) as caught:
        normalise_civic_no(written, TODAY)
    assert reason == str(caught.value)


def test_a_temporary_number_with_letters_is_not_a_civic_number_to_match_on():
    """`20130101TF01` (tillfälligt personnummer) normalises to None rather than failing."""
    assert None is normalise_civic_no("20130101TF01", TODAY)


def test_luhn_accepts_the_tax_agency_example_and_refuses_a_changed_digit():
    """640823-3234 (Skatteverket's worked example) passes; 640823-3235 does not."""
    assert (True, False) == (luhn_valid("6408233234"), luhn_valid("6408233235"))


# -- organisations -----------------------------------------------------------------------


def test_organisations_become_owner_school_and_preschool_units():
    """Huvudman is the owner; skolenheter are school or preschool units with code and types."""
    orgs = {k: one(v) for k, v in parse("organisations").items()}
    owner = orgs["9f1c0b52-5a3e-4c1d-9a57-0d2c1b7e0001"]
    school, preschool, upper = orgs[SCHOOL], orgs[PRESCHOOL], orgs[UPPER]
    assert isinstance(owner, Organisation)
    assert (OrganisationKind.OWNER, "Ekby kommun", "2120001355", None, None) == (
        owner.kind,
        owner.name,
        owner.org_number,
        owner.school_unit_code,
        owner.parent_key,
    )
    assert (
        OrganisationKind.SCHOOL_UNIT,
        "45873210",
        (SchoolType.PRESCHOOL_CLASS, SchoolType.COMPULSORY),
        owner.key,
    ) == (school.kind, school.school_unit_code, school.school_types, school.parent_key)
    assert (OrganisationKind.PRESCHOOL_UNIT, (SchoolType.PRESCHOOL,)) == (
        preschool.kind,
        preschool.school_types,
    )
    assert (
        SchoolType.UPPER_SECONDARY,
        SchoolType.UPPER_SECONDARY_SPECIAL,
        SchoolType.ADULT,
    ) == upper.school_types
    assert datetime(2025, 8, 2, 8, 0, tzinfo=UTC) == school.source_modified


def test_organisations_without_optional_fields_still_map():
    """A bare organisation is `other`; the reference API's type-less one with a code is a unit."""
    orgs = {k: one(v) for k, v in parse("organisations").items()}
    area = orgs["9f1c0b52-5a3e-4c1d-9a57-0d2c1b7e0005"]
    minimal = orgs["9f1c0b52-5a3e-4c1d-9a57-0d2c1b7e0006"]
    assert (OrganisationKind.OTHER, None, None, ()) == (
        area.kind,
        area.school_unit_code,
        area.parent_key,
        area.school_types,
    )
    assert (OrganisationKind.SCHOOL_UNIT, "12345678") == (minimal.kind, minimal.school_unit_code)


def test_a_school_unit_code_that_is_not_eight_digits_is_dead_lettered():
    """A schoolUnitCode `123-45` rejects the organisation with a reason naming the field."""
    rejected = one(parse("organisations")["9f1c0b52-5a3e-4c1d-9a57-0d2c1b7e0007"])
    assert isinstance(rejected, Rejected)
    assert (
        "organisation",
        "organisations: schoolUnitCode is not 8 digits (a skolenhetskod)",
    ) == (rejected.entity, rejected.reason)


def test_school_types_map_to_the_hubs_codes_and_adult_variants_to_vux():
    """FKLASS and GR stay; VUXGY, SFI and SARVUXGR are adult education; FTH and KU drop out."""
    assert (
        SchoolType.PRESCHOOL_CLASS,
        SchoolType.COMPULSORY,
        SchoolType.ADULT,
    ) == hub_school_types(["FKLASS", "gr", "FTH", "VUXGY", "SFI", "SARVUXGR", "KU"])


# -- persons ---------------------------------------------------------------------------


def test_a_staff_member_keeps_eppn_external_ids_and_roles_from_embedded_duties():
    """Märta: her first valid EPPN lower-cased, the rest and her employee id kept for matching."""
    person = one(parse("persons")["4b0e2a31-7d7c-4f0e-8d8e-3f6a2c9b1001"])
    assert isinstance(person, Person)
    assert "marta.oberg@ekby.se" == person.eppn
    assert (
        "eduPersonPrincipalName:moberg@skolfederation.example",
        "urn:x-ekby:personalsystem:A10042",
    ) == person.external_ids
    assert ("Märta", "Öberg", "Märta Åsa Öberg") == (
        person.given_name,
        person.family_name,
        person.display_name,
    )
    assert ((Role.TEACHER,), "Förstelärare") == (person.roles, person.title)
    assert ((SCHOOL, UPPER), SCHOOL) == (person.unit_keys, person.primary_unit_key)
    assert "marta.oberg@ekby.se" == person.email  # the school address, not the private one
    assert hmac_of("197804129810") == person.nin_hmac


def test_pupils_get_role_grade_and_unit_from_their_enrolment():
    """A grade-7 pupil is grade 7; a GY year-2 pupil is 12; cancelled enrolments do not count."""
    people = {k: one(v) for k, v in parse("persons").items()}
    pupil = people["4b0e2a31-7d7c-4f0e-8d8e-3f6a2c9b1002"]
    upper = people["4b0e2a31-7d7c-4f0e-8d8e-3f6a2c9b1004"]
    assert ((Role.PUPIL,), 7, (SCHOOL,)) == (pupil.roles, pupil.grade, pupil.unit_keys)
    assert ((Role.PUPIL,), 12, (UPPER,)) == (upper.roles, upper.grade, upper.unit_keys)


def test_civic_numbers_in_any_format_hash_to_the_same_twelve_digit_hmac():
    """`120903-9849` and `20081130-9905` hash as `201209039849` and `200811309905`."""
    people = {k: one(v) for k, v in parse("persons").items()}
    assert (hmac_of("201209039849"), hmac_of("200811309905")) == (
        people["4b0e2a31-7d7c-4f0e-8d8e-3f6a2c9b1002"].nin_hmac,
        people["4b0e2a31-7d7c-4f0e-8d8e-3f6a2c9b1004"].nin_hmac,
    )


def test_a_preschool_child_is_a_child_at_its_preschool_through_its_placement():
    """The child's embedded FS placement gives role `child` and the preschool as its unit."""
    child = one(parse("persons")["4b0e2a31-7d7c-4f0e-8d8e-3f6a2c9b1003"])
    assert ((Role.CHILD,), (PRESCHOOL,), None, None) == (
        child.roles,
        child.unit_keys,
        child.eppn,
        child.email,
    )
    assert hmac_of("202202749871") == child.nin_hmac  # a samordningsnummer, day + 60


def test_a_person_with_only_the_required_fields_maps():
    """No civic number, EPPN, e-mail or enrolment: a person without roles, units or HMAC."""
    person = one(parse("persons")["4b0e2a31-7d7c-4f0e-8d8e-3f6a2c9b1005"])
    assert (None, None, (), (), None, ()) == (
        person.nin_hmac,
        person.eppn,
        person.roles,
        person.unit_keys,
        person.grade,
        person.external_ids,
    )


def test_a_temporary_number_gives_no_hmac_and_a_preschool_class_pupil_grade_zero():
    """`20130101TF01` is not hashed; an FKLASS enrolment is grade 0."""
    person = one(parse("persons")["4b0e2a31-7d7c-4f0e-8d8e-3f6a2c9b1006"])
    assert (None, (Role.PUPIL,), 0) == (person.nin_hmac, person.roles, person.grade)


def test_a_civic_number_among_external_identifiers_is_hashed_and_never_kept():
    """An `externalIdentifiers` entry holding a personnummer becomes the HMAC, not an id."""
    person = one(parse("persons")["4b0e2a31-7d7c-4f0e-8d8e-3f6a2c9b1007"])
    assert (hmac_of("198506029936"), ("https://lms.example/users:bjorn-h",)) == (
        person.nin_hmac,
        person.external_ids,
    )


def test_a_wrong_check_digit_keeps_the_person_without_the_number_or_an_hmac():
    """A civicNo failing its Luhn digit is dropped; the person is published, flagged invalid."""
    person = one(parse("persons")["4b0e2a31-7d7c-4f0e-8d8e-3f6a2c9b1008"])
    assert isinstance(person, Person)
    assert (None, True) == (person.nin_hmac, person.nin_invalid)
    assert "199001019951" not in json.dumps(person.model_dump(mode="json"))


def test_a_person_without_a_family_name_is_dead_lettered_without_its_civic_number():
    """The standard requires familyName; the reason names it and the payload is clean."""
    rejected = one(parse("persons")["4b0e2a31-7d7c-4f0e-8d8e-3f6a2c9b1009"])
    assert isinstance(rejected, Rejected)
    assert "persons: familyName: Field required" == rejected.reason
    assert "201503039826" not in json.dumps(rejected.payload)


# -- duties ----------------------------------------------------------------------------


def test_duties_become_duty_entities_with_role_dates_and_extent():
    """A förstelärare at 80 % is a teacher's duty with its dates, hours and signature."""
    duty = parse("duties")["d1000000-0000-4000-8000-000000000001"][0]
    assert isinstance(duty, Duty)
    assert (
        "4b0e2a31-7d7c-4f0e-8d8e-3f6a2c9b1001",
        SCHOOL,
        Role.TEACHER,
        "Förstelärare",
        80.0,
        1440,
        "MÖB",
        date(2023, 8, 1),
        date(2026, 6, 30),
    ) == (
        duty.person_key,
        duty.unit_key,
        duty.role,
        duty.source_role,
        duty.duty_percent,
        duty.hours_per_year,
        duty.signature,
        duty.start_date,
        duty.end_date,
    )


def test_a_duty_assignment_in_a_group_becomes_a_membership_there():
    """Mentor of 7B is a teacher membership; a section's barnskötare is staff, with its dates."""
    mentor = parse("duties")["d1000000-0000-4000-8000-000000000001"][1]
    preschool = parse("duties")["d1000000-0000-4000-8000-000000000003"]
    assert (
        Membership(
            tenant="ekby",
            source=mentor.source,
            key="g1000000-0000-4000-8000-000000000001|4b0e2a31-7d7c-4f0e-8d8e-3f6a2c9b1001"
            "|d1000000-0000-4000-8000-000000000001",
            source_modified=mentor.source_modified,
            group_key="g1000000-0000-4000-8000-000000000001",
            person_key="4b0e2a31-7d7c-4f0e-8d8e-3f6a2c9b1001",
            role=MembershipRole.TEACHER,
            valid_from=date(2025, 8, 18),
            valid_to=date(2026, 6, 12),
        )
        == mentor
    )
    assert [Role.PRESCHOOL_TEACHER, MembershipRole.TEACHER, MembershipRole.STAFF] == [
        preschool[0].role,
        preschool[1].role,
        preschool[2].role,
    ]


def test_duty_roles_map_titles_and_it_pedagogues_by_description():
    """An IT pedagogue is `Annan personal` so described; a caretaker is staff; bare duties map."""
    duties = parse("duties")
    it, head, caretaker = (
        duties["d1000000-0000-4000-8000-000000000004"][0],
        duties["d1000000-0000-4000-8000-000000000005"][0],
        duties["d1000000-0000-4000-8000-000000000006"][0],
    )
    assert (Role.IT_PEDAGOGUE, Role.SCHOOL_LEADER, Role.STAFF) == (
        it.role,
        head.role,
        caretaker.role,
    )
    assert (None, None, None, None) == (
        head.start_date,
        head.end_date,
        head.duty_percent,
        head.description,
    )
    assert (Role.ASSISTANT, Role.TEACHER) == (duty_role("Barnskötare"), duty_role("Fritidspedagog"))


def test_a_duty_without_its_unit_is_dead_lettered():
    """A duty needs its dutyAt: the reason names it."""
    rejected = one(parse("duties")["d1000000-0000-4000-8000-000000000007"])
    assert isinstance(rejected, Rejected)
    assert ("duty", "duties: dutyAt: Field required") == (rejected.entity, rejected.reason)


# -- placements ------------------------------------------------------------------------


def test_placements_become_placement_entities_with_section_and_dates():
    """A preschool placement keeps child, unit, section and start; a leisure one its end date."""
    placements = {k: v for k, v in parse("placements").items()}
    preschool = one(placements["p1000000-0000-4000-8000-000000000001"])
    leisure = one(placements["p1000000-0000-4000-8000-000000000002"])
    minimal = one(placements["p1000000-0000-4000-8000-000000000003"])
    assert isinstance(preschool, Placement)
    assert (
        "4b0e2a31-7d7c-4f0e-8d8e-3f6a2c9b1003",
        PRESCHOOL,
        PlacementSchoolType.PRESCHOOL,
        "g1000000-0000-4000-8000-000000000002",
        date(2023, 3, 1),
        None,
    ) == (
        preschool.person_key,
        preschool.unit_key,
        preschool.school_type,
        preschool.group_key,
        preschool.start_date,
        preschool.end_date,
    )
    assert (PlacementSchoolType.LEISURE_TIME_CENTRE, date(2026, 6, 12)) == (
        leisure.school_type,
        leisure.end_date,
    )
    assert (PlacementSchoolType.PRESCHOOL, None, None) == (
        minimal.school_type,
        minimal.group_key,
        minimal.start_date,
    )


def test_a_placement_in_a_school_type_that_is_not_placed_is_dead_lettered():
    """A schoolType GR is an enrolment, not a placement: rejected with the allowed codes."""
    rejected = one(parse("placements")["p1000000-0000-4000-8000-000000000004"])
    assert isinstance(rejected, Rejected)
    assert (
        "placements: schoolType is not a placement school type (FS, FKLASS, FTH, OPPFTH)"
        == rejected.reason
    )


# -- groups ----------------------------------------------------------------------------


def test_groups_map_their_type_unit_and_validity():
    """Klass is a base group, Avdelning a preschool section, Undervisning a teaching group."""
    groups = {k: v[0] for k, v in parse("groups").items()}
    klass = groups["g1000000-0000-4000-8000-000000000001"]
    assert isinstance(klass, Group)
    assert (GroupKind.BASE_GROUP, "7B", SCHOOL, date(2025, 8, 18), date(2026, 6, 12)) == (
        klass.kind,
        klass.name,
        klass.unit_key,
        klass.valid_from,
        klass.valid_to,
    )
    assert [GroupKind.PRESCHOOL_SECTION, GroupKind.TEACHING_GROUP, GroupKind.OTHER] == [
        groups[f"g1000000-0000-4000-8000-00000000000{n}"].kind for n in (2, 4, 5)
    ]


def test_group_memberships_become_memberships_once_per_person():
    """A pupil listed twice (left, came back) is one membership over both spans."""
    klass, first, second = parse("groups")["g1000000-0000-4000-8000-000000000001"]
    assert [
        (
            "g1000000-0000-4000-8000-000000000001|4b0e2a31-7d7c-4f0e-8d8e-3f6a2c9b1002",
            date(2025, 8, 18),
            date(2026, 6, 12),
        ),
        ("g1000000-0000-4000-8000-000000000001|4b0e2a31-7d7c-4f0e-8d8e-3f6a2c9b1030", None, None),
    ] == [(m.key, m.valid_from, m.valid_to) for m in (first, second)]
    assert {MembershipRole.STUDENT} == {first.role, second.role}


def test_a_group_without_members_or_dates_maps_and_one_without_organisation_is_rejected():
    """Only the required fields: a group alone; no organisation: dead-lettered."""
    groups = parse("groups")
    assert [Group] == [type(i) for i in groups["g1000000-0000-4000-8000-000000000004"]]
    rejected = one(groups["g1000000-0000-4000-8000-000000000006"])
    assert isinstance(rejected, Rejected)
    assert "groups: organisation: Field required" == rejected.reason


# -- activities ------------------------------------------------------------------------


def test_activities_give_teacher_memberships_for_each_group_and_resolvable_teacher():
    """Teachers resolve through the duties read before or the embedded duty; others are counted."""
    connector = source()
    parse("duties", connector)
    activities = parse("activities", connector)
    memberships = activities["a1000000-0000-4000-8000-000000000001"]
    assert {
        ("g1000000-0000-4000-8000-000000000001", "4b0e2a31-7d7c-4f0e-8d8e-3f6a2c9b1001"),
        ("g1000000-0000-4000-8000-000000000004", "4b0e2a31-7d7c-4f0e-8d8e-3f6a2c9b1001"),
        ("g1000000-0000-4000-8000-000000000001", "4b0e2a31-7d7c-4f0e-8d8e-3f6a2c9b1040"),
        ("g1000000-0000-4000-8000-000000000004", "4b0e2a31-7d7c-4f0e-8d8e-3f6a2c9b1040"),
    } == {(m.group_key, m.person_key) for m in memberships}
    assert {MembershipRole.TEACHER} == {m.role for m in memberships}
    assert [] == activities["a1000000-0000-4000-8000-000000000002"]
    assert 1 == connector.unresolved_teachers


# -- deletedEntities -------------------------------------------------------------------


@pytest.mark.parametrize("name", ["deletedEntities", "deletedEntities_flat"])
def test_deleted_entities_become_removes_of_the_types_the_hub_publishes(name: str):
    """Both response shapes give `Removed` for persons, groups, ...; absences and rooms drop."""
    body = json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))
    stream = _DeletedEntities(source())
    items = [i for n, r in enumerate(deleted_records(body)) for i in stream.parse(r, n)]
    expected = {
        "deletedEntities": {
            Removed(Person, "4b0e2a31-7d7c-4f0e-8d8e-3f6a2c9b1005"),
            Removed(Organisation, "9f1c0b52-5a3e-4c1d-9a57-0d2c1b7e0005"),
            Removed(Duty, "d1000000-0000-4000-8000-000000000005"),
            Removed(Placement, "p1000000-0000-4000-8000-000000000002"),
            Removed(Group, "g1000000-0000-4000-8000-000000000005"),
        },
        "deletedEntities_flat": {
            Removed(Person, "4b0e2a31-7d7c-4f0e-8d8e-3f6a2c9b1005"),
            Removed(Group, "g1000000-0000-4000-8000-000000000005"),
        },
    }[name]
    assert expected == set(items)


@pytest.mark.parametrize(
    ("school_type", "year", "grade"),
    [
        ("FKLASS", None, 0),
        ("GR", 9, 9),
        ("GRS", 4, 4),
        ("GY", 1, 11),
        ("GY", 3, 13),
        ("VUX", 1, None),
    ],
)
def test_enrolment_school_years_become_hub_grades(school_type: str, year: int | None, grade: int):
    """F-class is 0, grundskola years stay, gymnasium years 1-3 are 11-13, adults have none."""
    assert grade == enrolment_grade(school_type, year)


# -- bookmarks -------------------------------------------------------------------------


def test_the_bookmark_is_the_newest_meta_modified_and_an_object_without_meta_leaves_it_alone():
    """`meta.modified` advances the bookmark; an object without `meta` is read, bookmark unmoved."""
    connector = source()
    parse("groups", connector)
    without_meta = {k: v for k, v in records("placements")[0].items() if k != "meta"}
    (placement,) = STREAMS["placements"](connector).parse(without_meta, 0)
    assert isinstance(placement, Placement)
    assert None is placement.source_modified
    assert {"groups": "2025-08-22T06:00:00.000Z"} == connector.bookmarks
