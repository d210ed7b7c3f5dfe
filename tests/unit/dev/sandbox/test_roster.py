"""The sandbox roster: a Swedish SS 12000 register presented as the LMS and MDMs read owners."""

from __future__ import annotations

from collections import Counter, defaultdict

import pytest

from connectors.identity.ss12000 import duty_role, enrolment_grade
from hub.dev.sandbox.population import GroupRole, GroupType, Role, SchoolLevel, SchoolOwner
from hub.dev.sandbox.roster import SwedishRoster, roster, sandbox_policy, swedish_roster
from hub.dev.sandbox.ss12000 import SS12000Tenant
from hub.dev.sandbox.swedish import PersonKind, SwedishOwner, generate_swedish
from hub.policy import Policy
from schemas.entities import Role as HubRole

TENANT = "solberga"

#: How the hub counts the sandbox's roles (`schemas.entities.Role`).
HUB_ROLES = {
    Role.TEACHER: HubRole.TEACHER,
    Role.PRESCHOOL_TEACHER: HubRole.PRESCHOOL_TEACHER,
    Role.ASSISTANT: HubRole.ASSISTANT,
    Role.IT_PEDAGOGUE: HubRole.IT_PEDAGOGUE,
    Role.PRINCIPAL: HubRole.SCHOOL_LEADER,
    Role.PRESCHOOL_HEAD: HubRole.SCHOOL_LEADER,
    Role.ADMINISTRATION: HubRole.ADMINISTRATOR,
}


@pytest.fixture(scope="module")
def owner() -> SwedishOwner:
    """One Swedish municipality of about 600 pupils and staff, built once."""
    return generate_swedish(TENANT, 600)


@pytest.fixture(scope="module")
def register(owner: SwedishOwner) -> SwedishRoster:
    """The municipality as a roster."""
    return swedish_roster(owner)


def test_roster_generates_swedish_owners_for_swedish_tenants_only():
    """`roster` gives solberga's SS 12000 register and lillevik's Feide population."""
    assert (SwedishRoster, SchoolOwner) == (
        type(roster(TENANT, 60)),
        type(roster("lillevik", 60)),
    )
    assert ("SE", "NO") == (roster(TENANT, 60).country, roster("lillevik", 60).country)


def test_the_directory_people_are_the_registers_pupils_and_staff(
    owner: SwedishOwner, register: SwedishRoster
):
    """Everyone with an eduPersonPrincipalName is a person; children only when asked for."""
    people = list(register.people(include_children=False))
    assert sorted(p.eppn for p in owner.people if p.eppn) == sorted(p.eppn for p in people)
    assert owner.count(PersonKind.CHILD) == sum(
        1 for p in register.people() if p.role is Role.CHILD
    )
    assert all(p.eppn == f"{p.username}@{owner.realm}" for p in people)
    assert {p.eppn: p.email for p in owner.people if p.eppn} == {p.eppn: p.mail for p in people}


def test_units_keep_their_school_unit_codes_and_head_counts(
    owner: SwedishOwner, register: SwedishRoster
):
    """A unit's org number is its skolenhetskod; its children are the placements there."""
    placed = Counter(owner.units[p.unit].code for p in owner.placements)
    pupils = Counter(owner.units[p.unit].code for p in owner.people if p.kind is PersonKind.PUPIL)
    assert [u.code for u in owner.units] == [u.org_number for u in register.units]
    assert (placed, pupils) == (
        Counter({u.org_number: u.child_count for u in register.units if u.child_count}),
        Counter({u.org_number: u.pupil_count for u in register.units if u.pupil_count}),
    )
    assert {SchoolLevel.PRESCHOOL, SchoolLevel.PRIMARY, SchoolLevel.UPPER_SECONDARY} == {
        u.level for u in register.units
    }
    acronyms = [u.acronym for u in register.units]
    assert len(acronyms) == len(set(acronyms))


def test_duties_give_the_roles_the_hub_reads_from_them(
    owner: SwedishOwner, register: SwedishRoster
):
    """Every staff member's role is what the hub's SS 12000 connector makes of their duty."""
    by_index = {p.seq: p for p in register.people()}
    assert [] == [
        (duty.role, by_index[duty.person].role)
        for duty in owner.duties
        if HUB_ROLES[by_index[duty.person].role] != duty_role(duty.role, duty.description)
    ]


def test_grades_are_counted_as_the_hub_counts_them(owner: SwedishOwner, register: SwedishRoster):
    """F-class is grade 0 and gymnasium years are 11-13, as the SS 12000 connector says."""
    by_index = {p.seq: p for p in register.people()}
    pupils = [p for p in owner.people if p.kind is PersonKind.PUPIL]
    assert [] == [
        p.index
        for p in pupils
        if by_index[p.index].grade != enrolment_grade(p.school_type or "", p.grade)
    ]
    assert {0, 11, 13} <= {by_index[p.index].grade for p in pupils}


def test_groups_and_their_members_carry_over(owner: SwedishOwner, register: SwedishRoster):
    """Groups keep their pupils and get their teachers as faculty and subject codes."""
    faculty: dict[tuple[str, str], set[int]] = defaultdict(set)
    students: dict[tuple[str, str], set[int]] = defaultdict(set)
    for person in register.people():
        for membership in person.memberships:
            key = (membership.group.unit_org_number, membership.group.name)
            target = students if membership.role is GroupRole.STUDENT else faculty
            target[key].add(person.seq)
    for group in owner.groups:
        key = (owner.units[group.unit].code, group.name)
        assert set(group.members) == students[key], key
    for activity in owner.activities:
        group = owner.groups[activity.groups[0]]
        teachers = {owner.duties[d].person for d in activity.duties}
        assert teachers <= faculty[(owner.units[group.unit].code, group.name)]
    kinds = Counter((g.type, bool(g.grep_code)) for g in register.groups)
    assert {(GroupType.BASE, False), (GroupType.TEACHING, True), (GroupType.OTHER, False)} == set(
        kinds
    )
    assert {"GRGRMAT01", "GRGRSVE01", "MATMAT01c", "SVESVE03"} <= {
        g.grep_code for g in register.groups
    }


def test_the_sandbox_policy_names_the_ss12000_units_and_rewrites_the_workspace_domain(
    owner: SwedishOwner, register: SwedishRoster
):
    """Aliases name the SS 12000 organisation ids; Google accounts are rewritten to the realm."""
    served = SS12000Tenant(owner)
    policy = Policy.model_validate(sandbox_policy(register))
    assert {u.acronym: served.unit_id(n) for n, u in enumerate(register.units)} == (
        policy.unit_aliases
    )
    (rewrite,) = policy.matching.domain_rewrites
    assert ("skola.solberga.se", "solberga.se") == (rewrite.from_domain, rewrite.to_domain)


def test_a_norwegian_policy_has_feide_aliases_and_no_rewrite():
    """For a Feide tenant the aliases are the units' Feide ids and matching is the default."""
    norwegian = roster("lillevik", 200)
    assert {"unit_aliases": {u.acronym: f"NO{u.org_number}" for u in norwegian.units}} == (
        sandbox_policy(norwegian)
    )
