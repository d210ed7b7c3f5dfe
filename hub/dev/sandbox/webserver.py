"""The sandbox web server: one stdlib HTTP server for every simulated vendor API, with faults.

Vendor apps (OneRoster, SS 12000 and the MDMs: `sandbox_apps`) are mounted under a vendor
name and answer `/<tenant>/<vendor>/...`; each app gets a parsed `Request` and returns a
`Response` (JSON and paging helpers below). The server answers `/_sandbox/...` itself:

    GET    /_sandbox/health                       tenants and vendors served
    GET    /_sandbox/faults                       the fault plan, with hit counts
    POST   /_sandbox/faults                       add faults (a JSON object or a list)
    DELETE /_sandbox/faults                       clear the fault plan
    GET    /_sandbox/requests                     the latest requests, oldest first
    POST   /_sandbox/<vendor>/<tenant>/<action>   vendor-specific changes (see the app)

Faults (`Fault`, also `SandboxServer.add_fault` in-process) match requests by tenant,
vendor, method and a path substring, let `after` matching requests through, then affect
the next `times` (-1: all): `status` answers with a status (429 with `Retry-After` as
seconds or an HTTP date, 500, 503, ...), `delay` answers slowly, `drop` closes the
connection without an answer, `malformed` corrupts one record of the page, and
`repeat_next` makes the page name itself as its next page (`Link`, `@odata.nextLink`,
`nextPageToken`), which a client must detect as a loop. The partial-read faults:
`empty_page` answers the page without its records but with a continuation (a `Link`
next, `@odata.nextLink`, `nextPageToken` or `pageToken` the server minted) that leads to
the records it held back, as vendors do; on a page-numbered API (Jamf) the client simply
asks for the next number, so the held-back records are lost, which is a short read.
`truncate` keeps the first `index` records of the page and drops its continuation while
the declared total stays (a short read); `change` applies the app's control `action`
with `body` as its payload right after answering the matched request (e.g. a record
hard-deleted between two page fetches). A 404 on page N is a `status` fault with
`status: 404` and `after: N - 1`.

Why the standard library: a test double of vendor APIs needs routing, JSON and threads,
nothing more; `http.server.ThreadingHTTPServer` adds no dependency to the hub image and
starts in milliseconds inside a test (`start_in_thread`) or detached for `hub sandbox up`:

    python -m hub.dev.sandbox.webserver --home DIR --port N --tenants a,b --scale N [--detach]

writes `DIR/webserver.pid` and `DIR/webserver.json` (pid, port, url, tenants, vendors);
with `--detach` it forks into its own session and exits once the server listens
(`start_detached`, `stop_detached` and `detached_status` do this from Python).
"""

from __future__ import annotations

import argparse
import contextlib
import email.utils
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit

import structlog

from hub.dev._services import process_alive

__all__ = [
    "App",
    "Fault",
    "Request",
    "Response",
    "SandboxServer",
    "detached_status",
    "error_response",
    "json_response",
    "offset_window",
    "paging_headers",
    "sandbox_apps",
    "start_detached",
    "start_in_thread",
    "stop_detached",
]

log = structlog.get_logger(__name__)

FaultKind = Literal[
    "status", "delay", "drop", "malformed", "repeat_next", "empty_page", "truncate", "change"
]
FAULT_KINDS: tuple[str, ...] = (
    "status", "delay", "drop", "malformed", "repeat_next", "empty_page", "truncate", "change"
)  # fmt: skip
#: The query parameter and page-token prefix of a continuation an `empty_page` minted.
RESUME_PARAM = "sandbox_resume"
RESUME_TOKEN = "sandbox-resume-"
#: `Fault.value` that removes the field instead of replacing it.
DELETE_FIELD = "__delete__"
PID_FILE = "webserver.pid"
STATE_FILE = "webserver.json"
LOG_FILE = "webserver.log"


# -- requests, responses and helpers ----------------------------------------------------


