"""The sandbox MDMs: the devices they hold, the vendor APIs' rules, and the wiring for hub.yaml."""

from __future__ import annotations

import json
import math
import os
import stat
import time
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from google.auth import crypt, jwt

from hub.dev.sandbox.mdm import (
    Fleet,
    Profile,
    Table,
    generate_credentials,
    mdm_apps,
    mdm_credentials,
    mdm_source_configs,
    secret_envs,
    secrets_env,
)
from hub.dev.sandbox.mdm.credentials import (
    GOOGLE_SCOPE,
    GRAPH_SCOPE,
    google_customer_id,
    google_subject,
    intune_client_id,
    intune_directory_id,
    jamf_client_id,
)
from hub.dev.sandbox.mdm.fleet import LEASING_DAYS
from hub.dev.sandbox.population import Role, SchoolLevel, generate
from hub.dev.sandbox.roster import roster, sandbox_policy, swedish_roster
from hub.dev.sandbox.swedish import generate_swedish
from hub.dev.sandbox.webserver import SandboxServer, sandbox_apps, start_in_thread
from hub.matching import Candidate, DirectoryPerson, Match, Matcher
from hub.policy import Policy
from hub.settings import load_env_file, parse_settings
from tests.fixtures.mdm import credentials_for

TENANT = "lillevik"


@pytest.fixture(scope="module", params=[TENANT, "solberga"])
def fleet(request: pytest.FixtureRequest) -> Fleet:
    """A tenant of about 3,000 people (eight or nine preschools), built once.

    Norwegian (lillevik, from the Feide population) and Swedish (solberga, from its
    SS 12000 register): the same devices and problems, from either kind of owner.
    """
    return Fleet.build(roster(request.param, 3000))


def every(fleet: Fleet) -> list[Any]:
    """The facts of every device of every table."""
    return [fleet.facts(t, i) for t in Table for i in fleet.listing(t)]


# -- the devices ----------------------------------------------------------------------------


def test_most_pupils_and_most_staff_have_a_device(fleet: Fleet):
    """About 94 % of pupils and 96 % of staff have an assigned device."""
    people = list(fleet.owner.people(include_children=False))
    pupils = {p.username for p in people if p.role is Role.PUPIL}
    staff = {p.username for p in people if p.role is not Role.PUPIL}
    assigned = {f.username for f in every(fleet) if f.in_directory}
    pupil_share, staff_share = (
        len(pupils & assigned) / len(pupils),
        len(staff & assigned) / len(staff),
    )
    assert (True, True) == (0.90 <= pupil_share < 1.0, 0.92 <= staff_share < 1.0)


def test_grades_up_to_four_have_ipads_and_the_older_chromebooks(fleet: Fleet):
    """Younger pupils' devices (F-4) are iPads in Jamf, older pupils' Chromebooks in Google."""
    grades = {p.username: p.grade for p in fleet.owner.people(include_children=False)}
    ipads = {
        grades[f.username]
        for f in every(fleet)
        if f.profile is Profile.PUPIL_IPAD and f.in_directory
    }
    chromebooks = {
        grades[f.username]
        for f in every(fleet)
        if f.profile is Profile.PUPIL_CHROMEBOOK and f.in_directory
    }
    all_grades = {g for g in grades.values() if g is not None}
    assert ({g for g in all_grades if g <= 4}, {g for g in all_grades if g > 4}) == (
        ipads,
        chromebooks,
    )
    assert {1, 4, 5, 9} <= all_grades


def test_preschools_share_an_ipad_between_five_to_eight_children(fleet: Fleet):
    """Shared iPads per preschool follow its ratio; some meet the 1:5 target, some do not."""
    counts: dict[str, int] = {}
    for facts in every(fleet):
        if facts.profile is Profile.PRESCHOOL_IPAD:
            counts[facts.unit.org_number] = counts.get(facts.unit.org_number, 0) + 1
    preschools = [u for u in fleet.units if u.level is SchoolLevel.PRESCHOOL]
    expected = {
        u.org_number: math.ceil(u.child_count / fleet.preschool_ratio(u)) for u in preschools
    }
    ratios = [u.child_count / counts[u.org_number] for u in preschools]
    assert expected == counts
    assert (True, True) == (any(r <= 5 for r in ratios), any(r > 5 for r in ratios))


