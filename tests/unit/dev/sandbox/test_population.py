import re
from collections import Counter
from datetime import date

import pytest

from hub.dev.sandbox.population import (
    FAULT_KINDS,
    GroupRole,
    GroupType,
    Role,
    SchoolLevel,
    generate,
    grade_urn,
    group_urn,
    is_valid_nin,
    is_valid_org_number,
    org_number_check_digit,
    synthetic_nin,
)

GROUP_URN = re.compile(
    r"^urn:mace:feide\.no:go:group:(?P<type>[bua]):(?P<grep>[A-Z]{3}\d{4}|):NO(?P<org>\d{9}):"
    r"(?P<local>[A-Za-z0-9%._~-]+):(?P<from>\d{4}-\d{2}-\d{2}):(?P<to>\d{4}-\d{2}-\d{2}):"
    r"(?P<role>student|faculty):(?P<name>[A-Za-z0-9%._~-]+)$"
)
GROUPID_URN = re.compile(
    r"^urn:mace:feide\.no:go:groupid:[bua]:NO\d{9}:[a-z0-9%._~-]+:\d{4}-\d{2}-\d{2}:"
    r"\d{4}-\d{2}-\d{2}$"
)


def independent_nin_checks(first9: str) -> str | None:
    """Check digits computed the long way, to test the generator against."""
    first = (3, 7, 6, 1, 8, 9, 4, 5, 2)
    k1 = (11 - sum(int(d) * w for d, w in zip(first9, first, strict=True)) % 11) % 11
    if k1 == 10:
        return None
    digits = first9 + str(k1)
    weights = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)
    k2 = (11 - sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 11) % 11
    return None if k2 == 10 else f"{k1}{k2}"


@pytest.fixture(scope="module")
def owner():
    return generate("skotthyll", 250)


@pytest.fixture(scope="module")
def people(owner):
    return list(owner.people())


def test_generation_is_deterministic():
    """The same tenant, scale and seed give the same owner and the same people."""
    first, second = generate("lade", 300, seed=7), generate("lade", 300, seed=7)
    assert first == second
    assert list(first.people()) == list(second.people())


def test_another_seed_gives_other_people():
    """A different seed changes names and numbers."""
    one = [p.username for p in generate("lade", 300, seed=1).people()]
    other = [p.username for p in generate("lade", 300, seed=2).people()]
    assert one != other


def test_small_scale_has_two_schools_and_a_preschool(owner):
    """Scale 250 gives at least two schools and at least one preschool."""
    assert len(owner.schools) >= 2
    assert len(owner.preschools) >= 1


@pytest.mark.parametrize("scale", [250, 1_000, 6_000])
def test_person_count_is_close_to_scale(scale):
    """Pupils plus staff come within 10 % of the requested scale."""
    owner = generate("lade", scale)
    assert abs(owner.person_count - scale) <= scale * 0.1


def test_large_scale_plans_without_streaming():
    """Planning 100,000 people is quick and gives a mid-sized owner's shape, scaled up."""
    owner = generate("stor", 100_000)
    assert 90_000 <= owner.person_count <= 110_000
    assert 150 <= len(owner.schools) <= 300
    assert 0.18 <= owner.child_count / 100_000 <= 0.22


def test_every_grade_is_taught(owner):
    """Schools together cover 1. to 10. trinn; barneskole 1-7 and ungdomsskole 8-10 exist."""
    grades = {g for unit in owner.schools for g in unit.grades}
    assert set(range(1, 11)) == grades
    assert {(1, 2, 3, 4, 5, 6, 7), (8, 9, 10)} <= {u.grades for u in owner.schools}


def test_stream_agrees_with_counts(owner, people):
    """Streamed people match the planned counts per unit and in total."""
    by_unit = Counter((p.primary_unit, p.role is Role.PUPIL, p.role is Role.CHILD) for p in people)
    for unit in owner.units:
        assert unit.pupil_count == by_unit[(unit.org_number, True, False)]
        assert unit.child_count == by_unit[(unit.org_number, False, True)]
        assert unit.staff_count == by_unit[(unit.org_number, False, False)]
    assert owner.person_count == sum(1 for p in people if p.has_feide_account)


def test_staff_roles_are_all_present(people):
    """Every staff role appears, with rektor per school and styrer per preschool."""
    roles = Counter(p.role for p in people)
    assert set(Role) == set(roles)
    assert 2 == roles[Role.PRINCIPAL]


def test_usernames_are_unique_lowercase_ascii(people):
    """Usernames are unique, lowercase ASCII letters and digits."""
    usernames = [p.username for p in people]
    assert len(usernames) == len(set(usernames))
    assert all(re.fullmatch(r"[a-z]{1,6}\d+", u) for u in usernames)


def test_eppn_is_username_at_realm(owner, people):
    """The eppn is username@<tenant>.kommune.no."""
    assert "skotthyll.kommune.no" == owner.realm
    assert all(f"{p.username}@skotthyll.kommune.no" == p.eppn for p in people)


