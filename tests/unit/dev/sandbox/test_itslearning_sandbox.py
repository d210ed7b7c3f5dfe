"""The sandbox itslearning site speaks the Data Warehouse API's shapes, paging and errors."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest
import requests
import yaml

from hub.dev.sandbox.itslearning import ITSLEARNING_TENANTS, ItslearningApp, ItslearningSite
from hub.dev.sandbox.population import generate
from hub.dev.sandbox.webserver import SandboxServer, start_in_thread

LOGIN = ("skolehub-fjellby", "pw-0123456789")


@pytest.fixture(scope="module")
def site() -> ItslearningSite:
    """Fjellby's site at a small scale, "today" late in the school year."""
    owner = generate("fjellby", 60, 1)
    return ItslearningSite(owner, today=date(owner.valid_from.year + 1, 3, 20))


@pytest.fixture
def server(site: ItslearningSite) -> SandboxServer:
    """The site served with pages of 25 rows."""
    app = ItslearningApp({"fjellby": site}, logins={"fjellby": LOGIN}, page_size=25)
    server = start_in_thread({"itslearning": app})
    yield server  # type: ignore[misc]
    server.stop()


def get(server: SandboxServer, path: str, auth: tuple[str, str] = LOGIN, **query: str):
    """GET an entity set with basic authentication."""
    return requests.get(f"{server.base_url('fjellby', 'itslearning')}/{path}", params=query,
                        auth=auth, timeout=10)  # fmt: skip


def test_pages_have_a_fixed_size_and_an_odata_next_link(server: SandboxServer) -> None:
    """25 rows a page whatever `$top` asks, with `odata.nextLink` while more remain."""
    first = get(server, "Users", **{"$top": "1000"}).json()
    assert 25 == len(first["value"])
    assert "$skip=25" in first["odata.nextLink"]
    assert first["odata.metadata"].endswith("$metadata#Users")
    second = requests.get(first["odata.nextLink"], auth=LOGIN, timeout=10).json()
    assert first["value"][-1]["UserId"] + 1 == second["value"][0]["UserId"]


def test_a_wrong_password_is_a_401_with_a_basic_challenge(server: SandboxServer) -> None:
    """Wrong credentials: 401, `WWW-Authenticate: Basic`, an OData error body."""
    answer = get(server, "Users", auth=(LOGIN[0], "wrong"))
    assert 401 == answer.status_code
    assert answer.headers["WWW-Authenticate"].startswith("Basic")
    assert "odata.error" in answer.json()


def test_fact_tables_answer_30_days_unless_filtered_by_date(
    server: SandboxServer, site: ItslearningSite
) -> None:
    """Without a `DateId` filter, only sessions of the last 30 days; with one, all since."""

    def total(**query: str) -> int:
        count, url, params = 0, None, query
        while True:
            body = (requests.get(url, auth=LOGIN, timeout=10) if url
                    else get(server, "UserCourseSessions", **params)).json()  # fmt: skip
            count += len(body["value"])
            url = body.get("odata.nextLink")
            if not url:
                return count

    start = site.lms._school_year[0]
    everything = total(**{"$filter": f"DateId ge {start:%Y%m%d}"})
    recent = total()
    assert 0 < recent < everything
    assert len(site._sessions[0]) >= everything


def test_filters_on_modification_time_and_bad_filters(server: SandboxServer) -> None:
    """`T_ModifiedDate gt datetime'…'` filters; an unknown property is a 400 OData error."""
    changed = get(server, "Users", **{"$filter": "T_ModifiedDate gt datetime'2030-01-01T00:00:00'"})
    assert [] == changed.json()["value"]
    bad = get(server, "Users", **{"$filter": "Colour eq 3"})
    assert 400 == bad.status_code
    assert "odata.error" in bad.json()


def test_changes_and_deletes_are_seen_by_a_filter_on_modification_time(
    server: SandboxServer, site: ItslearningSite
) -> None:
    """`modify` and `delete` touch T_ModifiedDate, so an incremental read finds them."""
    app = server.apps["itslearning"]
    app.control("fjellby", "modify", {"set": "Users", "id": 3, "changes": {"LastName": "Ny"},
                                       "at": "2031-01-01T00:00:00Z"})  # fmt: skip
    app.control("fjellby", "delete", {"set": "Courses", "id": 2, "at": "2031-01-01T00:00:00Z"})
    since = {"$filter": "T_ModifiedDate gt datetime'2030-12-31T00:00:00'"}
    assert [("Ny", 3)] == [
        (u["LastName"], u["UserId"]) for u in get(server, "Users", **since).json()["value"]
    ]
    assert ["Deleted"] == [
        c["CourseStatus"] for c in get(server, "Courses", **since).json()["value"]
    ]


def test_fjellby_runs_itslearning_in_the_sandbox_configuration() -> None:
    """`hub sandbox up` gives fjellby an itslearning source (basic auth) instead of OneRoster."""
    from hub.dev.local_services import _sandbox_config
    from hub.dev.sandbox.webserver import sandbox_apps
    from hub.settings import parse_settings

    assert "fjellby" in ITSLEARNING_TENANTS
    server = SimpleNamespace(uri="ldap://127.0.0.1:1", suffix="dc=skolehub,dc=test",
                             reader_dn="cn=hub-reader,dc=x")  # fmt: skip
    owners = [generate("fjellby", 30, 1), generate("lillevik", 30, 1)]
    config = yaml.safe_load(_sandbox_config(server, "http://127.0.0.1:1", owners, []))  # type: ignore[arg-type]
    parse_settings(config)
    types = {t["id"]: [s["type"] for s in t["sources"]] for t in config["tenants"]}
    assert "itslearning" in types["fjellby"] and "oneroster" not in types["fjellby"]
    assert "oneroster" in types["lillevik"] and "itslearning" not in types["lillevik"]
    [its] = [s for s in config["tenants"][0]["sources"] if s["type"] == "itslearning"]
    assert ("basic", owners[0].valid_from.isoformat()) == (
        its["auth"]["kind"],
        its["activity_since"],
    )
    clients = {t: (f"c-{t}", "s" * 32) for t in ("fjellby", "lillevik")}
    apps = sandbox_apps(["fjellby", "lillevik"], 20, clients=clients)
    assert ("fjellby",) == apps["itslearning"].tenants  # type: ignore[attr-defined]
    assert ("c-fjellby", "s" * 32) == apps["itslearning"].logins["fjellby"]  # type: ignore[attr-defined]