def test_the_follow_up_finds_each_kind_of_problem_in_a_plausible_share(fleet: Fleet):
    """Old, silent, outdated, noncompliant and orphaned devices each make up a few per cent."""
    devices = every(fleet)
    now = fleet.now

    def share(test: Any) -> float:
        return sum(1 for f in devices if test(f)) / len(devices)

    assert {
        "older than the 36-month leasing cycle": True,
        "not checked in for two months": True,
        "OS too old for national tests": True,
        "noncompliant": True,
        "user not in the directory": True,
    } == {
        "older than the 36-month leasing cycle": 0.18
        <= share(lambda f: (now - f.enrolled).days > LEASING_DAYS)
        <= 0.33,
        "not checked in for two months": 0.03
        <= share(lambda f: (now - f.last_check_in).days >= 60)
        <= 0.08,
        "OS too old for national tests": 0.05 <= share(lambda f: f.os_outdated) <= 0.12,
        "noncompliant": 0.05 <= share(lambda f: f.compliance == "noncompliant") <= 0.10,
        "user not in the directory": 0.01 <= share(lambda f: not f.in_directory) <= 0.04,
    }


def test_usernames_are_the_directorys_except_the_orphans(fleet: Fleet):
    """Every assigned username is a directory username, except those flagged as orphans."""
    directory = {p.username for p in fleet.owner.people(include_children=False)}
    devices = [f for f in every(fleet) if f.username is not None]
    assert ([], []) == (
        [f.username for f in devices if f.in_directory and f.username not in directory],
        [f.username for f in devices if not f.in_directory and f.username in directory],
    )


def test_ipads_enrolled_in_intune_too_are_the_same_physical_ipad(fleet: Fleet):
    """A twin in Intune has its Jamf iPad's serial, model, user and OS version."""
    intune = fleet.tables[Table.INTUNE]
    twins = [i for i in range(len(intune)) if intune.twin[i] >= 0]
    pairs = [
        (fleet.facts(Table.INTUNE, i), fleet.facts(Table.JAMF_MOBILE, intune.twin[i]))
        for i in twins
    ]
    assert twins
    assert [] == [
        (a.serial, b.serial)
        for a, b in pairs
        if (a.serial, a.model, a.username, a.os_version)
        != (b.serial, b.model, b.username, b.os_version)
    ]


def test_serials_are_unique_within_each_mdm(fleet: Fleet):
    """No two devices of one MDM share a serial number."""
    for table in Table:
        serials = [fleet.facts(table, i).serial for i in fleet.listing(table)]
        assert len(serials) == len(set(serials)), table


def test_the_same_arguments_give_the_same_devices():
    """A fleet is a pure function of the tenant, scale, seed and reference day."""
    first, second = Fleet.build(generate(TENANT, 300)), Fleet.build(generate(TENANT, 300))
    assert every(first) == every(second)


def test_a_fleet_keeps_little_more_than_a_row_per_device():
    """A fleet holds about a hundred bytes per device (a 100,000-person tenant: megabytes)."""
    owner = generate(TENANT, 2000)
    tracemalloc.start()
    try:
        fleet = Fleet.build(owner)
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    devices = sum(len(fleet.tables[t]) for t in Table)
    assert held / devices < 300


# -- a Swedish owner's devices ---------------------------------------------------------------


@pytest.fixture(scope="module")
def swedish_apps() -> dict[str, Any]:
    """Solberga's MDMs (about 600 people), in-process."""
    return dict(mdm_apps(["solberga"], 600, credentials={"solberga": credentials_for("solberga")}))


