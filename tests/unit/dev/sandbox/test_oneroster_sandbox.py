"""The sandbox OneRoster provider: OAuth, paging, filters, changes, and the data it serves."""

from __future__ import annotations

import collections
import os
import stat
import time
from array import array
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from connectors.lms.oneroster import OneRosterSourceSettings
from connectors.privacy import is_valid_norwegian_nin
from hub.dev.sandbox.oneroster import (
    COMPETENCE_COURSES,
    DIGITAL_SKILLS_SOURCE,
    OneRosterApp,
    OneRosterTenant,
    client_credentials,
    oneroster_source_config,
    secret_env,
    secrets_env,
)
from hub.dev.sandbox.population import Role, generate
from hub.dev.sandbox.roster import roster
from hub.dev.sandbox.swedish import PersonKind, SwedishOwner, generate_swedish
from hub.dev.sandbox.webserver import SandboxServer, start_in_thread
from hub.settings import parse_settings

TENANT = "lillevik"
SECRET = "sandbox-secret-for-tests"  # noqa: S105 - a test value
USERS = "/ims/oneroster/rostering/v1p2/users"


@pytest.fixture(scope="module")
def owner_data() -> OneRosterTenant:
    """One tenant of about 300 people, built once (tests that change it build their own)."""
    return OneRosterTenant(generate(TENANT, 300))


@pytest.fixture
def served() -> Iterator[tuple[SandboxServer, OneRosterApp]]:
    app = OneRosterApp(
        {TENANT: OneRosterTenant(generate(TENANT, 120))},
        clients={TENANT: (f"skolehub-{TENANT}", SECRET)},
    )
    server = start_in_thread({"oneroster": app})
    try:
        yield server, app
    finally:
        server.stop()


def base(server: SandboxServer) -> str:
    return server.base_url(TENANT, "oneroster")


def token(server: SandboxServer, secret: str = SECRET) -> requests.Response:
    return requests.post(
        f"{base(server)}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(f"skolehub-{TENANT}", secret),
        timeout=10,
    )


def api(server: SandboxServer, path: str, bearer: str | None, **params: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    return requests.get(f"{base(server)}{path}", params=params, headers=headers, timeout=10)


def test_client_credentials_give_a_bearer_token(served: tuple[SandboxServer, OneRosterApp]):
    """Basic or form client authentication gets a token with a lifetime; a wrong one a 401."""
    server, _ = served
    answer = token(server).json()
    assert ("bearer", 3600) == (answer["token_type"], answer["expires_in"])
    form = requests.post(
        f"{base(server)}/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": f"skolehub-{TENANT}",
            "client_secret": SECRET,
        },
        timeout=10,
    )
    refused = token(server, secret="nope")
    assert (200, 401, "invalid_client") == (
        form.status_code,
        refused.status_code,
        refused.json()["error"],
    )


def test_the_api_wants_a_live_token(served: tuple[SandboxServer, OneRosterApp]):
    """No token or a revoked one is a 401 in OneRoster's error shape."""
    server, app = served
    bearer = token(server).json()["access_token"]
    assert 200 == api(server, USERS, bearer, limit=1).status_code
    missing = api(server, USERS, None)
    assert (401, "failure") == (missing.status_code, missing.json()["imsx_codeMajor"])
    assert 'Bearer error="invalid_token"' == missing.headers["WWW-Authenticate"]
    app.revoke_tokens()
    assert 401 == api(server, USERS, bearer).status_code


def test_tokens_expire_after_their_lifetime(served: tuple[SandboxServer, OneRosterApp]):
    """With a short token lifetime the same token stops working."""
    server, app = served
    app.token_ttl = 0.3
    bearer = token(server).json()["access_token"]
    deadline = time.monotonic() + 10
    while api(server, USERS, bearer, limit=1).status_code == 200:
        assert time.monotonic() < deadline, "the token never expired"
        time.sleep(0.05)
    assert 401 == api(server, USERS, bearer, limit=1).status_code