@dataclass(frozen=True)
class Request:
    """One request to a vendor app, its path relative to `/<tenant>/<vendor>`."""

    method: str
    tenant: str
    vendor: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes
    #: `http://host:port/<tenant>/<vendor>`: what the app's links start with.
    base_url: str
    #: The full URL of this request, query included.
    url: str

    def json(self) -> Any:
        """The body parsed as JSON (None when empty)."""
        return json.loads(self.body) if self.body else None

    def form(self) -> dict[str, str]:
        """The body parsed as an `application/x-www-form-urlencoded` form."""
        return dict(parse_qsl(self.body.decode("utf-8")))


@dataclass
class Response:
    """What an app answers: a status, headers and a body."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    #: The JSON the body was made from, so faults can corrupt it before it is sent.
    data: Any = None


def json_response(
    data: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """A JSON response."""
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    all_headers = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
    return Response(status, body, all_headers, data)


def error_response(status: int, message: str, **extra: Any) -> Response:
    """A JSON error: `{"error": ..., "message": ...}` plus any extra fields."""
    return json_response(
        {"error": _REASONS.get(status, "error"), "message": message, **extra}, status
    )


_REASONS = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found"}


def offset_window(
    request: Request, *, default_limit: int = 100, max_limit: int = 10_000
) -> tuple[int, int]:
    """The `offset` and `limit` a request asks for; raise ValueError for bad values."""
    try:
        limit = int(request.query.get("limit", default_limit))
        offset = int(request.query.get("offset", 0))
    except ValueError:
        raise ValueError("limit and offset must be integers") from None
    if limit < 1 or offset < 0:
        raise ValueError("limit must be at least 1 and offset at least 0")
    return offset, min(limit, max_limit)


def paging_headers(request: Request, offset: int, limit: int, total: int) -> dict[str, str]:
    """`X-Total-Count` and a `Link` header with next, prev, first and last (RFC 8288)."""

    def link(at: int, rel: str) -> str:
        query = {**request.query, "offset": str(at), "limit": str(limit)}
        return f'<{request.url.split("?", 1)[0]}?{urlencode(query)}>; rel="{rel}"'

    links = [link(0, "first"), link(max(0, (total - 1) // limit * limit), "last")]
    if offset + limit < total:
        links.append(link(offset + limit, "next"))
    if offset > 0:
        links.append(link(max(0, offset - limit), "prev"))
    return {"X-Total-Count": str(total), "Link": ", ".join(links)}


class App(Protocol):
    """A simulated vendor API mounted under a vendor name."""

    @property
    def tenants(self) -> Sequence[str]:
        """The tenants it serves."""
        ...

    def handle(self, request: Request) -> Response:
        """Answer one request below `/<tenant>/<vendor>`."""
        ...

    def control(self, tenant: str, action: str, payload: Any) -> Any:
        """Apply a change asked for over `POST /_sandbox/<vendor>/<tenant>/<action>`."""
        ...


# -- faults -------------------------------------------------------------------------------


@dataclass
class Fault:
    """One planned misbehaviour; see the module docstring for the kinds."""

    kind: FaultKind
    #: `status`: the status to answer with.
    status: int = 503
    times: int = 1
    after: int = 0
    retry_after: float | str | None = None
    #: Send `Retry-After` as an HTTP date `retry_after` seconds from now.
    retry_after_http_date: bool = False
    seconds: float = 0.0
    field: str = "dateLastModified"
    value: Any = "not-a-date"
    index: int = 0
    #: `status`: the error body; `change`: the control payload.
    body: Any = None
    #: `change`: the app's control action, e.g. `vanish` or `retire`.
    action: str | None = None
    tenant: str | None = None
    vendor: str | None = None
    method: str | None = None
    path: str | None = None
    #: How many matching requests it has seen and affected.
    seen: int = 0
    applied: int = 0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r} (expected one of {FAULT_KINDS})")

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Fault:
        """A fault from its JSON form; unknown keys are an error."""
        known = {f for f in cls.__dataclass_fields__ if f not in ("seen", "applied")}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown fault fields: {', '.join(unknown)}")
        return cls(**data)

    def matches(self, request: Request) -> bool:
        """Whether this fault is about this request (its counters aside)."""
        return (
            (self.tenant is None or self.tenant == request.tenant)
            and (self.vendor is None or self.vendor == request.vendor)
            and (self.method is None or self.method.upper() == request.method)
            and (self.path is None or self.path in urlsplit(request.url).path)
        )

    def take(self) -> bool:
        """Count a matching request; True when the fault applies to it."""
        self.seen += 1
        if self.seen <= self.after or (self.times >= 0 and self.applied >= self.times):
            return False
        self.applied += 1
        return True

    @property
    def spent(self) -> bool:
        """True once it has affected all the requests it was meant to."""
        return self.times >= 0 and self.applied >= self.times


def _records(data: Any) -> list[Any] | None:
    """The page's first non-empty list of records, if it has one."""
    if not isinstance(data, dict):
        return None
    return next(
        (v for v in data.values() if isinstance(v, list) and v and isinstance(v[0], dict)), None
    )