def test_swedish_device_users_are_linked_by_the_tenants_sandbox_policy(
    swedish_apps: dict[str, Any],
):
    """Every register user Intune and Google name is matched, Google's only via the rewrite."""
    owner = generate_swedish("solberga", 600)
    directory = [
        DirectoryPerson(owner.uuid("persons", p.index), eppn=p.eppn, email=p.email)
        for p in owner.people
        if p.eppn
    ]
    policy = Policy.model_validate(sandbox_policy(swedish_roster(owner)))
    with_rewrite = Matcher(directory, policy.matching, b"k")
    without = Matcher(directory, Policy().matching, b"k")
    intune, google = swedish_apps["intune"], swedish_apps["google"]
    fleet = intune.fleets["solberga"]
    seen: list[tuple[str, bool, Candidate]] = []
    for index in fleet.listing(Table.INTUNE):
        facts, record = fleet.facts(Table.INTUNE, index), intune.render("solberga", index)
        if facts.username:
            upn = {"upn": record["userPrincipalName"]}
            seen.append(("intune", facts.in_directory, Candidate("intune", str(index), upn)))
    for index in fleet.listing(Table.GOOGLE):
        facts, record = fleet.facts(Table.GOOGLE, index), google.render("solberga", index)
        if facts.username:
            user = {"annotated_user": record["annotatedUser"]}
            seen.append(("google", facts.in_directory, Candidate("google", str(index), user)))

    def linked(matcher: Matcher) -> Counter[tuple[str, bool, bool]]:
        return Counter((mdm, known, isinstance(matcher.match(c), Match)) for mdm, known, c in seen)

    found, unfound = linked(with_rewrite), linked(without)
    assert {("intune", False, True), ("google", False, True)}.isdisjoint(found)
    assert {("intune", True, False), ("google", True, False)}.isdisjoint(found)
    assert (0, found[("google", True, True)]) == (
        unfound[("google", True, True)],
        unfound[("google", True, False)],
    )
    assert found[("intune", True, True)] > 0 and found[("google", False, False)] > 0


def test_a_swedish_owners_devices_are_described_in_swedish(swedish_apps: dict[str, Any]):
    """Intune categories, Google org units and Workspace accounts follow the Swedish owner."""
    intune, google = swedish_apps["intune"], swedish_apps["google"]
    fleet = intune.fleets["solberga"]
    categories = {
        intune.render("solberga", i)["deviceCategoryDisplayName"].split()[-1]
        for i in fleet.listing(Table.INTUNE)
    }
    records = [google.render("solberga", i) for i in fleet.listing(Table.GOOGLE)]
    units = {u.name for u in fleet.units}
    paths = {tuple(r["orgUnitPath"].split("/")[1:]) for r in records}
    assert {"Personal", "Gemensam", "Elev"} == categories
    assert ({"Enheter"}, True, {"Elever", "Lån"}) == (
        {p[0] for p in paths},
        {p[1] for p in paths} <= units,
        {p[2] for p in paths},
    )
    assert {"skola.solberga.se"} == {
        r["annotatedUser"].partition("@")[2] for r in records if "annotatedUser" in r
    }
    assert "mdm-admin@skola.solberga.se" == google_subject("solberga")


# -- the vendor APIs --------------------------------------------------------------------------


@pytest.fixture
def served() -> Iterator[tuple[SandboxServer, Any]]:
    """The three MDMs for one small tenant, in a thread."""
    apps = mdm_apps([TENANT], 120, credentials={TENANT: credentials_for(TENANT)})
    server = start_in_thread(dict(apps))
    try:
        yield server, apps
    finally:
        server.stop()


def graph_token(server: SandboxServer, **form: str) -> requests.Response:
    """A token request to the sandbox's Microsoft identity platform."""
    credentials = credentials_for(TENANT)
    data = {
        "grant_type": "client_credentials",
        "scope": GRAPH_SCOPE,
        "client_id": intune_client_id(TENANT),
        "client_secret": credentials.intune_secret,
        **form,
    }
    directory = form.pop("directory", intune_directory_id(TENANT))
    data.pop("directory", None)
    url = f"{server.url}/{TENANT}/intune/{directory}/oauth2/v2.0/token"
    return requests.post(url, data=data, timeout=10)