def test_collections_page_to_their_total(served: tuple[SandboxServer, OneRosterApp]):
    """Walking offsets by the limit returns every user once, as X-Total-Count says."""
    server, app = served
    bearer = token(server).json()["access_token"]
    seen: list[str] = []
    offset, total = 0, None
    while total is None or offset < total:
        page = api(server, USERS, bearer, limit=40, offset=offset)
        total = int(page.headers["X-Total-Count"])
        seen += [u["sourcedId"] for u in page.json()["users"]]
        offset += 40
    assert app.data[TENANT].count("users") == total == len(seen) == len(set(seen))


def test_filters_find_changed_records_and_bad_filters_are_refused(
    served: tuple[SandboxServer, OneRosterApp],
):
    """`dateLastModified>` finds touched and deleted records; an unknown field is a 400."""
    server, app = served
    data = app.data[TENANT]
    bearer = token(server).json()["access_token"]
    changed, deleting = data.sourced_id("users", 3), data.sourced_id("users", 4)
    data.modify("users", changed, {"givenName": "Endret"})
    data.mark_tobedeleted("users", deleting)
    recent = api(server, USERS, bearer, filter="dateLastModified>'2026-01-01T00:00:00Z'")
    found = {u["sourcedId"]: u for u in recent.json()["users"]}
    assert {changed, deleting} == set(found)
    assert ("Endret", "tobedeleted") == (
        found[changed]["givenName"],
        found[deleting]["status"],
    )
    both = api(server, USERS, bearer, filter=f"status='tobedeleted' AND sourcedId='{deleting}'")
    assert [deleting] == [u["sourcedId"] for u in both.json()["users"]]
    bad = api(server, USERS, bearer, filter="shoeSize>'4'")
    assert (400, "invalid_filter_field") == (
        bad.status_code,
        bad.json()["imsx_CodeMinor"]["imsx_codeMinorField"][0]["imsx_codeMinorFieldValue"],
    )


def test_vanished_records_are_gone_from_lists_and_lookups(
    served: tuple[SandboxServer, OneRosterApp],
):
    """A record that vanishes is neither listed, counted nor found by id."""
    server, app = served
    data = app.data[TENANT]
    bearer = token(server).json()["access_token"]
    gone = data.sourced_id("enrollments", 0)
    path = "/ims/oneroster/rostering/v1p2/enrollments"
    assert 200 == api(server, f"{path}/{gone}", bearer).status_code
    before = data.count("enrollments")
    data.vanish("enrollments", gone)
    listed = api(server, path, bearer, limit=10_000)
    assert gone not in {e["sourcedId"] for e in listed.json()["enrollments"]}
    assert (before - 1, str(before - 1)) == (
        data.count("enrollments"),
        listed.headers["X-Total-Count"],
    )
    assert 404 == api(server, f"{path}/{gone}", bearer).status_code


def test_the_lms_holds_the_directorys_people_with_deliberate_differences(
    owner_data: OneRosterTenant,
):
    """Nearly everyone carries their Feide id; a few differ or lack it; a few are LMS-only."""
    owner = owner_data.owner
    eppns = {p.eppn for p in owner.people(include_children=False)}
    users = [owner_data.record("users", owner_data.sourced_id("users", i)) for i in
             range(owner_data.count("users"))]  # fmt: skip
    feide = [
        next((u["identifier"] for u in user["userIds"] if u["type"] == "Feide"), None)
        for user in users
    ]
    matching = sum(1 for f in feide if f in eppns)
    assert 0.9 * len(eppns) <= matching < len(eppns)
    assert any(f and f != f.lower() for f in feide)  # upper-case ones to normalise
    roles = collections.Counter(user["roles"][0]["role"] for user in users if user["roles"])
    assert {"student", "teacher", "aide", "principal", "guardian"} <= set(roles)
    nins = [u["identifier"] for user in users for u in user["userIds"] if u["type"] == "NIN"]
    assert nins and all(is_valid_norwegian_nin(n) for n in nins)


