"""The Swedish sandbox: its generated school owner and the SS 12000 API that serves it."""

from __future__ import annotations

import os
import re
import stat
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from connectors.base import Rejected
from connectors.identity.ss12000 import SS12000SourceSettings, luhn_valid, normalise_civic_no
from hub.dev.sandbox.oneroster import client_credentials
from hub.dev.sandbox.ss12000 import (
    SS12000App,
    SS12000Tenant,
    secret_env,
    secrets_env,
    ss12000_source_config,
    swedish_tenants,
    tenant_config,
    tenant_summary,
)
from hub.dev.sandbox.swedish import (
    PersonKind,
    SwedishOwner,
    civic_no_formats,
    generate_swedish,
    luhn_digit,
    synthetic_civic_no,
)
from hub.dev.sandbox.webserver import SandboxServer, sandbox_apps, start_in_thread
from hub.settings import parse_settings
from schemas.entities import Person

TENANT = "solberga"
SECRET = "sandbox-secret-for-ss12000-tests"  # noqa: S105 - a test value


@pytest.fixture(scope="module")
def owner() -> SwedishOwner:
    """One Swedish municipality of about 600 pupils and staff, built once."""
    return generate_swedish(TENANT, 600)


@pytest.fixture
def served() -> Iterator[tuple[SandboxServer, SS12000App]]:
    app = SS12000App(
        {TENANT: SS12000Tenant(generate_swedish(TENANT, 60))},
        clients={TENANT: (f"skolehub-{TENANT}", SECRET)},
    )
    server = start_in_thread({"ss12000": app})
    try:
        yield server, app
    finally:
        server.stop()


class Api:
    """A small authenticated client of the sandbox API."""

    def __init__(self, server: SandboxServer) -> None:
        self.base = server.base_url(TENANT, "ss12000")
        token = requests.post(
            f"{self.base}/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(f"skolehub-{TENANT}", SECRET),
            timeout=10,
        ).json()["access_token"]
        self.headers = {"Authorization": f"Bearer {token}"}

    def get(self, path: str, **params: Any) -> requests.Response:
        return requests.get(f"{self.base}{path}", params=params, headers=self.headers, timeout=10)

    def all(self, path: str, **params: Any) -> list[dict[str, Any]]:
        body = self.get(path, **params).json()
        records = list(body["data"])
        while body.get("pageToken"):
            body = self.get(path, pageToken=body["pageToken"]).json()
            records += body["data"]
        return records


# -- the population ----------------------------------------------------------------------


def test_civic_numbers_are_test_series_numbers_with_a_valid_luhn_digit(owner: SwedishOwner):
    """Every civic number is 12 digits, birth number 980-999, Luhn-valid, and unique."""
    numbers = [p.civic_no for p in owner.people]
    assert len(numbers) == len(set(numbers))
    assert [] == [n for n in numbers if not re.fullmatch(r"\d{12}", n)]
    assert [] == [n for n in numbers if not 980 <= int(n[8:11]) <= 999]
    assert [] == [n for n in numbers if not luhn_valid(n[2:])]


def test_served_civic_numbers_vary_in_format_but_normalise_to_the_canonical_one(
    owner: SwedishOwner,
):
    """Some are `YYYYMMDD-NNNC` or `YYMMDD-NNNC`, some temporary; all others normalise back."""
    served = [p.civic_no_served for p in owner.people]
    shapes = Counter(
        "dash12" if re.fullmatch(r"\d{8}-\d{4}", s) else
        "dash10" if re.fullmatch(r"\d{6}-\d{4}", s) else
        "temporary" if re.fullmatch(r"\d{8}TF\d{2}", s) else
        "plain" for s in served
    )  # fmt: skip
    assert {"plain", "dash12", "dash10", "temporary"} == set(shapes)
    for person in owner.people:
        expected = None if "TF" in person.civic_no_served else person.civic_no
        assert expected == normalise_civic_no(person.civic_no_served)


def test_a_few_civic_numbers_are_coordination_numbers(owner: SwedishOwner):
    """Samordningsnummer (day + 60) are among the generated numbers."""
    assert any(int(p.civic_no[6:8]) > 60 for p in owner.people)


