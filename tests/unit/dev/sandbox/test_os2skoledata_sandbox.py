"""The sandbox Danish kommune and its OS2skoledata API behave as the real service does."""

from __future__ import annotations

from datetime import date
from typing import Any

import requests

from connectors.privacy import national_id
from hub.dev.sandbox.danish import EMPLOYEE_ROLES, generate_danish, synthetic_cpr
from hub.dev.sandbox.os2skoledata import TOO_MANY_CHANGES, danish_tenants
from hub.dev.sandbox.webserver import sandbox_apps
from tests.fixtures.os2skoledata import OS2skoledataSandbox


def call(
    sandbox: OS2skoledataSandbox, method: str, endpoint: str, **kwargs: Any
) -> requests.Response:
    """One request to the sandbox API with the tenant's key."""
    headers = {"ApiKey": sandbox.secret}
    return requests.request(
        method, sandbox.base_url + endpoint, headers=headers, timeout=10, **kwargs
    )


def test_every_cpr_number_is_a_valid_danish_one_of_the_unissued_series() -> None:
    """The detector reads each number as DK; year 30-36 with a seventh digit 4 or 9 (2030s)."""
    kommune = generate_danish("sohavn", 300)
    numbers = [p.cpr for p in kommune.persons]
    assert len(numbers) == len(set(numbers))
    for number in numbers:
        found = national_id(number, "DK")
        assert found is not None and "DK" == found.country
        assert 30 <= int(number[4:6]) <= 36 and number[6] in "49"
    assert synthetic_cpr(0) != synthetic_cpr(2352)


def test_the_kommune_has_grades_0_to_9_a_daycare_an_sfo_and_every_staff_role() -> None:
    """Folkeskoler from 0. to 9. klasse, a dagtilbud, SFO groups and STIL's seven staff roles."""
    kommune = generate_danish("sohavn", 120)
    levels = {g.level for g in kommune.groups if g.group_type == "HOVEDGRUPPE" and g.level}
    assert {str(n) for n in range(10)} == levels
    assert {"SCHOOL", "DAYCARE"} == {i.type for i in kommune.institutions}
    assert any(g.group_type == "SFO" for g in kommune.groups)
    assert set(EMPLOYEE_ROLES) == {r for p in kommune.persons for r in p.employee_roles}
    assert any(p.protected for p in kommune.persons)


def test_a_missing_or_wrong_key_is_refused(os2skoledata_sandbox: OS2skoledataSandbox) -> None:
    """Without the right `ApiKey` header every endpoint answers 401."""
    url = os2skoledata_sandbox.base_url + "/api/institutions"
    assert 401 == requests.get(url, timeout=10).status_code
    assert 401 == requests.get(url, headers={"ApiKey": "nope"}, timeout=10).status_code
    assert 200 == call(os2skoledata_sandbox, "GET", "/api/institutions").status_code


def test_the_change_log_answers_409_until_a_head_is_set_and_after_a_flood(
    os2skoledata_sandbox: OS2skoledataSandbox,
) -> None:
    """No starting point: 409; after one: the changes since; 10,000 changes: 409 again."""
    sandbox = os2skoledata_sandbox
    number = sandbox.data.kommune.institutions[0].number
    assert 409 == call(sandbox, "GET", f"/api/changes/{number}").status_code
    head = call(sandbox, "GET", "/api/head").json()
    assert 200 == call(sandbox, "POST", f"/api/head/{number}", json={"head": head}).status_code
    assert [] == call(sandbox, "GET", f"/api/changes/{number}").json()
    person = sandbox.data.kommune.persons[0]
    sandbox.app.control(sandbox.tenant, "delete_person", {"id": person.database_id})
    (change,) = call(sandbox, "GET", f"/api/changes/{number}").json()
    assert ("INSTITUTION_PERSON", "DELETE", person.database_id) == (
        change["entityType"],
        change["eventType"],
        change["entityId"],
    )
    assert (
        []
        == call(sandbox, "POST", "/api/changes/persons", json={"ids": [person.database_id]}).json()
    )
    lower = call(sandbox, "POST", f"/api/head/{number}", json={"head": head - 1})
    assert 400 == lower.status_code
    sandbox.app.control(sandbox.tenant, "flood", {"institution": 0, "count": TOO_MANY_CHANGES})
    assert 409 == call(sandbox, "GET", f"/api/changes/{number}").status_code