@pytest.mark.parametrize(
    ("tenant", "realm", "name"),
    [
        ("nord-fron", "nord-fron.kommune.no", "Nord-Fron kommune"),
        ("bærum", "baerum.kommune.no", "Bærum kommune"),
    ],
)
def test_realm_and_name_follow_the_tenant(tenant, realm, name):
    """The realm is the tenant folded to ASCII (hyphens kept); the name is capitalised."""
    owner = generate(tenant, 50)
    assert (realm, name) == (owner.realm, owner.name)


def test_names_use_norwegian_letters(people):
    """Some names contain æ, ø or å."""
    assert any(set("æøåÆØÅ") & set(p.full_name) for p in people)


def test_nins_are_valid_unique_synthetic_numbers(people):
    """Every NIN is valid, unique, and a synthetic test number (month + 80)."""
    nins = [p.nin for p in people]
    assert len(nins) == len(set(nins))
    assert all(is_valid_nin(n) for n in nins)
    assert all(81 <= int(n[2:4]) <= 92 for n in nins)


def test_nin_encodes_birth_date(people):
    """The first six digits are the birth date with 80 added to the month."""
    for person in people:
        born = person.birth_date
        assert f"{born:%d}{born.month + 80}{born:%y}" == person.nin[:6]


def test_synthetic_nin_check_digits_match_an_independent_computation():
    """synthetic_nin's check digits agree with the mod-11 rule computed separately."""
    for seq in range(5):
        nin = synthetic_nin(date(2014, 3, 9), seq)
        assert independent_nin_checks(nin[:9]) == nin[9:]
        assert "098314" == nin[:6]
        assert 500 <= int(nin[6:9])


def test_synthetic_nin_sequence_is_distinct():
    """Consecutive seq values give distinct numbers for the same date."""
    assert 50 == len({synthetic_nin(date(1980, 12, 31), seq) for seq in range(50)})


def test_is_valid_nin_accepts_ordinary_and_d_numbers():
    """Ordinary numbers and D-numbers (day + 40) with valid checks are recognised."""
    assert "57" == independent_nin_checks("010190120")
    assert "40" == independent_nin_checks("410190120")
    assert is_valid_nin("01019012057")
    assert is_valid_nin("41019012040")


@pytest.mark.parametrize(
    "value", ["1234567890", "123456789012", "0101901234x", "32019012300", "01139012345"]
)
def test_is_valid_nin_rejects_malformed_numbers(value):
    """Wrong length, non-digits, impossible dates and bad check digits are rejected."""
    assert not is_valid_nin(value)


def test_is_valid_nin_rejects_a_wrong_check_digit():
    """Changing the last digit of a valid number makes it invalid."""
    nin = synthetic_nin(date(2010, 6, 1), 0)
    assert not is_valid_nin(nin[:-1] + str((int(nin[-1]) + 1) % 10))


def test_org_number_check_digit_of_a_published_number():
    """974760673 (Brønnøysundregistrene) has check digit 3."""
    assert 3 == org_number_check_digit("97476067")
    assert is_valid_org_number("974760673")
    assert not is_valid_org_number("974760674")


def test_org_numbers_are_valid_and_unique(owner):
    """The owner's and every unit's organisation number is valid and distinct."""
    numbers = [owner.org_number, *(u.org_number for u in owner.units)]
    assert len(numbers) == len(set(numbers))
    assert all(is_valid_org_number(n) for n in numbers)


def test_every_group_entitlement_has_the_feide_format(people):
    """Group entitlements follow urn:mace:feide.no:go:group:<type>:<grep>:<org>:...:<name>."""
    values = [
        e for p in people for e in p.entitlements if e.startswith("urn:mace:feide.no:go:group:")
    ]
    assert values
    assert [] == [v for v in values if not GROUP_URN.match(v)]


def test_every_group_id_has_the_feide_format(people):
    """Group id entitlements follow urn:mace:feide.no:go:groupid:<type>:<org>:<id>:<from>:<to>."""
    values = [
        e for p in people for e in p.entitlements if e.startswith("urn:mace:feide.no:go:groupid:")
    ]
    assert values
    assert [] == [v for v in values if not GROUPID_URN.match(v)]


def test_group_urn_fields(owner):
    """A teaching group URN carries its Grep code, unit, school year, role and encoded name."""
    group = next(g for g in owner.groups if g.type is GroupType.TEACHING and g.grade == 10)
    fields = GROUP_URN.match(group_urn(group, GroupRole.FACULTY)).groupdict()
    assert group.grep_code in {"MAT0010", "NOR0214", "ENG0012", "NAT0010"}
    assert {
        "type": "u",
        "grep": group.grep_code,
        "org": group.unit_org_number,
        "local": group.local_id,
        "from": "2025-08-01",
        "to": "2026-06-30",
        "role": "faculty",
        "name": group.name.replace(" ", "%20"),
    } == fields


def test_base_groups_have_no_grep_code(owner):
    """Base groups (classes) leave the Grep code empty; teaching groups always have one."""
    assert {""} == {g.grep_code for g in owner.groups if g.type is GroupType.BASE}
    assert "" not in {g.grep_code for g in owner.groups if g.type is GroupType.TEACHING}


