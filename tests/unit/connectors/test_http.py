"""The HTTP connector base: paginators, the error table, retries, credentials and dead letters."""

from __future__ import annotations

import email.utils
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
import structlog
from pydantic import BaseModel, ConfigDict

from connectors.base import Rejected, RetryPolicy
from connectors.errors import Action, AuthError, ConfigError, FatalError, PartialReadError
from connectors.http import (
    ClientCredentials,
    HttpPaginator,
    HttpSource,
    HttpSourceSettings,
    HttpStream,
    LinkHeaderPaginator,
    NextLinkPaginator,
    OAuthClientCredentials,
    OffsetPaginator,
    PageTokenPaginator,
    retry_after_seconds,
)
from schemas.entities import Entity

API = "https://lms.example"
TOKEN_URL = f"{API}/oauth/token"
SECRET = "client-secret-do-not-show-0123"  # noqa: S105 - a test value

Reply = tuple[int, Any, dict[str, str]] | Exception | Callable[[requests.PreparedRequest], Any]


class Scripted(requests.adapters.BaseAdapter):
    """A transport that answers each path from a script; the last answer repeats."""

    def __init__(self, script: dict[str, list[Reply]]) -> None:
        super().__init__()
        self.script = {path: list(replies) for path, replies in script.items()}
        self.sent: list[requests.PreparedRequest] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        self.sent.append(request)
        path = urlsplit(request.url or "").path
        replies = self.script[path]
        reply = replies.pop(0) if len(replies) > 1 else replies[0]
        if callable(reply) and not isinstance(reply, Exception):
            reply = reply(request)
        if isinstance(reply, Exception):
            raise reply
        status, body, headers = reply
        response = requests.Response()
        response.status_code = status
        response.reason = {200: "OK", 401: "Unauthorized", 403: "Forbidden"}.get(status, "X")
        response._content = body if isinstance(body, bytes) else json.dumps(body).encode()
        response.headers = requests.structures.CaseInsensitiveDict(headers)
        response.url = request.url or ""
        response.request = request
        return response

    def close(self) -> None:
        """Nothing to close."""

    def paths(self, path: str) -> list[dict[str, str]]:
        """The queries sent to one path, in order."""
        return [
            dict(parse_qsl(urlsplit(r.url or "").query))
            for r in self.sent
            if urlsplit(r.url or "").path == path
        ]


class Widget(Entity):
    """A test entity."""

    domain: ClassVar[str] = "test"
    entity: ClassVar[str] = "widget"

    name: str