def test_groups_by_id_are_main_groups_only(os2skoledata_sandbox: OS2skoledataSandbox) -> None:
    """`POST /api/changes/groups` gives main groups only (HOVEDGRUPPE), as OS2skoledata does."""
    groups = os2skoledata_sandbox.data.kommune.groups
    ids = [g.database_id for g in groups]
    found = call(os2skoledata_sandbox, "POST", "/api/changes/groups", json={"ids": ids}).json()
    assert {"HOVEDGRUPPE"} == {g["groupType"] for g in found}
    assert sum(g.group_type == "HOVEDGRUPPE" for g in groups) == len(found)


def test_the_standard_apps_serve_os2skoledata_for_danish_tenants_only() -> None:
    """`sandbox_apps` mounts OS2skoledata when a Danish tenant is named, with its client key."""
    clients = {"lillevik": ("c", "s1"), "sohavn": ("c", "s2")}
    apps = sandbox_apps(["lillevik", "sohavn"], 40, clients=clients)
    assert ["sohavn"] == list(apps["os2skoledata"].tenants)  # type: ignore[attr-defined]
    assert "s2" == apps["os2skoledata"].keys["sohavn"]  # type: ignore[attr-defined]
    assert "os2skoledata" not in sandbox_apps(["lillevik"], 40, clients={"lillevik": ("c", "s")})
    assert ["sohavn"] == danish_tenants(["lillevik", "solberga", "sohavn"])


def test_the_danish_roster_gives_the_lms_and_mdms_the_kommunes_people() -> None:
    """`roster("sohavn")` holds OS2skoledata's people under their UNI-Login and addresses."""
    from hub.dev.sandbox.danish_roster import DanishRoster, realm_of
    from hub.dev.sandbox.mdm.fleet import Fleet
    from hub.dev.sandbox.oneroster import OneRosterTenant
    from hub.dev.sandbox.population import GroupType, Role
    from hub.dev.sandbox.roster import roster, sandbox_policy

    owner = roster("sohavn", 120)
    assert isinstance(owner, DanishRoster)
    kommune = owner.kommune
    assert [p.uni_id for p in kommune.persons] == [p.username for p in owner.everyone]
    assert {f"{p.uni_id}@{realm_of('sohavn')}" for p in kommune.persons} == {
        p.mail for p in owner.everyone
    }
    assert {"951001", "951002", "951003"} == {u.org_number for u in owner.units}
    classes = [g for g in owner.groups if g.type is GroupType.BASE]
    assert list(range(10)) * 2 == [g.grade for g in classes]
    roles = {p.role for p in owner.everyone}
    assert {Role.PUPIL, Role.CHILD, Role.TEACHER, Role.PRESCHOOL_TEACHER, Role.PRINCIPAL} <= roles
    assert {"BAKKS": "100", "FJORS": "101", "BOERD": "102"} == sandbox_policy(owner)["unit_aliases"]
    assert OneRosterTenant(owner).words.homeroom == "Klasse {label}"
    assert Fleet.build(owner).words.country == "Denmark"


def test_a_danish_sandbox_policy_holds_the_danish_targets() -> None:
    """Six competence areas, the module required of lærer, pædagog and leder, dated measurements."""
    from hub.dev.sandbox.danish_roster import danish_policy
    from hub.dev.sandbox.oneroster import COMPETENCE_COURSES
    from hub.dev.sandbox.roster import roster, sandbox_policy
    from hub.policy import Policy
    from schemas.entities import Role
    from schemas.lms import CompetenceArea

    policy = Policy.model_validate(sandbox_policy(roster("sohavn", 120)))
    assert set(CompetenceArea) - {CompetenceArea.PROGRAMMING_ROBOTICS} == set(
        policy.competence_areas
    )
    (required,) = policy.competence_requirements
    assert (
        CompetenceArea.INFORMATION_SECURITY,
        (Role.TEACHER, Role.PRESCHOOL_TEACHER, Role.SCHOOL_LEADER),
        12,
    ) == (required.area, required.roles, required.within_months)
    # The sandbox LMS's information-security e-learning course is in its area.
    tags = {t for c in COMPETENCE_COURSES for t in c.tags}
    assert "information-security" in tags
    assert set(policy.competence_areas[CompetenceArea.INFORMATION_SECURITY].course_tags) <= tags
    # 7 December is in the fourth quarter: the next two quarters begin in January and April.
    assert ["2027-01-01", "2027-04-01"] == danish_policy(date(2026, 12, 7))["measurements"]
    assert ["2026-04-01", "2026-07-01"] == danish_policy(date(2026, 2, 10))["measurements"]