def test_staff_take_tagged_competence_courses_and_have_completions(owner_data: OneRosterTenant):
    """Competence courses carry area tags; all staff take the security e-learning."""
    data = owner_data
    courses = [data.record("courses", data.sourced_id("courses", i)) for i in
               range(data.count("courses"))]  # fmt: skip
    tagged = {c["courseCode"]: c["metadata"]["tags"] for c in courses if c.get("metadata")}
    assert {c.code for c in COMPETENCE_COURSES} == set(tagged)
    assert "information-security" in tagged["KOMP-INFOSEC"]
    staff = sum(1 for p in data.owner.people(include_children=False) if p.role is not Role.PUPIL)
    classes = {
        data.sourced_id("classes", i): data.record("classes", data.sourced_id("classes", i))
        for i in range(data.count("classes"))
    }
    security = {k for k, c in classes.items() if c["classCode"].startswith("KOMP-INFOSEC")}
    enrollments = [data.record("enrollments", data.sourced_id("enrollments", i)) for i in
                   range(data.count("enrollments"))]  # fmt: skip
    learners = {
        e["user"]["sourcedId"]
        for e in enrollments
        if e["class"]["sourcedId"] in security and e["role"] == "student"
    }
    assert staff == len(learners)
    results = [data.record("results", data.sourced_id("results", i)) for i in
               range(data.count("results"))]  # fmt: skip
    statuses = collections.Counter(r["scoreStatus"] for r in results)
    assert {"fully graded", "submitted", "not submitted"} <= set(statuses)


def test_pupils_have_digital_skills_results_for_their_grade(owner_data: OneRosterTenant):
    """Each graded pupil result scores the digital-skills objectives of the class's grade."""
    data = owner_data
    result = next(
        r for i in range(data.count("results"))
        if (r := data.record("results", data.sourced_id("results", i)))["scoreStatus"]
        == "fully graded" and r.get("learningObjectiveSet", [{}])[0].get("source")
        == DIGITAL_SKILLS_SOURCE
    )  # fmt: skip
    klass = data.record("classes", result["class"]["sourcedId"])
    objectives = result["learningObjectiveSet"][0]["learningObjectiveResults"]
    grade = klass["grades"][0]
    assert 5 == len(objectives)
    assert all(o["learningObjectiveId"].startswith(f"trinn{grade}.") for o in objectives)
    assert all(1 <= o["score"] <= 4 for o in objectives)


# -- a Swedish owner's learning platform -------------------------------------------------------


@pytest.fixture(scope="module")
def swedish() -> tuple[SwedishOwner, OneRosterTenant]:
    """Solberga's SS 12000 register (about 300 people) and its LMS, built once."""
    return generate_swedish("solberga", 300), OneRosterTenant(roster("solberga", 300))


def records(data: OneRosterTenant, kind: str) -> list[dict[str, Any]]:
    """Every record of a collection, as the API renders it."""
    return [data.record(kind, data.sourced_id(kind, i)) for i in range(data.count(kind))]


def test_a_swedish_lms_holds_the_registers_people(swedish: tuple[SwedishOwner, OneRosterTenant]):
    """Users carry the register's eduPersonPrincipalNames, addresses and personnummer."""
    owner, data = swedish
    eppns = {p.eppn for p in owner.people if p.eppn}
    emails = {p.email for p in owner.people if p.email}
    users = records(data, "users")
    ids = [
        next(
            (u["identifier"] for u in user["userIds"] if u["type"] == "eduPersonPrincipalName"), ""
        )
        for user in users
    ]
    assert 0.9 * len(eppns) <= sum(1 for i in ids if i in eppns) < len(eppns)
    assert 0.95 * len(emails) <= sum(1 for user in users if user["email"] in emails) < len(emails)
    numbers = [
        u["identifier"] for user in users for u in user["userIds"] if u["type"] == "personnummer"
    ]
    assert numbers and set(numbers) <= {p.civic_no for p in owner.people}
    orgs = {o["identifier"] for o in records(data, "orgs") if o["type"] == "school"}
    assert {u.code for u in owner.units} == orgs
    grades = {g for user in users for g in user["grades"]}
    assert {"KG", "01", "09", "11", "13"} <= grades