def test_the_check_digit_matches_the_tax_agencys_worked_example():
    """640823-323 gets check digit 4 (Skatteverket's example 640823-3234)."""
    assert 4 == luhn_digit("640823323")


def test_synthetic_numbers_refuse_birth_numbers_outside_the_test_series():
    """Only 980-999 are handed out, so no number can belong to a real person."""
    with pytest.raises(ValueError):
        synthetic_civic_no(datetime(2015, 3, 3).date(), 123)


def test_every_format_of_a_civic_number_is_listed_for_leak_hunts():
    """12 and 10 digits, with and without the dash."""
    assert (
        "201503039826",
        "20150303-9826",
        "1503039826",
        "150303-9826",
        "150303-9826",
    ) == civic_no_formats("201503039826")


def test_names_are_swedish_with_a_ring_and_diaereses(owner: SwedishOwner):
    """Given and family names use å, ä and ö."""
    text = " ".join(f"{p.given_name} {p.family_name}" for p in owner.people)
    assert {"å", "ä", "ö"} <= set(text.lower())


def test_units_have_unique_eight_digit_codes_and_their_school_types(owner: SwedishOwner):
    """Preschools are FS; the first school F-6, the second 7-9; one upper-secondary GY 1-3."""
    codes = [u.code for u in owner.units]
    assert len(codes) == len(set(codes))
    assert [] == [c for c in codes if not re.fullmatch(r"\d{8}", c)]
    schools = owner.schools
    assert (("FKLASS", "GR"), (0, 1, 2, 3, 4, 5, 6)) == (schools[0].school_types, schools[0].grades)
    assert (("GR",), (7, 8, 9)) == (schools[1].school_types, schools[1].grades)
    assert [(("GY",), (1, 2, 3))] == [
        (u.school_types, u.grades) for u in schools if "GY" in u.school_types
    ]
    assert owner.preschools and {("FS",)} == {u.school_types for u in owner.preschools}


def test_every_preschool_child_is_placed_in_a_section_of_its_preschool(owner: SwedishOwner):
    """One placement per child, in an `Avdelning` of the unit the child belongs to."""
    children = [p for p in owner.people if p.kind is PersonKind.CHILD]
    placements = {pl.person: pl for pl in owner.placements}
    assert {c.index for c in children} == set(placements)
    for child in children:
        section = owner.groups[placements[child.index].group]
        assert ("Avdelning", child.unit, True) == (
            section.group_type,
            section.unit,
            child.index in section.members,
        )
        assert (None, None) == (child.eppn, child.email)


def test_staff_have_duties_with_the_standards_roles(owner: SwedishOwner):
    """Each staff member has one duty; rektor, lärare, förskollärare and barnskötare exist."""
    staff = {p.index for p in owner.people if p.kind is PersonKind.STAFF}
    assert staff == {d.person for d in owner.duties}
    roles = Counter(d.role for d in owner.duties)
    assert {"Rektor", "Lärare", "Förskollärare", "Barnskötare", "Annan personal"} <= set(roles)
    assert len(owner.units) == roles["Rektor"]


def test_pupils_are_in_a_class_of_their_grade_with_a_mentor(owner: SwedishOwner):
    """Every pupil is in exactly one `Klass`, which a teacher's duty mentors."""
    classes = [g for g in owner.groups if g.group_type == "Klass"]
    members = Counter(m for g in classes for m in g.members)
    pupils = [p for p in owner.people if p.kind is PersonKind.PUPIL]
    assert {1} == {members[p.index] for p in pupils}
    mentored = {g for d in owner.duties for g, role in d.assignments if role == "Mentor"}
    assert {g.index for g in classes} == mentored


def test_generation_is_deterministic_for_a_seed():
    """The same tenant, scale and seed give the same people; another seed does not."""
    first, again = generate_swedish(TENANT, 80), generate_swedish(TENANT, 80)
    other = generate_swedish(TENANT, 80, seed=2)
    assert first.people == again.people
    assert first.people != other.people


# -- the API ---------------------------------------------------------------------------


