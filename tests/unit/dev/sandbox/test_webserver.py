"""The sandbox web server: routing, paging helpers, fault injection and running detached."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from hub.dev.sandbox.webserver import (
    Fault,
    Request,
    Response,
    SandboxServer,
    detached_status,
    json_response,
    offset_window,
    paging_headers,
    start_detached,
    start_in_thread,
    stop_detached,
)


class EchoApp:
    """Echoes requests, pages five items at `/items` (offset) and `/tokens` (page token)."""

    tenants = ("a", "b")

    def __init__(self) -> None:
        self.controls: list[tuple[str, str, Any]] = []

    def handle(self, request: Request) -> Response:
        if request.path == "/tokens":
            at = int(request.query.get("pageToken", 0))
            items = [{"id": i, "name": f"item {i}"} for i in range(at, min(5, at + 2))]
            return json_response(
                {"items": items, "nextPageToken": str(at + 2) if at + 2 < 5 else None}
            )
        if request.path == "/items":
            offset, limit = offset_window(request)
            items = [{"id": i, "name": f"item {i}"} for i in range(offset, min(5, offset + limit))]
            return json_response(
                {"items": items}, headers=paging_headers(request, offset, limit, 5)
            )
        return json_response(
            {"tenant": request.tenant, "path": request.path, "query": dict(request.query)}
        )

    def control(self, tenant: str, action: str, payload: Any) -> Any:
        self.controls.append((tenant, action, payload))
        return {"tenant": tenant, "action": action, "payload": payload}


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    running = start_in_thread({"echo": EchoApp()})
    try:
        yield running
    finally:
        running.stop()


def get(server: SandboxServer, path: str, **kwargs: Any) -> requests.Response:
    return requests.get(f"{server.url}{path}", timeout=10, **kwargs)


def test_requests_are_routed_by_tenant_and_vendor(server: SandboxServer):
    """`/<tenant>/<vendor>/rest` reaches the vendor's app with the rest of the path and query."""
    assert {"tenant": "b", "path": "/x/y", "query": {"q": "1"}} == get(
        server, "/b/echo/x/y?q=1"
    ).json()
    assert (404, 404) == (get(server, "/c/echo/x").status_code, get(server, "/a/mdm/x").status_code)


def test_paging_headers_give_the_total_and_links(server: SandboxServer):
    """A paged answer carries X-Total-Count and Link next, prev, first and last."""
    response = get(server, "/a/echo/items?limit=2&offset=2")
    links = {link["rel"]: link["url"] for link in requests.utils.parse_header_links(
        response.headers["Link"])}  # fmt: skip
    assert ("5", [2, 3]) == (
        response.headers["X-Total-Count"],
        [i["id"] for i in response.json()["items"]],
    )
    assert {"first", "last", "next", "prev"} == set(links)
    assert links["next"].endswith("/a/echo/items?limit=2&offset=4")
    assert links["last"].endswith("offset=4&limit=2") or "offset=4" in links["last"]


def test_a_status_fault_answers_n_times_then_lets_requests_through(server: SandboxServer):
    """A 429 fault with Retry-After hits the next two matching requests after the first."""
    fault = server.add_fault(kind="status", status=429, retry_after=2, times=2, after=1,
                             path="/items")  # fmt: skip
    statuses = [get(server, "/a/echo/items") for _ in range(4)]
    assert [200, 429, 429, 200] == [r.status_code for r in statuses]
    assert "2" == statuses[1].headers["Retry-After"]
    assert (4, 2, True) == (fault.seen, fault.applied, fault.spent)
    assert 200 == get(server, "/a/echo/other").status_code


def test_retry_after_can_be_an_http_date(server: SandboxServer):
    """With `retry_after_http_date` the header is an HTTP date that many seconds ahead."""
    server.add_fault(kind="status", status=503, retry_after=30, retry_after_http_date=True)
    header = get(server, "/a/echo/x").headers["Retry-After"]
    ahead = (email.utils.parsedate_to_datetime(header) - datetime.now(UTC)).total_seconds()
    assert 28 <= ahead <= 31


def test_a_delay_fault_answers_slowly(server: SandboxServer):
    """A delay fault holds the answer back for its seconds."""
    server.add_fault(kind="delay", seconds=0.3, tenant="a")
    started = time.monotonic()
    assert 200 == get(server, "/a/echo/x").status_code
    assert 0.3 <= time.monotonic() - started


def test_a_drop_fault_closes_the_connection_without_an_answer(server: SandboxServer):
    """A dropped connection is a connection error for the client, and the next one works."""
    server.add_fault(kind="drop")
    with pytest.raises(requests.ConnectionError):
        get(server, "/a/echo/x")
    assert 200 == get(server, "/a/echo/x").status_code


def test_a_malformed_fault_corrupts_one_record(server: SandboxServer):
    """The record at `index` gets the fault's value (or loses the field)."""
    server.add_fault(kind="malformed", field="name", value=42, index=1)
    server.add_fault(kind="malformed", field="name", value="__delete__", index=0, after=1)
    first = get(server, "/a/echo/items?limit=3").json()["items"]
    second = get(server, "/a/echo/items?limit=3").json()["items"]
    assert ["item 0", 42, "item 2"] == [r["name"] for r in first]
    assert [{"id": 0}, "item 1"] == [second[0], second[1]["name"]]