class _RawWidget(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str
    name: str


def source_for(
    script: dict[str, list[Reply]],
    paginator: HttpPaginator | None = None,
    *,
    auth: dict[str, Any] | None = None,
    waits: list[float] | None = None,
    attempts: int = 4,
    page_size: int = 2,
    records_key: str = "items",
    classify: Callable[[requests.Response], Action | None] | None = None,
    clock: Callable[[], float] | None = None,
) -> tuple[HttpSource, Scripted]:
    """A one-stream source reading `/widgets` over a scripted transport."""

    class Widgets(HttpStream[_RawWidget, Widget]):
        name = "widgets"
        path = "/widgets"
        raw_model = _RawWidget
        entity_type = Widget

        def to_entity(self, raw: _RawWidget) -> Widget:
            return Widget(tenant="t", source=self.source.ref, key=raw.id, name=raw.name)

    Widgets.records_key = records_key
    Widgets.paginator = paginator or OffsetPaginator()

    class WidgetSource(HttpSource):
        name = "test.widgets"
        system = "widgets"
        entity_types = (Widget,)
        streams = (Widgets,)

        def classify_error(self, response: requests.Response) -> Action | None:
            return classify(response) if classify else None

    settings = HttpSourceSettings.model_validate(
        {
            "id": "w",
            "base_url": API,
            "auth": auth or {"kind": "bearer", "secret": {"env": "UNUSED"}},
            "page_size": page_size,
        }
    )
    transport = Scripted(script)
    session = requests.Session()
    session.mount("https://", transport)
    recorded = waits if waits is not None else []
    retry = RetryPolicy(attempts=attempts, base_delay=1.0, max_delay=60.0, sleep=recorded.append)
    extra = {"clock": clock} if clock else {}
    source = WidgetSource(
        settings, tenant="t", secret=SECRET, retry=retry, session=session, **extra
    )
    return source, transport


def page(ids: list[int], headers: dict[str, str] | None = None, **body: Any) -> Reply:
    """A 200 page of widgets with these ids."""
    return 200, {"items": [{"id": f"w{i}", "name": f"W{i}"} for i in ids], **body}, headers or {}


def keys(source: HttpSource) -> list[str]:
    """The keys of every widget read."""
    return [item.key for item in source.read() if isinstance(item, Widget)]


OAUTH = {
    "kind": "oauth_client_credentials",
    "token_url": TOKEN_URL,
    "client_id": "hub-client",
    "secret": {"env": "UNUSED"},
}


def token(value: str, expires_in: int = 3600) -> Reply:
    """A token-endpoint answer."""
    return 200, {"access_token": value, "token_type": "bearer", "expires_in": expires_in}, {}


# -- paginators --------------------------------------------------------------------------


def test_offset_paging_stops_at_the_total_count():
    """Offsets advance by the page's length and stop once X-Total-Count is reached."""
    total = {"X-Total-Count": "5"}
    source, transport = source_for(
        {"/widgets": [page([1, 2], total), page([3, 4], total), page([5], total)]}
    )
    assert ["w1", "w2", "w3", "w4", "w5"] == keys(source)
    assert ["0", "2", "4"] == [q["offset"] for q in transport.paths("/widgets")]
    assert {"2"} == {q["limit"] for q in transport.paths("/widgets")}


def test_offset_paging_without_a_total_stops_at_an_empty_page():
    """Without a total count, paging ends on the first empty page."""
    source, transport = source_for({"/widgets": [page([1, 2]), page([3]), page([])]})
    assert ["w1", "w2", "w3"] == keys(source)
    assert 3 == len(transport.sent)


def test_offset_paging_follows_link_headers_when_asked():
    """With `follow_link_header`, `Link: rel="next"` is followed and its absence ends paging."""
    first = {"Link": '</widgets?offset=10&limit=2>; rel="next", </widgets?offset=0>; rel="first"'}
    last = {"Link": '</widgets?offset=0&limit=2>; rel="first"', "X-Total-Count": "3"}
    source, transport = source_for(
        {"/widgets": [page([1, 2], first), page([3], last)]},
        OffsetPaginator(follow_link_header=True),
    )
    assert ["w1", "w2", "w3"] == keys(source)
    assert ["0", "10"] == [q["offset"] for q in transport.paths("/widgets")]


def test_link_header_paginator_follows_relative_links():
    """`LinkHeaderPaginator` resolves each next link against the page's URL."""
    source, transport = source_for(
        {
            "/widgets": [page([1], {"Link": '</widgets?cursor=b>; rel="next"'}), page([2])],
        },
        LinkHeaderPaginator(page_size_param="per_page"),
    )
    assert ["w1", "w2"] == keys(source)
    assert [{"per_page": "2"}, {"cursor": "b"}] == transport.paths("/widgets")


def test_next_link_paginator_follows_the_body_link():
    """`NextLinkPaginator` follows `@odata.nextLink` until a page has none."""
    source, transport = source_for(
        {
            "/widgets": [
                (200, {"value": [{"id": "a", "name": "A"}],
                       "@odata.nextLink": f"{API}/widgets?$skiptoken=x"}, {}),
                (200, {"value": [{"id": "b", "name": "B"}]}, {}),
            ]
        },
        NextLinkPaginator("@odata.nextLink"),
        records_key="value",
    )  # fmt: skip
    assert ["a", "b"] == keys(source)
    assert [{}, {"$skiptoken": "x"}] == transport.paths("/widgets")


def test_page_token_paginator_sends_the_token_back():
    """`PageTokenPaginator` repeats the query with `pageToken` set to the body's token."""
    source, transport = source_for(
        {"/widgets": [page([1], nextPageToken="t2"), page([2], nextPageToken=""), page([9])]},
        PageTokenPaginator("nextPageToken", "pageToken", page_size_param="maxResults"),
    )
    assert ["w1", "w2"] == keys(source)
    assert [{"maxResults": "2"}, {"maxResults": "2", "pageToken": "t2"}] == transport.paths(
        "/widgets"
    )


def test_a_next_link_that_comes_back_is_a_loop():
    """A next link the source sent before is fatal instead of paging forever."""
    loop = {"Link": f'<{API}/widgets?cursor=a>; rel="next"'}
    source, _ = source_for({"/widgets": [page([1], loop), page([2], loop)]}, LinkHeaderPaginator())
    with pytest.raises(FatalError, match="Loop detected in pagination"):
        keys(source)


def test_a_page_that_repeats_the_page_before_is_a_loop():
    """A server ignoring the offset (same page again and again) is detected."""
    source, _ = source_for({"/widgets": [page([1, 2])]})
    with pytest.raises(FatalError, match="repeats the page before") as caught:
        keys(source)
    assert ("test.widgets", "/widgets") == (caught.value.connector, caught.value.path)


# -- partial reads -----------------------------------------------------------------------


def test_empty_pages_that_carry_a_page_token_are_read_past():
    """Consecutive empty pages with distinct tokens neither end the read nor look like a loop."""
    source, transport = source_for(
        {
            "/widgets": [
                page([1], nextPageToken="a"),
                page([], nextPageToken="b"),
                page([], nextPageToken="c"),
                page([2]),
            ]
        },
        PageTokenPaginator("nextPageToken", "pageToken"),
    )
    assert ["w1", "w2"] == keys(source)
    assert 4 == len(transport.sent)


def test_an_empty_page_that_carries_a_next_link_is_read_past():
    """An empty Graph-style page with `@odata.nextLink` leads on to the next page."""
    source, _ = source_for(
        {
            "/widgets": [
                (200, {"value": [], "@odata.nextLink": f"{API}/widgets?$skiptoken=x"}, {}),
                (200, {"value": [{"id": "b", "name": "B"}]}, {}),
            ]
        },
        NextLinkPaginator("@odata.nextLink"),
        records_key="value",
    )
    assert ["b"] == keys(source)


def test_an_offset_read_shorter_than_x_total_count_fails():
    """An empty page before X-Total-Count is reached is a partial read, not the end."""
    total = {"X-Total-Count": "5"}
    source, _ = source_for({"/widgets": [page([1, 2], total), page([], total)]})
    with pytest.raises(PartialReadError) as caught:
        keys(source)
    assert ("test.widgets", "widgets", 5, 2) == (
        caught.value.connector,
        caught.value.stream,
        caught.value.expected,
        caught.value.read,
    )


def test_a_link_paged_read_that_stops_short_of_the_total_fails():
    """A last page (no `rel="next"`) short of X-Total-Count fails the read."""
    first = {"Link": '</widgets?offset=2&limit=2>; rel="next"', "X-Total-Count": "4"}
    last = {"Link": '</widgets?offset=0&limit=2>; rel="first"', "X-Total-Count": "4"}
    source, _ = source_for(
        {"/widgets": [page([1, 2], first), page([3], last)]},
        OffsetPaginator(follow_link_header=True),
    )
    with pytest.raises(PartialReadError, match="declared 4 records, read 3"):
        keys(source)


def test_dead_lettered_records_count_as_read():
    """A record rejected as malformed still counts towards the declared total."""
    total = {"X-Total-Count": "3"}
    bad = (200, {"items": [{"id": "w1", "name": "W1"}, {"id": "w2"}]}, total)
    source, _ = source_for({"/widgets": [bad, page([3], total)]})
    items = list(source.read())
    assert 1 == sum(isinstance(i, Rejected) for i in items)
    assert ["w1", "w3"] == [i.key for i in items if isinstance(i, Widget)]


def test_a_404_after_the_first_page_is_a_partial_read():
    """A 404 on a later page fails the stream as a partial read, never as `no such endpoint`."""
    source, _ = source_for(
        {"/widgets": [page([1], nextPageToken="a"), (404, {"error": "gone"}, {})]},
        PageTokenPaginator("nextPageToken", "pageToken"),
    )
    with pytest.raises(PartialReadError) as caught:
        keys(source)
    assert not isinstance(caught.value, ConfigError)
    assert (404, "widgets", 1) == (caught.value.status, caught.value.stream, caught.value.read)


def test_a_404_on_the_first_page_is_a_config_error():
    """A 404 on the first page still means the endpoint is not there."""
    source, _ = source_for({"/widgets": [(404, {"error": "no such path"}, {})]})
    with pytest.raises(ConfigError, match="no such endpoint"):
        keys(source)


# -- Retry-After and retries -------------------------------------------------------------


def test_retry_after_in_seconds():
    """A numeric Retry-After is that many seconds; garbage is ignored."""
    assert (2.0, 0.5, None, None) == (
        retry_after_seconds("2"),
        retry_after_seconds(" 0.5 "),
        retry_after_seconds("soon"),
        retry_after_seconds(None),
    )


def test_retry_after_as_an_http_date():
    """An HTTP-date Retry-After is the time until then, never negative."""
    now = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
    later = email.utils.format_datetime(now + timedelta(seconds=42), usegmt=True)
    earlier = email.utils.format_datetime(now - timedelta(seconds=5), usegmt=True)
    assert (42.0, 0.0) == (
        retry_after_seconds(later, lambda: now),
        retry_after_seconds(earlier, lambda: now),
    )


def test_throttling_waits_what_retry_after_says():
    """A 429 with Retry-After: 3 waits 3 s and the request is sent again."""
    waits: list[float] = []
    source, transport = source_for(
        {"/widgets": [(429, {}, {"Retry-After": "3"}), page([1]), page([])]}, waits=waits
    )
    assert ["w1"] == keys(source)
    assert [3.0] == waits


def test_service_unavailable_with_an_http_date_waits_until_then():
    """A 503 whose Retry-After is an HTTP date about 30 s ahead waits about 30 s."""
    waits: list[float] = []
    when = email.utils.format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    source, _ = source_for(
        {"/widgets": [(503, {}, {"Retry-After": when}), page([1]), page([])]}, waits=waits
    )
    assert ["w1"] == keys(source)
    assert 28 <= waits[0] <= 30


def test_connection_errors_are_retried():
    """A refused connection and a timeout are retried with backoff, then the page is read."""
    waits: list[float] = []
    source, transport = source_for(
        {
            "/widgets": [
                requests.ConnectionError("refused"),
                requests.ReadTimeout("slow"),
                page([1]),
                page([]),
            ]
        },
        waits=waits,
    )
    assert ["w1"] == keys(source)
    assert [True, True] == [0 <= w <= c for w, c in zip(waits, (1.0, 2.0), strict=True)]


def test_server_errors_give_up_after_the_attempts():
    """A 502 on every attempt becomes a fatal error naming the status and path."""
    waits: list[float] = []
    source, transport = source_for({"/widgets": [(502, {}, {})]}, waits=waits, attempts=3)
    with pytest.raises(FatalError, match="gave up after 3 attempts") as caught:
        keys(source)
    assert (502, "/widgets", 3, 2) == (
        caught.value.status,
        caught.value.path,
        len(transport.sent),
        len(waits),
    )


def test_classify_error_can_make_a_403_a_rate_limit():
    """A connector's `classify_error` hook turns Google's 403 rateLimitExceeded into a retry."""

    def classify(response: requests.Response) -> Action | None:
        reasons = [e.get("reason") for e in response.json().get("error", {}).get("errors", [])]
        return Action.RATE_LIMITED if "rateLimitExceeded" in reasons else None

    limited = (403, {"error": {"errors": [{"reason": "rateLimitExceeded"}]}}, {"Retry-After": "1"})
    waits: list[float] = []
    source, _ = source_for(
        {"/widgets": [limited, page([1]), page([])]}, waits=waits, classify=classify
    )
    assert (["w1"], [1.0]) == (keys(source), waits)


# -- client errors -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error_type"), [(400, FatalError), (403, AuthError), (404, ConfigError)]
)
def test_client_errors_are_fatal_at_once(status: int, error_type: type[Exception]):
    """A 4xx fails without a retry, with connector, path and status as attributes."""
    waits: list[float] = []
    body = {"imsx_description": "filter field not supported"}
    source, transport = source_for({"/widgets": [(status, body, {})]}, waits=waits)
    with pytest.raises(error_type) as caught:
        keys(source)
    error = caught.value
    assert isinstance(error, FatalError)
    assert ("test.widgets", "/widgets", status) == (error.connector, error.path, error.status)
    assert "filter field not supported" in str(error)
    assert ([], 1) == (waits, len(transport.sent))