def test_the_api_refuses_requests_without_a_token(served: tuple[SandboxServer, SS12000App]):
    """No bearer token: 401 with `WWW-Authenticate`, in the standard's error shape."""
    server, _ = served
    response = requests.get(f"{server.base_url(TENANT, 'ss12000')}/persons", timeout=10)
    assert (401, "unauthorized") == (response.status_code, response.json()["code"])
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_page_token_with_a_filter_is_answered_with_400(served: tuple[SandboxServer, SS12000App]):
    """Sending `pageToken` with `meta.modified.after` is refused, as the standard prescribes."""
    server, _ = served
    api = Api(server)
    token = api.get("/persons", limit=5).json()["pageToken"]
    response = api.get(
        "/persons", pageToken=token, **{"meta.modified.after": "2025-01-01T00:00:00Z"}
    )
    assert (400, "invalid_filter") == (response.status_code, response.json()["code"])
    assert (
        "pageToken cannot be combined with filters (meta.modified.after)"
        == (response.json()["message"])
    )


def test_paging_with_tokens_returns_every_object_once(served: tuple[SandboxServer, SS12000App]):
    """Pages of 7 persons, followed by their tokens, give every person exactly once."""
    server, app = served
    people = Api(server).all("/persons", limit=7)
    assert app.data[TENANT].count("persons") == len({p["id"] for p in people}) == len(people)


def test_a_token_that_the_server_did_not_issue_is_a_bad_request(
    served: tuple[SandboxServer, SS12000App],
):
    """A made-up page token is answered with 400, not a page."""
    server, _ = served
    response = Api(server).get("/groups", pageToken="not-a-token")
    assert 400 == response.status_code


def test_modified_after_lists_only_what_changed_since(served: tuple[SandboxServer, SS12000App]):
    """After modifying two duties, `meta.modified.after` lists exactly those two (inclusive)."""
    server, app = served
    data = app.data[TENANT]
    at = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
    changed = {data.id_of("duties", 2), data.id_of("duties", 5)}
    for duty in changed:
        data.modify("duties", duty, {"dutyPercent": 50}, at=at)
    duties = Api(server).all("/duties", **{"meta.modified.after": "2026-01-10T12:00:00Z"})
    assert changed == {d["id"] for d in duties}
    assert {50} == {d["dutyPercent"] for d in duties}


def test_deleted_entities_lists_deletes_after_a_moment_by_collection(
    served: tuple[SandboxServer, SS12000App],
):
    """A person and a group deleted after `after` are listed under their collections."""
    server, app = served
    data = app.data[TENANT]
    data.delete("persons", data.id_of("persons", 1), at=datetime(2026, 1, 1, tzinfo=UTC))
    person, group = data.id_of("persons", 2), data.id_of("groups", 3)
    data.delete("persons", person, at=datetime(2026, 2, 1, tzinfo=UTC))
    data.delete("groups", group, at=datetime(2026, 2, 2, tzinfo=UTC))
    body = Api(server).get("/deletedEntities", after="2026-01-15T00:00:00Z").json()
    assert ({"persons": [person], "groups": [group]}, None) == (body["data"], body["pageToken"])
    assert 404 == Api(server).get(f"/persons/{person}").status_code


def test_persons_embed_their_duties_and_placements_when_expanded(
    served: tuple[SandboxServer, SS12000App],
):
    """Expanding duties and placements adds `_embedded` with each person's duties and placements."""
    server, app = served
    owner = app.data[TENANT].owner
    people = {p["id"]: p for p in Api(server).all("/persons", expand=["duties", "placements"])}
    staff = next(p for p in owner.people if p.kind is PersonKind.STAFF)
    child = next(p for p in owner.people if p.kind is PersonKind.CHILD)
    staff_record = people[owner.uuid("persons", staff.index)]
    child_record = people[owner.uuid("persons", child.index)]
    assert 1 == len(staff_record["_embedded"]["duties"])
    assert ["FS"] == [p["schoolType"] for p in child_record["_embedded"]["placements"]]


def test_changes_arrive_through_the_control_endpoint(served: tuple[SandboxServer, SS12000App]):
    """`POST /_sandbox/ss12000/<tenant>/modify` changes a field and its `meta.modified`."""
    server, app = served
    person = app.data[TENANT].id_of("persons", 4)
    answer = requests.post(
        f"{server.url}/_sandbox/ss12000/{TENANT}/modify",
        json={"collection": "persons", "id": person, "changes": {"givenName": "Åke"}},
        timeout=10,
    )
    record = Api(server).get(f"/persons/{person}").json()
    assert (200, "Åke", answer.json()["modified"]) == (
        answer.status_code,
        record["givenName"],
        record["meta"]["modified"],
    )


