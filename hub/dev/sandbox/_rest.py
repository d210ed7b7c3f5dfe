"""What the OneRoster and SS 12000 sandboxes share: change overlays and the request flow.

Both render generated records on demand and keep changes as overlays on them
(`OverlaidTable`, `OverlaidTenant`); both answer a client-credentials token endpoint and
serve GET requests only to a current bearer token of the tenant (`RecordApi`).
"""

from __future__ import annotations

import base64
import hashlib
import threading
import zlib
from array import array
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar, Generic, TypeVar

from hub.dev.sandbox._oauth import TOKEN_PATH, IssuesTokens, TokenStore, client_credentials_grant
from hub.dev.sandbox.webserver import Request, Response, json_response

#: Generated records were last modified during the 30 days before this moment.
BASE_TIME = datetime(2025, 9, 15, 6, 0, tzinfo=UTC)
SPREAD_SECONDS = 30 * 86_400

TenantT = TypeVar("TenantT")


def iso(stamp: float) -> str:
    """An epoch time in RFC 3339 UTC with milliseconds: `2025-09-15T06:00:00.000Z`."""
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def control_time(data: Mapping[str, Any]) -> datetime | None:
    """When a control request's change happened (its `at`); None for now."""
    return datetime.fromisoformat(data["at"].replace("Z", "+00:00")) if data.get("at") else None


def signed_token(scope: str, value: int) -> str:
    """An opaque token for a number (an offset, a change sequence) that cannot be forged."""
    raw = f"{value}:{_signature(scope, str(value))}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def signed_value(scope: str, token: str) -> int:
    """The number of a `signed_token` of this scope; ValueError for anything else."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        raise ValueError("bad token") from None
    value, _, signature = raw.partition(":")
    if not value.isdigit() or signature != _signature(scope, value):
        raise ValueError("bad token")
    return int(value)


def _signature(scope: str, value: str) -> str:
    return hashlib.sha256(f"{scope}:{value}".encode()).hexdigest()[:12]


class OverlaidTable:
    """One collection of generated records, and the changes made to them since."""

    def __init__(self, name: str, count: int) -> None:
        self.name = name
        self.count = count
        base = BASE_TIME.timestamp()
        #: Each record's last-modified time in epoch seconds.
        self.stamps = array(
            "d", (base - zlib.crc32(f"{name}|{i}".encode()) % SPREAD_SECONDS for i in range(count))
        )
        #: Changed fields by record index.
        self.changes: dict[int, dict[str, Any]] = {}
        #: Records removed without a trace.
        self.vanished: set[int] = set()
        #: Raised by every change, so that cached listings are not reused.
        self.version = 0

    def change(self, index: int, changes: Mapping[str, Any] | None, at: datetime | None) -> str:
        """Change fields of a record (or just touch it); return its new modified time."""
        if changes:
            self.changes.setdefault(index, {}).update(changes)
        return self.touch(index, at)

    def touch(self, index: int, at: datetime | None) -> str:
        """Set a record's modified time to `at` (None: now); return it in RFC 3339."""
        self.stamps[index] = (at or datetime.now(UTC)).timestamp()
        self.version += 1
        return iso(self.stamps[index])

    def vanish(self, index: int) -> None:
        """Remove a record without a trace: only a full read can notice."""
        self.vanished.add(index)
        self.version += 1


class OverlaidTenant:
    """One tenant's collections by name, changed under the tenant's lock."""

    tables: Mapping[str, OverlaidTable]

    def __init__(self) -> None:
        self._lock = threading.RLock()

    def index_of(self, collection: str, record_id: str) -> int:
        """The index of the record with this id; KeyError if there is none."""
        raise NotImplementedError

    def modify(
        self,
        collection: str,
        record_id: str,
        changes: Mapping[str, Any] | None = None,
        *,
        at: datetime | None = None,
    ) -> str:
        """Change top-level fields of a record (or just touch it); return its new modified time."""
        with self._lock:
            return self.tables[collection].change(self.index_of(collection, record_id), changes, at)

    def vanish(self, collection: str, record_id: str) -> None:
        """Remove a record without a trace: only a full read can notice."""
        with self._lock:
            self.tables[collection].vanish(self.index_of(collection, record_id))


class RecordApi(IssuesTokens, Generic[TenantT]):
    """A sandbox API of each tenant's records behind OAuth 2.0 client credentials.

    `handle` answers the token endpoint, refuses everything but GET, and serves a known
    endpoint only to a current bearer token of the tenant; `control` revokes tokens,
    changes their lifetime, or hands any other action to `change`.
    """

    #: The realm of the token endpoint's `WWW-Authenticate` challenge.
    realm: ClassVar[str]
    #: The scope a token answer names when the client asked for none (None: no scope).
    default_scope: ClassVar[str | None] = None

    def __init__(
        self,
        tenants: Mapping[str, TenantT],
        *,
        clients: Mapping[str, tuple[str, str]],
        token_ttl: float = 3600.0,
        max_limit: int = 10_000,
    ) -> None:
        self.data = dict(tenants)
        self.tenants = tuple(self.data)
        self.clients = dict(clients)
        self.max_limit = max_limit
        #: The issued access tokens; `tokens.ttl` is their lifetime in seconds.
        self.tokens = TokenStore(token_ttl)

    # -- requests -------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """Answer the token endpoint, and the API's endpoints for a current token."""
        if request.path == TOKEN_PATH:
            if request.method != "POST":
                return json_response({"error": "invalid_request"}, 405)
            return client_credentials_grant(
                request,
                self.tokens,
                self.clients.get(request.tenant),
                realm=self.realm,
                default_scope=self.default_scope,
            )
        if request.method != "GET":
            return self.error(405, "only GET is supported")
        answer = self.endpoint(request)
        if answer is None:
            return self.error(404, f"no such endpoint: {request.path}")
        if self.tokens.valid(request.tenant, request.headers) is None:
            response = self.error(401, "missing, invalid or expired token")
            response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
            return response
        return answer(self.data[request.tenant])

    def endpoint(self, request: Request) -> Callable[[TenantT], Response] | None:
        """What answers a GET request for a tenant; None where the API has no such endpoint."""
        raise NotImplementedError

    def error(self, status: int, message: str) -> Response:
        """The API's error answer with this status (400, 401, 404 or 405)."""
        raise NotImplementedError

    # -- control --------------------------------------------------------------------------

    def control(self, tenant: str, action: str, payload: Any) -> Any:
        """Apply `revoke_tokens`, `token_ttl`, or one of the API's changes (`change`)."""
        data = payload or {}
        answer = self.control_tokens(tenant, action, data)
        if answer is not None:
            return answer
        return self.change(self.data[tenant], action, data)

    def change(self, target: TenantT, action: str, data: Mapping[str, Any]) -> Any:
        """Apply one of the API's change actions to a tenant's records."""
        raise NotImplementedError