def graph_get(server: SandboxServer, path: str, **params: Any) -> requests.Response:
    """A Graph GET with a fresh token."""
    token = graph_token(server).json()["access_token"]
    return requests.get(
        f"{server.url}/{TENANT}/intune/v1.0{path}",
        params=params,
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )


@pytest.mark.parametrize(
    ("form", "status", "code"),
    [
        (
            {"scope": "https://graph.microsoft.com/DeviceManagementManagedDevices.Read.All"},
            400,
            1002012,
        ),
        ({"directory": "common"}, 400, 90002),
        ({"client_secret": "wrong"}, 401, 7000215),
        ({"client_id": "someone-else"}, 400, 700016),
    ],
)
def test_the_identity_platform_refuses_what_microsoft_refuses(served, form, status, code):
    """Wrong scope, directory, secret or client: the status and AADSTS code Microsoft gives."""
    response = graph_token(served[0], **form)
    assert (status, [code]) == (response.status_code, response.json()["error_codes"])


def test_graph_rejects_unknown_select_properties_and_out_of_range_top(served):
    """`$select` of a beta-only property and `$top` over 1,000 are 400s in Graph's words."""
    server = served[0]
    select = graph_get(
        server, "/deviceManagement/managedDevices", **{"$select": "id,managementState"}
    )
    top = graph_get(server, "/deviceManagement/managedDevices", **{"$top": "1001"})
    assert (400, "Could not find a property named 'managementState' on type "
            "'microsoft.graph.managedDevice'.", 400) == (
        select.status_code,
        select.json()["error"]["message"],
        top.status_code,
    )  # fmt: skip


def test_graph_pages_with_opaque_skiptokens_and_returns_only_what_was_selected(served):
    """A `$select`ed page has only those properties; its next link carries a `$skiptoken`."""
    page = graph_get(
        served[0], "/deviceManagement/managedDevices", **{"$select": "serialNumber", "$top": "3"}
    ).json()
    assert ({"id", "serialNumber"}, True) == (
        set(page["value"][0]),
        "$skiptoken=" in page["@odata.nextLink"],
    )


def test_graph_without_a_token_is_a_401_with_a_challenge(served):
    """No bearer token: 401 with `WWW-Authenticate`."""
    response = requests.get(
        f"{served[0].url}/{TENANT}/intune/v1.0/deviceManagement/managedDevices", timeout=10
    )
    assert (401, True) == (response.status_code, "WWW-Authenticate" in response.headers)


def jamf_token(server: SandboxServer) -> str:
    """An API client token from the sandbox Jamf."""
    data = {
        "client_id": jamf_client_id(TENANT),
        "client_secret": credentials_for(TENANT).jamf_secret,
        "grant_type": "client_credentials",
    }
    return str(
        requests.post(f"{server.url}/{TENANT}/jamf/api/oauth/token", data=data, timeout=10).json()[
            "access_token"
        ]
    )