def test_client_error_message_never_shows_the_token_or_secret():
    """Even an error body that echoes the credentials is scrubbed of them."""
    echo = (400, {"message": f"bad request with Authorization: Bearer {SECRET}"}, {})
    source, _ = source_for({"/widgets": [echo]})
    with pytest.raises(FatalError) as caught:
        keys(source)
    assert SECRET not in str(caught.value)
    assert "(HTTP 400)" in str(caught.value)


def test_a_non_json_answer_is_fatal():
    """An HTML page where JSON was expected fails clearly."""
    source, _ = source_for(
        {"/widgets": [(200, b"<html>login</html>", {"Content-Type": "text/html"})]}
    )
    with pytest.raises(FatalError, match="not JSON"):
        keys(source)


# -- credentials -------------------------------------------------------------------------


def test_oauth_token_is_fetched_once_and_sent_as_bearer():
    """The client-credentials token is fetched once, with basic client auth, and reused."""
    source, transport = source_for(
        {TOKEN_URL.removeprefix(API): [token("tok-1")], "/widgets": [page([1, 2]), page([])]},
        auth=OAUTH,
    )
    assert ["w1", "w2"] == keys(source)
    token_requests = [r for r in transport.sent if r.url == TOKEN_URL]
    assert 1 == len(token_requests)
    assert "grant_type=client_credentials" == token_requests[0].body
    assert token_requests[0].headers["Authorization"].startswith("Basic ")
    widget_requests = [r for r in transport.sent if r.url != TOKEN_URL]
    assert {"Bearer tok-1"} == {r.headers["Authorization"] for r in widget_requests}