def test_section_names_are_percent_encoded_utf8(owner):
    """Non-ASCII group names are percent-encoded as UTF-8 in the URN."""
    section = next(g for g in owner.groups if g.type is GroupType.OTHER)
    encoded = group_urn(section, GroupRole.STUDENT).rsplit(":", 1)[1]
    assert (
        section.name.replace(" ", "%20")
        .replace("å", "%C3%A5")
        .replace("ø", "%C3%B8")
        .replace("æ", "%C3%A6")
        == encoded
    )


def test_pupils_carry_their_grade_and_groups(people):
    """Each pupil has the aarstrinn Grep URN, one class and four teaching groups."""
    for pupil in (p for p in people if p.role is Role.PUPIL):
        assert grade_urn(pupil.grade) in pupil.entitlements
        types = Counter(m.group.type for m in pupil.memberships)
        assert {GroupType.BASE: 1, GroupType.TEACHING: 4} == types


def test_grade_urn_is_the_udir_aarstrinn_uri():
    """Grade 7 maps to Udir's aarstrinn7 URI."""
    expected = "urn:mace:feide.no:go:grep:http://psi.udir.no/laereplan/aarstrinn/aarstrinn7"
    assert expected == grade_urn(7)


def test_every_group_has_a_teacher(owner, people):
    """Every class and teaching group has at least one faculty member."""
    taught = {m.group.key for p in people for m in p.memberships if m.role == "faculty"}
    assert {g.key for g in owner.groups} == taught


def test_group_sizes_match_memberships(owner, people):
    """Each group's student count equals the people holding a student membership."""
    students = Counter(m.group.key for p in people for m in p.memberships if m.role == "student")
    assert {g.key: g.student_count for g in owner.groups} == dict(students)


@pytest.mark.parametrize(
    ("role", "affiliations"),
    [
        (Role.PUPIL, ("student", "member")),
        (Role.TEACHER, ("faculty", "employee", "member")),
        (Role.ASSISTANT, ("staff", "employee", "member")),
        (Role.PRINCIPAL, ("staff", "employee", "member")),
    ],
)
def test_affiliations_follow_the_role(people, role, affiliations):
    """Affiliations are hierarchical and the primary one comes first."""
    person = next(p for p in people if p.role is role)
    assert (affiliations, affiliations[0]) == (person.affiliations, person.primary_affiliation)


def test_children_have_no_feide_account_but_are_counted(owner, people):
    """Preschool children are streamed, marked without account, and grouped by section."""
    children = [p for p in people if p.role is Role.CHILD]
    assert owner.child_count == len(children)
    assert not any(c.has_feide_account for c in children)
    sections = {g.key: g.student_count for g in owner.groups if g.type is GroupType.OTHER}
    assert sections == dict(Counter(c.memberships[0].group.key for c in children))
    assert [] == [p for p in owner.people(include_children=False) if p.role is Role.CHILD]


def test_preschools_are_barnehager(owner):
    """Preschool units are barnehager for ages 1-5 without grades."""
    for unit in owner.preschools:
        assert (SchoolLevel.PRESCHOOL, (), (1, 2, 3, 4, 5)) == (unit.level, unit.grades, unit.ages)


def test_every_person_has_a_password(people):
    """Every person has a non-empty password of their own."""
    passwords = [p.password for p in people]
    assert all(len(p) >= 12 for p in passwords)
    assert len(passwords) == len(set(passwords))


def test_no_faults_by_default(people):
    """Without faults=True no person is malformed."""
    assert [] == [p for p in people if p.fault]


def test_faults_cover_every_kind_once():
    """faults=True marks one person per fault kind, all with Feide accounts."""
    faulty = [p for p in generate("feil", 400, faults=True).people() if p.fault]
    assert sorted(FAULT_KINDS) == sorted(p.fault for p in faulty)
    assert all(p.has_feide_account for p in faulty)


def test_faulty_records_are_really_malformed():
    """Each fault shows in the record: bad NIN, bare eppn, unknown affiliation, and so on."""
    owner = generate("feil", 400, faults=True)
    units = {u.org_number for u in owner.units}
    faulty = {p.fault: p for p in owner.people() if p.fault}
    assert not is_valid_nin(faulty["nin_check_digit"].nin)
    assert "@" not in faulty["eppn_without_realm"].eppn
    assert "elev" == faulty["affiliation_unknown"].primary_affiliation
    assert any(
        e.count(":") < 13 and e.startswith("urn:mace:feide.no:go:group:")
        for e in faulty["group_urn_truncated"].entitlements
    )
    assert set(faulty["unit_dangling"].unit_org_numbers) - units
    assert "" == faulty["given_name_missing"].given_name


@pytest.mark.parametrize("tenant", ["", "Skotthyll", "a b", "x" * 41])
def test_generate_rejects_bad_tenant_names(tenant):
    """Tenant names are lowercase, start with a letter and are at most 40 characters."""
    with pytest.raises(ValueError, match="tenant"):
        generate(tenant, 250)