def jamf_get(
    server: SandboxServer, path: str, query: str, token: str | None = None
) -> requests.Response:
    """A Jamf GET with a raw query string."""
    token = token or jamf_token(server)
    return requests.get(
        f"{server.url}/{TENANT}/jamf/api{path}?{query}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )


def test_jamf_returns_only_the_sections_asked_for_in_either_spelling(served):
    """Repeated and comma-separated `section` both work; other sections are left out."""
    server = served[0]
    repeated = jamf_get(
        server, "/v2/mobile-devices/detail", "section=GENERAL&section=HARDWARE&page-size=2"
    ).json()
    commas = jamf_get(
        server, "/v2/mobile-devices/detail", "section=GENERAL,HARDWARE&page-size=2"
    ).json()
    assert repeated == commas
    assert {"mobileDeviceId", "deviceType", "general", "hardware"} == set(repeated["results"][0])


def test_jamf_looks_devices_up_by_id_and_answers_404_once_retired(served):
    """Both lookups by id are in the schema and find a device until it is retired."""
    server, apps = served
    token = jamf_token(server)
    computer = jamf_get(server, "/v1/computers-inventory/1", "", token)
    mobile = jamf_get(server, "/v2/mobile-devices/2/detail", "", token)
    apps["jamf"].control(TENANT, "retire", {"computer_id": 1})
    retired = jamf_get(server, "/v1/computers-inventory/1", "", token)
    schema = jamf_get(server, "/schema", "", token).json()["paths"]
    assert ("1", "2") == (computer.json()["id"], mobile.json()["mobileDeviceId"])
    assert (404, "NOT_FOUND") == (retired.status_code, retired.json()["errors"][0]["code"])
    assert {"/v1/computers-inventory/{id}", "/v2/mobile-devices/{id}/detail"} <= set(schema)


@pytest.mark.parametrize(
    "query",
    ["page-size=2001", "sort=name:asc", "section=NOPE", "page=x"],
)
def test_jamf_refuses_bad_paging_sorting_and_sections(served, query):
    """Page size over 2,000, an unsupported sort, an unknown section or a bad page: 400."""
    assert 400 == jamf_get(served[0], "/v1/computers-inventory", query).status_code


def test_jamf_keep_alive_replaces_the_token(served):
    """After keep-alive the old token is refused and the new one works."""
    server = served[0]
    credentials = ("skolehub-sync", credentials_for(TENANT).jamf_secret)
    old = requests.post(
        f"{server.url}/{TENANT}/jamf/api/v1/auth/token", auth=credentials, timeout=10
    ).json()["token"]
    new = requests.post(
        f"{server.url}/{TENANT}/jamf/api/v1/auth/keep-alive",
        headers={"Authorization": f"Bearer {old}"},
        timeout=10,
    ).json()["token"]
    assert (401, 200) == (
        jamf_get(server, "/v1/sites", "", old).status_code,
        jamf_get(server, "/v1/sites", "", new).status_code,
    )


def google_token(
    server: SandboxServer, *, scopes: str = GOOGLE_SCOPE, subject: str | None = None
) -> requests.Response:
    """A JWT bearer grant signed with the tenant's service-account key."""
    key = credentials_for(TENANT).google_key
    signer = crypt.RSASigner.from_service_account_info(key)
    assertion = jwt.encode(
        signer,
        {
            "iss": key["client_email"],
            "sub": subject or google_subject(TENANT),
            "scope": scopes,
            "aud": "https://oauth2.googleapis.com/token",
            "iat": int(time.time()),
            "exp": int(time.time()) + 3600,
        },
    )
    return requests.post(
        f"{server.url}/{TENANT}/google/token",
        data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion},
        timeout=10,
    )


def google_get(
    server: SandboxServer, customer: str, token: str, **params: Any
) -> requests.Response:
    """A ChromeOS device list request."""
    return requests.get(
        f"{server.url}/{TENANT}/google/admin/directory/v1/customer/{customer}/devices/chromeos",
        params=params,
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )


def test_google_grants_a_token_only_for_the_delegated_scope(served):
    """A grant for another scope is `unauthorized_client`; its token could not list devices."""
    assert (200, 401) == (
        google_token(served[0]).status_code,
        google_token(
            served[0], scopes="https://www.googleapis.com/auth/admin.directory.user.readonly"
        ).status_code,
    )


def test_google_partial_responses_page_tokens_and_limits(served):
    """`fields` trims records, `maxResults` over 300 is a 400, a tampered token is a 400."""
    server = served[0]
    token = google_token(server).json()["access_token"]
    customer = google_customer_id(TENANT)
    page = google_get(
        server,
        customer,
        token,
        maxResults=2,
        fields="nextPageToken,chromeosdevices(deviceId,status)",
    ).json()
    too_many = google_get(server, "my_customer", token, maxResults=301)
    tampered = google_get(server, customer, token, pageToken=page["nextPageToken"] + "x")
    other = google_get(server, "C0somebody", token)
    assert ({"nextPageToken", "chromeosdevices"}, {"deviceId", "status"}, 400, 400, 404) == (
        set(page),
        set(page["chromeosdevices"][0]),
        too_many.status_code,
        tampered.status_code,
        other.status_code,
    )