def test_swedish_staff_take_the_competence_courses_in_swedish(
    swedish: tuple[SwedishOwner, OneRosterTenant],
):
    """The same tagged competence courses, with Swedish titles; all staff take the e-learning."""
    owner, data = swedish
    courses = {c["courseCode"]: c for c in records(data, "courses") if c.get("metadata")}
    assert {c.code for c in COMPETENCE_COURSES} == set(courses)
    assert (
        "Informationssäkerhet – e-utbildning för alla anställda",
        ["Informationssäkerhet"],
        True,
    ) == (
        courses["KOMP-INFOSEC"]["title"],
        courses["KOMP-INFOSEC"]["subjects"],
        "information-security" in courses["KOMP-INFOSEC"]["metadata"]["tags"],
    )
    security = {
        k["sourcedId"]
        for k in records(data, "classes")
        if k["classCode"].startswith("KOMP-INFOSEC")
    }
    learners = {
        e["user"]["sourcedId"]
        for e in records(data, "enrollments")
        if e["class"]["sourcedId"] in security and e["role"] == "student"
    }
    assert owner.count(PersonKind.STAFF) == len(learners)


def test_swedish_pupils_have_digital_competence_results_for_their_year(
    swedish: tuple[SwedishOwner, OneRosterTenant],
):
    """Graded pupil results score Skolverket's four aspects of digital competence, per year."""
    _owner, data = swedish
    graded = [
        r
        for r in records(data, "results")
        if r["scoreStatus"] == "fully graded"
        and r["learningObjectiveSet"][0]["source"] == "skolverket:digital-kompetens"
    ]
    years = set()
    for result in graded:
        (grade,) = data.record("classes", result["class"]["sourcedId"])["grades"]
        year = "00" if grade == "KG" else grade
        objectives = result["learningObjectiveSet"][0]["learningObjectiveResults"]
        assert 4 == len(objectives)
        assert all(o["learningObjectiveId"].startswith(f"ak{year}.") for o in objectives)
        years.add(year)
    assert {"00", "09", "13"} <= years


def test_a_big_tenant_is_built_compactly():
    """Twenty thousand people build in seconds and records are rendered only when asked."""
    started = time.monotonic()
    data = OneRosterTenant(generate("storby", 20_000))
    assert time.monotonic() - started < 30
    assert 80_000 <= data.count("enrollments")
    assert isinstance(data.tables["enrollments"].stamps, array)


def test_the_hub_yaml_entry_and_secrets_wire_up(tmp_path: Path):
    """The source entry validates; the client secret is kept 0600 and named by an env var."""
    entry = oneroster_source_config(TENANT, "http://127.0.0.1:9999/lillevik/oneroster")
    settings = parse_settings({"tenants": [{"id": TENANT, "name": "L", "sources": [entry]}]})
    source = settings.tenant(TENANT).sources[0]
    assert isinstance(source, OneRosterSourceSettings)
    token_url = getattr(source.auth, "token_url", None)
    assert "http://127.0.0.1:9999/lillevik/oneroster/oauth/token" == token_url
    assert "HUB_SANDBOX_ONEROSTER_LILLEVIK_SECRET" == secret_env(TENANT)
    first = client_credentials(tmp_path, [TENANT, "fjell-by"])
    assert first == client_credentials(tmp_path, [TENANT, "fjell-by"])
    assert 0o600 == stat.S_IMODE(os.stat(tmp_path / "oneroster-clients.json").st_mode)
    assert {
        "HUB_SANDBOX_ONEROSTER_LILLEVIK_SECRET": first[TENANT][1],
        "HUB_SANDBOX_ONEROSTER_FJELL_BY_SECRET": first["fjell-by"][1],
    } == secrets_env(tmp_path, [TENANT, "fjell-by"])


def test_changes_take_an_explicit_timestamp():
    """`modify(..., at=)` sets dateLastModified exactly, so tests can make ties."""
    data = OneRosterTenant(generate(TENANT, 40))
    when = datetime(2026, 2, 1, 12, 0, 0, tzinfo=UTC)
    sourced_id = data.sourced_id("classes", 0)
    assert "2026-02-01T12:00:00.000Z" == data.modify("classes", sourced_id, at=when)
    assert "2026-02-01T12:00:00.000Z" == data.record("classes", sourced_id)["dateLastModified"]