def _corrupt(response: Response, fault: Fault) -> None:
    """Replace (or delete) one field of one record in the page's first list of records."""
    records = _records(response.data)
    if not records:
        return
    record = records[min(fault.index, len(records) - 1)]
    if fault.value == DELETE_FIELD:
        record.pop(fault.field, None)
    else:
        record[fault.field] = fault.value
    _rewrite(response)


def _repeat_next(response: Response, request: Request) -> None:
    """Make the page name itself (or its own token) as the next page."""
    link = response.headers.get("Link")
    if link:
        parts = [p for p in link.split(", ") if 'rel="next"' not in p]
        response.headers["Link"] = ", ".join([*parts, f'<{request.url}>; rel="next"'])
    if isinstance(response.data, dict):
        for key in ("@odata.nextLink", "odata.nextLink"):
            if key in response.data:
                response.data[key] = request.url
        for key, param in (("nextPageToken", "pageToken"), ("pageToken", "pageToken")):
            if key in response.data and param in request.query:
                response.data[key] = request.query[param]
        _rewrite(response)


def _continue_at(response: Response, url: str | None, token: str | None) -> None:
    """Make the page's continuation (in whichever form it has one) `url` or `token`; None: end."""
    link = response.headers.get("Link")
    if link is not None:
        parts = [p for p in link.split(", ") if p and 'rel="next"' not in p]
        response.headers["Link"] = ", ".join([*parts, *([f'<{url}>; rel="next"'] if url else [])])
    data = response.data
    if isinstance(data, dict):
        if "@odata.nextLink" in data or "@odata.context" in data:
            data["@odata.nextLink"] = url
        if "odata.nextLink" in data or "odata.metadata" in data:  # OData v3 (itslearning)
            data["odata.nextLink"] = url
        for key in ("nextPageToken", "pageToken"):
            if key in data or (key == "nextPageToken" and "kind" in data):
                data[key] = token
        _rewrite(response)


def _truncate(response: Response, fault: Fault) -> None:
    """Keep the first `index` records and end the read here; the declared total stays."""
    records = _records(response.data)
    if records is None:
        return
    del records[fault.index :]
    _continue_at(response, None, None)


def _rewrite(response: Response) -> None:
    response.body = json.dumps(response.data, ensure_ascii=False, separators=(",", ":")).encode()


# -- the server ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LoggedRequest:
    """One request the server answered."""

    method: str
    path: str
    status: int
    tenant: str | None
    vendor: str | None