def test_oauth_token_is_renewed_shortly_before_it_expires():
    """A token of 100 s is reused for 90 s and renewed before it runs out."""
    now = [1000.0]
    transport = Scripted({"/oauth/token": [token("a", 100), token("b", 100)]})
    session = requests.Session()
    session.mount("https://", transport)
    auth = ClientCredentials(
        OAuthClientCredentials.model_validate(OAUTH),
        SECRET,
        session=session,
        timeout=5,
        connector="c",
        clock=lambda: now[0],
    )
    first = auth.headers()
    now[0] += 89
    assert first == auth.headers()
    now[0] += 2
    assert ({"Authorization": "Bearer a"}, {"Authorization": "Bearer b"}) == (first, auth.headers())
    assert 2 == auth.fetched


def test_a_401_refreshes_the_token_once_then_succeeds():
    """A 401 gets a new token and the request is sent again, without a backoff wait."""
    waits: list[float] = []
    source, transport = source_for(
        {
            "/oauth/token": [token("old"), token("new")],
            "/widgets": [(401, {}, {}), page([1]), page([])],
        },
        auth=OAUTH,
        waits=waits,
    )
    assert (["w1"], []) == (keys(source), waits)
    sent = [r.headers["Authorization"] for r in transport.sent if r.url != TOKEN_URL]
    assert ["Bearer old", "Bearer new", "Bearer new"] == sent