def test_a_filter_with_a_bad_date_is_a_bad_request(served: tuple[SandboxServer, SS12000App]):
    """`meta.modified.after=yesterday` is answered with 400 naming the parameter."""
    server, _ = served
    response = Api(server).get("/persons", **{"meta.modified.after": "yesterday"})
    assert 400 == response.status_code
    assert response.json()["message"].startswith("meta.modified.after")


# -- wiring for `hub sandbox up` -------------------------------------------------------


def test_the_tenant_entry_is_valid_hub_configuration():
    """`tenant_config` gives a Swedish tenant whose SS 12000 source validates."""
    entry = tenant_config(TENANT, "http://127.0.0.1:8000/solberga/ss12000")
    tenant = parse_settings({"tenants": [entry]}).tenant(TENANT)
    (source,) = tenant.sources
    assert ("Solberga kommun", "SE") == (tenant.name, tenant.country)
    assert isinstance(source, SS12000SourceSettings)
    assert (
        "http://127.0.0.1:8000/solberga/ss12000/oauth/token",
        "HUB_SANDBOX_SS12000_SOLBERGA_SECRET",
    ) == (source.auth.token_url, source.auth.secret.env)  # type: ignore[union-attr]
    assert (
        ss12000_source_config(TENANT, "http://127.0.0.1:8000/solberga/ss12000/")
        == (entry["sources"][0])
    )


def test_secrets_env_uses_the_tenants_sandbox_client_secret(tmp_path: Path):
    """The variable holds the secret the web server's apps get for the tenant, in a 0600 file."""
    values = secrets_env(tmp_path, ["lillevik", TENANT])
    clients = client_credentials(tmp_path, [TENANT])
    assert {secret_env(TENANT): clients[TENANT][1]} == values
    assert 0o600 == stat.S_IMODE(os.stat(tmp_path / "oneroster-clients.json").st_mode)


def test_sandbox_apps_serve_ss12000_for_the_swedish_tenants_only():
    """`sandbox_apps` mounts `ss12000` for solberga, not for the Norwegian tenant."""
    apps = sandbox_apps(
        ["lillevik", TENANT],
        40,
        clients={t: (f"skolehub-{t}", SECRET) for t in ("lillevik", TENANT)},
    )
    assert ([TENANT], (TENANT,)) == (swedish_tenants(["lillevik", TENANT]), apps["ss12000"].tenants)


def test_a_deleted_person_leaves_its_groups_memberships(served: tuple[SandboxServer, SS12000App]):
    """Group memberships no longer list a deleted person."""
    server, app = served
    data = app.data[TENANT]
    group = next(g for g in data.owner.groups if g.members)
    gone = group.members[0]
    data.delete("persons", data.id_of("persons", gone), at=datetime.now(UTC) - timedelta(days=1))
    record = Api(server).get(f"/groups/{data.id_of('groups', group.index)}").json()
    assert data.id_of("persons", gone) not in {
        m["person"]["id"] for m in record["groupMemberships"]
    }


def test_the_summary_line_names_the_tenant_and_its_units():
    """`tenant_summary` gives `hub sandbox up` one line with units and people."""
    owner = generate_swedish(TENANT, 120)
    line = tenant_summary(TENANT, 120)
    assert line.startswith(f"  {TENANT}")
    assert f"{len(owner.schools)} schools, {len(owner.preschools)} preschools" in line


def test_a_few_people_are_protected_identities_and_the_connector_hides_their_names(
    ss12000_sandbox: Any,
):
    """The register marks a few people protected; they publish without names, counted still."""
    items = list(ss12000_sandbox.connector().read())
    people = [i for i in items if isinstance(i, Person)]
    protected = [p for p in people if p.protected]
    assert 1 <= len(protected) <= len(people) // 20
    assert [] == [p.key for p in protected if p.given_name or p.email or p.eppn]
    assert all(p.roles and p.unit_keys for p in protected)
    assert [] == [i for i in items if isinstance(i, Rejected)]