class SandboxServer:
    """The sandbox's HTTP server: vendor apps, the fault plan and a request log."""

    def __init__(
        self,
        apps: Mapping[str, App] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.apps: dict[str, App] = dict(apps or {})
        self.host = host
        self._faults: list[Fault] = []
        #: Requests whose records an `empty_page` held back, by the id of their continuation.
        self._held_back: dict[str, Request] = {}
        self._lock = threading.Lock()
        self.requests: deque[LoggedRequest] = deque(maxlen=20_000)
        self._httpd = _HttpServer((host, port), _Handler)
        self._httpd.sandbox = self
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port it listens on."""
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """`http://127.0.0.1:<port>`."""
        return f"http://{self.host}:{self.port}"

    def base_url(self, tenant: str, vendor: str) -> str:
        """Where a tenant's vendor API lives, e.g. `http://127.0.0.1:8000/lillevik/oneroster`."""
        return f"{self.url}/{tenant}/{vendor}"

    def mount(self, vendor: str, app: App) -> None:
        """Serve `app` under `/<tenant>/<vendor>`."""
        self.apps[vendor] = app

    # -- faults -------------------------------------------------------------------------

    def add_fault(self, fault: Fault | None = None, **fields: Any) -> Fault:
        """Plan a fault (a `Fault`, or its fields as keywords) and return it."""
        planned = fault or Fault.from_json(fields)
        with self._lock:
            self._faults.append(planned)
        return planned

    def clear_faults(self) -> None:
        """Forget every planned fault."""
        with self._lock:
            self._faults.clear()

    def faults(self) -> list[Fault]:
        """The planned faults, with their counters."""
        with self._lock:
            return list(self._faults)

    def _due(self, request: Request) -> list[Fault]:
        with self._lock:
            return [f for f in self._faults if f.matches(request) and f.take()]

    # -- the request log ----------------------------------------------------------------

    def count(self, path: str | None = None, status: int | None = None) -> int:
        """How many logged requests had `path` in their path and this status."""
        return sum(
            1
            for r in list(self.requests)
            if (path is None or path in r.path) and (status is None or r.status == status)
        )

    # -- life cycle ---------------------------------------------------------------------

    def start(self) -> SandboxServer:
        """Serve in a daemon thread; returns at once."""
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"sandbox-web-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until `stop()` (or a signal handler calling it)."""
        self._httpd.serve_forever(poll_interval=0.05)

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> SandboxServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- dispatch -----------------------------------------------------------------------

    def dispatch(self, request: Request) -> Response | None:
        """Answer a vendor request, faults applied; None means: drop the connection."""
        app = self.apps.get(request.vendor)
        if app is None or request.tenant not in app.tenants:
            return error_response(404, f"no {request.vendor} API for tenant {request.tenant}")
        request = self._resumed(request)
        due = self._due(request)
        for fault in due:
            if fault.kind == "delay":
                time.sleep(fault.seconds)
        for fault in due:
            if fault.kind == "drop":
                return None
            if fault.kind == "status":
                return self._fault_response(fault)
        try:
            response = app.handle(request)
        except Exception:  # a bug in an app is a 500, as a real server would answer
            log.exception("sandbox_app_failed", vendor=request.vendor, path=request.path)
            return error_response(500, "the sandbox app failed")
        if response.status < 400:
            for fault in due:
                if fault.kind == "malformed":
                    _corrupt(response, fault)
                elif fault.kind == "repeat_next":
                    _repeat_next(response, request)
                elif fault.kind == "truncate":
                    _truncate(response, fault)
                elif fault.kind == "empty_page":
                    self._hold_back(response, request)
                elif fault.kind == "change" and fault.action:
                    app.control(request.tenant, fault.action, fault.body)
        return response

    def _hold_back(self, response: Response, request: Request) -> None:
        """Answer no records, with a continuation that leads to the records held back."""
        records = _records(response.data)
        if records is None:
            return
        records.clear()
        with self._lock:
            key = str(len(self._held_back) + 1)
            self._held_back[key] = request
        separator = "&" if "?" in request.url else "?"
        url = f"{request.url}{separator}{urlencode({RESUME_PARAM: key})}"
        _continue_at(response, url, RESUME_TOKEN + key)

    def _resumed(self, request: Request) -> Request:
        """The request an `empty_page` held back, if `request` follows its continuation."""
        token = request.query.get("pageToken", "")
        key = request.query.get(RESUME_PARAM) or (
            token.removeprefix(RESUME_TOKEN) if token.startswith(RESUME_TOKEN) else None
        )
        with self._lock:
            held = self._held_back.get(key) if key else None
        return replace(held, headers=request.headers) if held else request

    @staticmethod
    def _fault_response(fault: Fault) -> Response:
        body = (
            fault.body
            if fault.body is not None
            else {
                "error": "sandbox_fault",
                "message": f"injected HTTP {fault.status}",
            }
        )
        response = json_response(body, fault.status)
        if fault.retry_after is not None:
            if fault.retry_after_http_date:
                when = time.time() + float(fault.retry_after)
                response.headers["Retry-After"] = email.utils.formatdate(when, usegmt=True)
            else:
                response.headers["Retry-After"] = str(fault.retry_after)
        return response

    def control(self, method: str, parts: list[str], body: bytes) -> Response:
        """Answer `/_sandbox/...`."""
        try:
            payload = json.loads(body) if body else None
        except ValueError:
            return error_response(400, "the body is not JSON")
        if parts == ["health"] and method == "GET":
            return json_response(
                {
                    "status": "ok",
                    "vendors": sorted(self.apps),
                    "tenants": sorted({t for app in self.apps.values() for t in app.tenants}),
                }
            )
        if parts == ["faults"]:
            if method == "GET":
                return json_response([asdict(f) for f in self.faults()])
            if method == "DELETE":
                self.clear_faults()
                return json_response({"cleared": True})
            if method == "POST":
                items = payload if isinstance(payload, list) else [payload]
                try:
                    added = [self.add_fault(Fault.from_json(item or {})) for item in items]
                except (TypeError, ValueError) as exc:
                    return error_response(400, str(exc))
                return json_response([asdict(f) for f in added], 201)
        if parts == ["requests"] and method == "GET":
            return json_response([asdict(r) for r in list(self.requests)])
        if len(parts) == 3 and method == "POST" and parts[0] in self.apps:
            vendor, tenant, action = parts
            app = self.apps[vendor]
            if tenant not in app.tenants:
                return error_response(404, f"no {vendor} API for tenant {tenant}")
            try:
                return json_response(app.control(tenant, action, payload))
            except (KeyError, ValueError) as exc:
                return error_response(400, f"{action}: {exc}")
        return error_response(404, "unknown sandbox control path")


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    sandbox: SandboxServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    #: Headers and body go out as separate writes: without TCP_NODELAY a kept-alive
    #: connection waits for the client's delayed ACK (about 40 ms) on every small answer.
    disable_nagle_algorithm = True
    server: _HttpServer

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's naming
        self._serve()

    def do_POST(self) -> None:  # noqa: N802
        self._serve()

    def do_DELETE(self) -> None:  # noqa: N802
        self._serve()

    def do_PUT(self) -> None:  # noqa: N802
        self._serve()

    def do_PATCH(self) -> None:  # noqa: N802
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Quiet: the request log is `SandboxServer.requests`."""

    def _serve(self) -> None:
        sandbox = self.server.sandbox
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        split = urlsplit(self.path)
        parts = [p for p in split.path.split("/") if p]
        tenant = vendor = None
        if parts[:1] == ["_sandbox"]:
            response: Response | None = sandbox.control(self.command, parts[1:], body)
        elif len(parts) >= 2:
            tenant, vendor = parts[0], parts[1]
            host = self.headers.get("Host") or f"127.0.0.1:{sandbox.port}"
            request = Request(
                method=self.command,
                tenant=tenant,
                vendor=vendor,
                path="/" + "/".join(parts[2:]),
                query=dict(parse_qsl(split.query, keep_blank_values=True)),
                headers={k: v for k, v in self.headers.items()},
                body=body,
                base_url=f"http://{host}/{tenant}/{vendor}",
                url=f"http://{host}{self.path}",
            )
            response = sandbox.dispatch(request)
        else:
            response = error_response(404, "expected /<tenant>/<vendor>/...")
        status = response.status if response is not None else 0
        sandbox.requests.append(LoggedRequest(self.command, split.path, status, tenant, vendor))
        if response is None:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(2)
            return
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)


# -- starting it --------------------------------------------------------------------------


def sandbox_apps(
    tenants: Sequence[str],
    scale: int,
    seed: int = 1,
    *,
    clients: Mapping[str, tuple[str, str]],
    token_ttl: float = 3600.0,
    mdm: Mapping[str, Any] | None = None,
    equipment: Mapping[str, Mapping[str, str]] | None = None,
    variants: bool = False,
    licences: Mapping[str, str] | None = None,
    lms_tokens: Mapping[str, Mapping[str, str]] | None = None,
) -> dict[str, App]:
    """The standard vendor apps for these tenants, keyed by vendor name.

    `variants`: OneRoster 1.1 without the gradebook for every tenant, and sparse SS 12000
    registers (only what the standard requires) for the Swedish ones.

    OneRoster for every tenant; itslearning's Data Warehouse API for the tenants that run
    it (`hub.dev.sandbox.itslearning.ITSLEARNING_TENANTS`, read instead of OneRoster);
    SS 12000 for the Swedish ones (`hub.dev.sandbox.ss12000`);
    OS2skoledata for the Danish ones (`hub.dev.sandbox.os2skoledata`);
    the MDMs (`intune`, `jamf`, `google`) and the native learning platforms
    (`graph_education`, `classroom`: `native_lms_apps`) for every tenant `mdm` holds MDM
    credentials of (`hub.dev.sandbox.mdm.mdm_credentials(home, tenants)`), with Canvas and
    Moodle (`canvas`, `moodle`) for those of them `lms_tokens` holds a token of, by vendor
    (`hub.dev.sandbox.canvas.access_tokens(home, tenants)`, `moodle.access_tokens`); the licence
    sources (`m365`, `vpp`: `hub.dev.sandbox.licences`) for every tenant with MDM
    credentials that `licences` holds an Apple content token of; TOPdesk and Snipe-IT
    (`topdesk`, `snipeit`) for every tenant `equipment` holds secrets of
    (`hub.dev.sandbox.equipment.equipment_credentials(home, tenants)`). A Swedish tenant's
    LMS and MDMs hold the people of its SS 12000 register (`hub.dev.sandbox.roster`).
    """
    from hub.dev.sandbox.oneroster import OneRosterApp
    from hub.dev.sandbox.os2skoledata import OS2skoledataApp, danish_tenants
    from hub.dev.sandbox.ss12000 import SS12000App, swedish_tenants

    swedish = swedish_tenants(tenants)
    apps: dict[str, App] = {
        "oneroster": OneRosterApp.generate(
            tenants,
            scale,
            seed,
            clients=clients,
            token_ttl=token_ttl,
            v1p1_tenants=tenants if variants else (),
        )
    }
    if swedish:
        apps["ss12000"] = SS12000App.generate(
            swedish,
            scale,
            seed,
            clients=clients,
            token_ttl=token_ttl,
            sparse_tenants=swedish if variants else (),
        )
    from hub.dev.sandbox.itslearning import ItslearningApp, itslearning_tenants

    itslearning = itslearning_tenants(tenants)
    if itslearning:
        logins = {t: clients[t] for t in itslearning if t in clients}
        apps["itslearning"] = ItslearningApp.generate(itslearning, scale, seed, logins=logins)
    danish = danish_tenants(tenants)
    if danish:
        keys = {t: clients[t][1] for t in danish if t in clients}
        apps["os2skoledata"] = OS2skoledataApp.generate(danish, scale, seed, keys=keys)
    if mdm is not None:
        from hub.dev.sandbox.mdm import mdm_apps

        managed = [t for t in tenants if t in mdm]
        apps.update(mdm_apps(managed, scale, seed, credentials=mdm, token_ttl=token_ttl))
        apps.update(native_lms_apps(apps["oneroster"], managed, mdm, token_ttl, tokens=lms_tokens))
        licensed = [t for t in managed if licences and t in licences]
        if licensed and licences:
            from hub.dev.sandbox.licences import licence_apps

            apps.update(
                licence_apps(
                    licensed, scale, seed, credentials=mdm, tokens=licences, token_ttl=token_ttl
                )
            )
    if equipment is not None:
        from hub.dev.sandbox.equipment import equipment_apps

        equipped = [t for t in tenants if t in equipment]
        apps.update(equipment_apps(equipped, scale, seed, credentials=equipment))
    return apps


def native_lms_apps(
    oneroster: Any,
    tenants: Sequence[str],
    credentials: Mapping[str, Any],
    token_ttl: float,
    *,
    tokens: Mapping[str, Mapping[str, str]] | None = None,
) -> dict[str, App]:
    """Teams classes, Google Classroom, Canvas and Moodle for the tenants.

    Each serves the same platform as the tenants' OneRoster provider (its data, not a
    copy): Teams classes (`graph_education`) and Classroom (`classroom`) with the MDMs' app
    registration and service account, Canvas and Moodle (`canvas`, `moodle`) for the
    tenants `tokens` holds an access token of, by vendor. A tenant's hub.yaml chooses which
    of them, or OneRoster, it reads (`hub sandbox up --lms
    <tenant>=teams|classroom|canvas|moodle`).
    """
    from hub.dev.sandbox.canvas import CanvasApp, CanvasInstance
    from hub.dev.sandbox.classroom import ClassroomApp
    from hub.dev.sandbox.graph_education import GraphEducationApp
    from hub.dev.sandbox.moodle import MoodleApp, MoodleSite

    platforms = {t: oneroster.data[t] for t in tenants}
    known = {t: credentials[t] for t in tenants}
    apps: dict[str, App] = {
        "graph_education": GraphEducationApp(platforms, credentials=known, token_ttl=token_ttl),
        "classroom": ClassroomApp(platforms, credentials=known, token_ttl=token_ttl),
    }
    held = {vendor: {t: v[t] for t in tenants if t in v} for vendor, v in (tokens or {}).items()}
    if held.get("canvas"):
        instances = {
            t: CanvasInstance(platforms[t].owner, platform=platforms[t]) for t in held["canvas"]
        }
        apps["canvas"] = CanvasApp(instances, tokens=held["canvas"])
    if held.get("moodle"):
        sites = {t: MoodleSite(platforms[t].owner, platform=platforms[t]) for t in held["moodle"]}
        apps["moodle"] = MoodleApp(sites, tokens=held["moodle"])
    return apps


def start_in_thread(
    apps: Mapping[str, App] | None = None, *, host: str = "127.0.0.1", port: int = 0
) -> SandboxServer:
    """A started server in a daemon thread of this process (for tests); `stop()` it after."""
    return SandboxServer(apps, host=host, port=port).start()


def detached_status(home: Path) -> dict[str, Any] | None:
    """The state of the detached server of `home` if it is running, else None."""
    try:
        pid = int((home / PID_FILE).read_text().strip())
        state = json.loads((home / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None
    if not process_alive(pid) or state.get("pid") != pid:
        return None
    return dict(state)


def start_detached(
    home: Path,
    *,
    tenants: Sequence[str],
    scale: int,
    seed: int = 1,
    port: int = 0,
    timeout: float = 180.0,
    variants: bool = False,
) -> dict[str, Any]:
    """Start `python -m hub.dev.sandbox.webserver --detach` and return the running server's state.

    The command forks a server in its own session and exits once it listens (like slapd),
    so nothing here keeps a child process. Returns the state at once if `home` already
    runs a server. The server's output goes to `home/webserver.log`.
    """
    home.mkdir(parents=True, exist_ok=True)
    running = detached_status(home)
    if running is not None:
        return running
    command = [
        sys.executable, "-m", "hub.dev.sandbox.webserver", "--detach", "--home", str(home),
        "--port", str(port), "--tenants", ",".join(tenants), "--scale", str(scale),
        "--seed", str(seed), *(["--variants"] if variants else []),
    ]  # fmt: skip
    result = subprocess.run(  # noqa: S603 - our own module, fixed arguments
        command, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout,
        check=False,
    )  # fmt: skip
    state = detached_status(home)
    if result.returncode != 0 or state is None:
        tail = (
            (home / LOG_FILE).read_text(errors="replace")[-2000:]
            if (home / LOG_FILE).exists()
            else ""
        )
        raise RuntimeError(
            f"the sandbox web server did not start (exit {result.returncode}): "
            f"{(result.stderr or '').strip()[-1000:]} {tail}"
        )
    return state


def stop_detached(home: Path, timeout: float = 15.0) -> bool:
    """Stop the detached server of `home` (SIGTERM, then SIGKILL); False if none ran."""
    state = detached_status(home)
    if state is None:
        (home / PID_FILE).unlink(missing_ok=True)
        return False
    pid = int(state["pid"])
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while process_alive(pid):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            break
        time.sleep(0.05)
    (home / PID_FILE).unlink(missing_ok=True)
    return True


def _write_state(home: Path, server: SandboxServer, tenants: Sequence[str], args: Any) -> None:
    state = {
        "pid": os.getpid(),
        "port": server.port,
        "url": server.url,
        "tenants": list(tenants),
        "vendors": sorted(server.apps),
        "scale": args.scale,
        "seed": args.seed,
    }
    temporary = home / f".{STATE_FILE}.tmp"
    temporary.write_text(json.dumps(state, indent=2) + "\n")
    (home / PID_FILE).write_text(f"{os.getpid()}\n")
    temporary.replace(home / STATE_FILE)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the sandbox web server in the foreground, or in the background with `--detach`."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--home", type=Path, required=True, help="folder for pid, state, secrets")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--tenants", required=True, help="comma-separated tenant ids")
    parser.add_argument("--scale", type=int, default=600, help="people per tenant")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--token-ttl", type=float, default=3600.0, help="OAuth token lifetime")
    parser.add_argument("--detach", action="store_true", help="fork, and exit once it listens")
    parser.add_argument(
        "--variants", action="store_true", help="OneRoster 1.1 without gradebook, sparse SS 12000"
    )
    args = parser.parse_args(argv)
    home: Path = args.home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    if not args.detach:
        return _serve(home, args)
    (home / STATE_FILE).unlink(missing_ok=True)
    ready, signal_ready = os.pipe()
    pid = os.fork()
    if pid == 0:  # the server: its own session, output to the log file
        os.close(ready)
        os.setsid()
        log_fd = os.open(home / LOG_FILE, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        try:
            code = _serve(home, args, ready_fd=signal_ready)
        except BaseException:  # noqa: BLE001 - the log file is all a detached process has
            import traceback

            traceback.print_exc()
            code = 1
        os._exit(code)
    os.close(signal_ready)
    with os.fdopen(ready, "rb") as stream:
        answer = stream.read(1)  # empty when the server died before it listened
    return 0 if answer == b"1" else 1


def _serve(home: Path, args: Any, ready_fd: int | None = None) -> int:
    from hub.dev.sandbox import canvas, moodle
    from hub.dev.sandbox.equipment import equipment_credentials
    from hub.dev.sandbox.licences import licence_tokens, licensed_tenants
    from hub.dev.sandbox.mdm import mdm_credentials
    from hub.dev.sandbox.oneroster import client_credentials

    tenants = [t.strip() for t in args.tenants.split(",") if t.strip()]
    apps = sandbox_apps(
        tenants, args.scale, args.seed,
        clients=client_credentials(home, tenants), token_ttl=args.token_ttl,
        mdm=mdm_credentials(home, tenants), variants=args.variants,
        equipment=equipment_credentials(home, tenants),
        licences=licence_tokens(home, licensed_tenants(tenants)),
        lms_tokens={"canvas": canvas.access_tokens(home, tenants),
                    "moodle": moodle.access_tokens(home, tenants)},
    )  # fmt: skip
    server = SandboxServer(apps, host=args.host, port=args.port)
    stop = threading.Event()

    def on_signal(_signum: int, _frame: object) -> None:
        if not stop.is_set():
            stop.set()
            threading.Thread(target=server._httpd.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    _write_state(home, server, tenants, args)
    print(f"sandbox web server on {server.url} for {', '.join(tenants)}", flush=True)
    if ready_fd is not None:
        os.write(ready_fd, b"1")
        os.close(ready_fd)
    try:
        server.serve_forever()
    finally:
        server._httpd.server_close()
        with contextlib.suppress(OSError):
            if (home / PID_FILE).read_text().strip() == str(os.getpid()):
                (home / PID_FILE).unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