def test_a_second_401_is_an_auth_error():
    """A 401 right after a refresh fails as AuthError: no further refresh, no retry."""
    source, transport = source_for(
        {"/oauth/token": [token("one"), token("two")], "/widgets": [(401, {}, {})]}, auth=OAUTH
    )
    with pytest.raises(AuthError) as caught:
        keys(source)
    assert (401, "/widgets") == (caught.value.status, caught.value.path)
    assert 2 == len([r for r in transport.sent if r.url == TOKEN_URL])
    assert 2 == len([r for r in transport.sent if r.url != TOKEN_URL])
    assert "one" not in str(caught.value) and "two" not in str(caught.value)


def test_a_static_bearer_token_is_not_refreshed():
    """With a fixed API key a 401 fails at once."""
    source, transport = source_for({"/widgets": [(401, {}, {})]})
    with pytest.raises(AuthError, match="credentials refused"):
        keys(source)
    assert 1 == len(transport.sent)


def test_a_refused_client_names_the_client_id_not_the_secret():
    """A token endpoint refusing the client is an AuthError naming the client id only."""
    refused = (401, {"error": "invalid_client", "error_description": f"bad secret {SECRET}"}, {})
    source, _ = source_for({"/oauth/token": [refused], "/widgets": [page([1])]}, auth=OAUTH)
    with structlog.testing.capture_logs() as logs, pytest.raises(AuthError) as caught:
        keys(source)
    assert "hub-client" in str(caught.value)
    assert SECRET not in str(caught.value) + json.dumps(logs, default=str)


def test_a_busy_token_endpoint_is_retried():
    """A 503 from the token endpoint is retried like any other request."""
    waits: list[float] = []
    source, _ = source_for(
        {"/oauth/token": [(503, {}, {"Retry-After": "1"}), token("t")], "/widgets": [page([])]},
        auth=OAUTH,
        waits=waits,
    )
    assert ([], [1.0]) == (keys(source), waits)


# -- records -----------------------------------------------------------------------------


def test_a_bad_record_becomes_a_scrubbed_dead_letter_and_the_rest_goes_on():
    """A record failing validation is Rejected with its reason; identifiers are scrubbed."""
    bad = {"id": "w2", "name": None, "nin": "01018012345", "note": "born 01018012345"}
    source, _ = source_for(
        {"/widgets": [(200, {"items": [{"id": "w1", "name": "A"}, bad]}, {}), page([])]}
    )
    items = list(source.read())
    widget, rejected = items
    assert isinstance(widget, Widget) and isinstance(rejected, Rejected)
    assert ("widget", "w2") == (rejected.entity, rejected.record_ref)
    assert "widgets: name: Input should be a valid string" == rejected.reason
    assert "01018012345" not in json.dumps(rejected.payload)