def test_a_repeat_next_fault_makes_the_page_its_own_next_page(server: SandboxServer):
    """The Link header's next page becomes the URL just requested."""
    server.add_fault(kind="repeat_next")
    url = f"{server.url}/a/echo/items?limit=2&offset=0"
    response = requests.get(url, timeout=10)
    assert url == response.links["next"]["url"]


def test_an_empty_page_fault_answers_no_records_with_a_continuation_to_the_real_page(
    server: SandboxServer,
):
    """The emptied page keeps its total, and its next link leads to the records it held back."""
    server.add_fault(kind="empty_page", path="/items")
    url = f"{server.url}/a/echo/items?limit=2&offset=0"
    empty = requests.get(url, timeout=10)
    resumed = requests.get(empty.links["next"]["url"], timeout=10)
    assert ([], "5") == (empty.json()["items"], empty.headers["X-Total-Count"])
    assert [0, 1] == [i["id"] for i in resumed.json()["items"]]
    assert "offset=2" in resumed.links["next"]["url"]


def test_an_empty_page_fault_on_a_page_token_api_sends_a_token_for_the_real_page(
    server: SandboxServer,
):
    """A page-token API gets a sandbox token that, sent back, answers the held-back page."""
    server.add_fault(kind="empty_page", path="/tokens", after=1)
    get(server, "/a/echo/tokens")
    empty = get(server, "/a/echo/tokens?pageToken=2").json()
    resumed = get(server, f"/a/echo/tokens?pageToken={empty['nextPageToken']}").json()
    assert [] == empty["items"]
    assert ([2, 3], "4") == ([i["id"] for i in resumed["items"]], resumed["nextPageToken"])


def test_a_truncate_fault_cuts_the_page_and_its_continuation_but_not_the_total(
    server: SandboxServer,
):
    """The page keeps `index` records and no next link, while X-Total-Count stays."""
    server.add_fault(kind="truncate", index=1)
    response = get(server, "/a/echo/items?limit=3")
    kept = [i["id"] for i in response.json()["items"]]
    assert ([0], "5") == (kept, response.headers["X-Total-Count"])
    assert "next" not in response.links


def test_a_change_fault_applies_a_vendor_change_after_answering(server: SandboxServer):
    """`change` hands `action` and `body` to the app's control once the page is answered."""
    server.add_fault(kind="change", action="vanish", body={"id": 0}, path="/items")
    first = get(server, "/a/echo/items?limit=2")
    get(server, "/a/echo/items?limit=2&offset=2")
    assert [0, 1] == [i["id"] for i in first.json()["items"]]
    assert [("a", "vanish", {"id": 0})] == server.apps["echo"].controls  # type: ignore[attr-defined]


def test_faults_can_be_planned_and_cleared_over_http(server: SandboxServer):
    """POST, GET and DELETE /_sandbox/faults manage the plan; a bad fault is a 400."""
    added = requests.post(f"{server.url}/_sandbox/faults", timeout=10,
                          json=[{"kind": "status", "status": 503, "times": 1}])  # fmt: skip
    assert (201, 503) == (added.status_code, get(server, "/a/echo/x").status_code)
    plan = get(server, "/_sandbox/faults").json()
    assert [(503, 1, 1)] == [(f["status"], f["seen"], f["applied"]) for f in plan]
    bad = requests.post(f"{server.url}/_sandbox/faults", json={"kind": "fire"}, timeout=10)
    assert (400, "bad_request") == (bad.status_code, bad.json()["error"])
    assert 200 == requests.delete(f"{server.url}/_sandbox/faults", timeout=10).status_code
    assert [] == get(server, "/_sandbox/faults").json()


def test_health_request_log_and_vendor_control(server: SandboxServer):
    """Health names tenants and vendors; requests are logged; control reaches the app."""
    assert {"status": "ok", "vendors": ["echo"], "tenants": ["a", "b"]} == get(
        server, "/_sandbox/health"
    ).json()
    get(server, "/a/echo/x")
    assert 1 == server.count("/a/echo/x", status=200)
    answer = requests.post(f"{server.url}/_sandbox/echo/a/touch", json={"k": 1}, timeout=10)
    assert {"tenant": "a", "action": "touch", "payload": {"k": 1}} == answer.json()


def test_an_unknown_fault_kind_is_refused():
    """A fault must be one of the known kinds."""
    with pytest.raises(ValueError, match="unknown fault kind"):
        Fault(kind="fire")  # type: ignore[arg-type]


def test_the_server_runs_detached_with_a_pid_and_state_file(tmp_path: Path):
    """`start_detached` runs it in its own process; the state names the port; stop ends it."""
    home = tmp_path / "web"
    state = start_detached(home, tenants=["lillevik"], scale=40)
    try:
        assert ["lillevik"] == state["tenants"]
        # lillevik runs OneRoster; itslearning is served for fjellby only (ITSLEARNING_TENANTS)
        vendors = ["asm", "canvas", "classroom", "google", "graph_education", "intune", "jamf"]
        others = [
            "jamfvpp",
            "licensing",
            "m365",
            "moodle",
            "oneroster",
            "snipeit",
            "topdesk",
            "vpp",
        ]
        assert [*vendors, *others] == sorted(state["vendors"])
        assert state == start_detached(home, tenants=["lillevik"], scale=40)  # already running
        health = requests.get(f"{state['url']}/_sandbox/health", timeout=10).json()
        assert ["lillevik"] == health["tenants"]
        assert str(state["pid"]) == (home / "webserver.pid").read_text().strip()
    finally:
        assert stop_detached(home)
    assert (None, False) == (detached_status(home), stop_detached(home))