def test_changes_over_the_control_api_show_in_the_vendor_api(served):
    """Reassigning and retiring an Intune device through `/_sandbox` change what Graph lists."""
    server, apps = served
    first, second = apps["intune"].device_id(TENANT, 0), apps["intune"].device_id(TENANT, 1)
    control = f"{server.url}/_sandbox/intune/{TENANT}"
    requests.post(
        f"{control}/reassign", json={"device_id": first, "username": "nyelev1"}, timeout=10
    )
    requests.post(f"{control}/retire", json={"device_id": second}, timeout=10)
    devices = graph_get(
        server, "/deviceManagement/managedDevices", **{"$select": "userPrincipalName"}
    ).json()["value"]
    by_id = {d["id"]: d for d in devices}
    assert (f"nyelev1@{apps['intune'].fleets[TENANT].realm}", False) == (
        by_id[first]["userPrincipalName"],
        second in by_id,
    )


# -- wiring for `hub sandbox up` ---------------------------------------------------------------


def test_the_source_entries_are_valid_hub_yaml(tmp_path: Path):
    """The three entries of each tenant validate, naming secrets by environment variable."""
    sources = [
        e for t in ("lillevik", "fjellby") for e in mdm_source_configs(t, "http://127.0.0.1:9")
    ]
    tenants = [
        {"id": "lillevik", "name": "L", "sources": sources[:3]},
        {"id": "fjellby", "name": "F", "sources": sources[3:]},
    ]
    hub = parse_settings({"tenants": tenants})
    assert [("intune", "intune"), ("jamf_pro", "jamf"), ("google_chromeos", "chromebooks")] == [
        (s.type, s.id) for s in hub.tenants[1].sources
    ]
    assert "HUB_SANDBOX_GOOGLE_FJELLBY_KEY" == hub.tenants[1].sources[2].auth.secret.env  # type: ignore[union-attr]


def test_credentials_are_made_once_and_kept_private(tmp_path: Path):
    """`mdm_credentials` writes a 0600 file once; asking again gives the same secrets."""
    first = mdm_credentials(tmp_path, ["lillevik"])
    again = mdm_credentials(tmp_path, ["lillevik"])
    mode = stat.S_IMODE(os.stat(tmp_path / "mdm-credentials.json").st_mode)
    assert (0o600, first["lillevik"].to_json()) == (mode, again["lillevik"].to_json())


def test_secrets_env_lines_load_back_into_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Each secret is one `KEY=value` line that `HUB_ENV_FILE` loading gives back intact."""
    lines = secrets_env(tmp_path, ["lillevik"])
    env_file = tmp_path / "secrets.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in lines.items()))
    for name in lines:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HUB_ENV_FILE", str(env_file))
    load_env_file()
    names = secret_envs("lillevik")
    key = json.loads(os.environ[names["chromebooks"]])
    assert (set(names.values()), "service_account") == (set(lines), key["type"])


def test_the_web_server_mounts_the_mdms_when_given_their_credentials():
    """`sandbox_apps(..., mdm=...)` adds `intune`, `jamf` and `google` for every tenant."""
    tenants = ["lillevik", "solberga"]
    apps = sandbox_apps(
        tenants,
        40,
        clients={t: ("c", "s") for t in tenants},
        mdm={t: credentials_for(t) for t in tenants},
    )
    assert {"intune", "jamf", "google"} <= set(apps)
    assert (tuple(tenants), "SE") == (
        tuple(apps["google"].tenants),
        apps["google"].fleets["solberga"].owner.country,
    )


def test_generated_keys_are_service_account_keys():
    """A generated key has the fields google-auth needs and a PKCS#8 RSA private key."""
    key = generate_credentials("x").google_key
    assert ("service_account", True) == (
        key["type"],
        key["private_key"].startswith("-----BEGIN PRIVATE KEY-----"),
    )
