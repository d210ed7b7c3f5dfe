"""The sandbox's Apple School Manager API: the organisation's purchased devices.

Mounted as vendor `asm`: a tenant's API is `<server>/<tenant>/asm` (`/v1/...`) and its
token endpoint `<server>/<tenant>/asm/auth/oauth2/token`. The devices are the tenant's
Apple devices in the sandbox Jamf (`Fleet`, Jamf's computers and mobile devices: the same
serials), ordered a few weeks before they enrolled, plus about one in twelve more that
were bought and never enrolled (half of them assigned to the Jamf service all the same).

- `POST /auth/oauth2/token`: form `grant_type=client_credentials`, `client_id`,
  `client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer`,
  `client_assertion` (an ES256 JWT verified against the tenant's public key: signature,
  `kid`, issuer and subject = client id, audience, expiry), `scope=school.api`.
- `GET /v1/orgDevices`: `limit` (1-1000, default 100), `cursor`, `fields[orgDevices]`;
  JSON:API `{"data", "links": {"self", "next"}, "meta": {"paging": {"limit", "nextCursor"}}}`.
- `GET /v1/mdmServers`, `GET /v1/mdmServers/{id}/relationships/devices` (linkage).
- 429 with `Retry-After` through the web server's faults; `revoke_tokens`, `token_ttl`,
  `release` (`serial`) controls; `repeat_links(tenant)` makes pages name themselves as the
  next (the loop a client must catch).
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from hub.dev.sandbox._oauth import IssuesTokens, TokenStore
from hub.dev.sandbox.mdm.fleet import Fleet, Table
from hub.dev.sandbox.webserver import Request, Response, json_response

__all__ = ["AsmApp", "AsmCredentials", "PurchasedRow", "account_ids", "generate_asm_credentials"]

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
AUDIENCE = "https://account.apple.com/auth/oauth2/v2/token"
SERVER_ID = "1F97349736CF4614A94F624E705841AD"
_SERVER_DEVICES = re.compile(r"^/v1/mdmServers/(?P<id>[0-9A-F]+)/relationships/devices$")


@dataclass(frozen=True)
class AsmCredentials:
    """A tenant's API account: client id, key id, and the EC P-256 key pair (PEM)."""

    client_id: str
    key_id: str
    private_key: str
    public_key: str


def account_ids(tenant: str) -> tuple[str, str]:
    """The tenant's API account's client id and key id (not secret: hub.yaml names them)."""
    upper = tenant.upper().replace("-", "").replace("_", "")
    return f"SCHOOLAPI.{upper}", f"KEY{upper[:6]}"


def generate_asm_credentials(tenant: str) -> AsmCredentials:
    """A new API account with a fresh EC P-256 key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return AsmCredentials(*account_ids(tenant), private, public)


@dataclass(frozen=True)
class PurchasedRow:
    """One purchased device."""

    serial: str
    model: str
    family: str
    ordered: datetime
    assigned: bool
    enrolled: bool


def purchases(fleet: Fleet) -> list[PurchasedRow]:
    """The tenant's purchases: its Jamf devices, plus some never enrolled."""
    rows: list[PurchasedRow] = []
    for table in (Table.JAMF_MOBILE, Table.JAMF_COMPUTERS):
        for index in fleet.listing(table):
            facts = fleet.facts(table, index)
            family = "iPad" if table is Table.JAMF_MOBILE else "Mac"
            ordered = facts.enrolled - timedelta(days=14 + index % 30)
            rows.append(PurchasedRow(facts.serial, facts.model, family, ordered, True, True))
    extra = max(2, len(rows) // 12)
    for n in range(extra):
        ordered = datetime(2026, 1, 1, tzinfo=UTC) - timedelta(days=90 * (n % 20))
        rows.append(
            PurchasedRow(f"DMQ{n:04d}NEVR{n % 10}", "iPad (10th generation)", "iPad", ordered,
                         n % 2 == 0, False)
        )  # fmt: skip
    return rows


def _b64url_json(part: str) -> dict[str, Any]:
    padded = part + "=" * (-len(part) % 4)
    value = json.loads(base64.urlsafe_b64decode(padded))
    return value if isinstance(value, dict) else {}


class AsmApp(IssuesTokens):
    """Apple School Manager's API for generated tenants."""

    def __init__(
        self,
        fleets: Mapping[str, Fleet],
        credentials: Mapping[str, AsmCredentials],
        token_ttl: float = 3600.0,
    ) -> None:
        self.rows = {t: purchases(f) for t, f in fleets.items()}
        self.credentials = dict(credentials)
        self.released: dict[str, dict[str, datetime]] = {t: {} for t in fleets}
        self.tokens = TokenStore(token_ttl)
        self._repeat: dict[str, int] = {}

    @property
    def tenants(self) -> Sequence[str]:
        """The tenants it serves."""
        return tuple(self.rows)

    def handle(self, request: Request) -> Response:
        """Answer one request below `/<tenant>/asm`."""
        tenant = request.tenant
        if tenant not in self.rows:
            return _errors(404, "NOT_FOUND", "no such organisation")
        if request.path == "/auth/oauth2/token" and request.method == "POST":
            return self._token(request)
        if self.tokens.valid(tenant, request.headers) is None:
            return _errors(401, "NOT_AUTHORIZED", "Provide a valid authentication token")
        try:
            limit = int(request.query.get("limit", 100))
        except ValueError:
            return _errors(400, "PARAMETER_ERROR.INVALID", "limit must be an integer")
        if not 1 <= limit <= 1000:
            return _errors(400, "PARAMETER_ERROR.INVALID", "limit must be 1-1000")
        if request.path == "/v1/orgDevices":
            rows = self.rows[tenant]
            return self._page(request, rows, limit, lambda r: self._device(tenant, r))
        if request.path == "/v1/mdmServers":
            server = {"type": "mdmServers", "id": SERVER_ID,
                      "attributes": {"serverName": "Jamf Pro", "serverType": "MDM"}}  # fmt: skip
            return self._page(request, [server], limit)
        if found := _SERVER_DEVICES.match(request.path):
            if found["id"] != SERVER_ID:
                return _errors(404, "NOT_FOUND", "no such server")
            linked = [
                {"type": "orgDevices", "id": r.serial} for r in self.rows[tenant] if r.assigned
            ]
            return self._page(request, linked, limit)
        return _errors(404, "NOT_FOUND", "The specified resource does not exist")

    def _page(
        self,
        request: Request,
        data: Sequence[Any],
        limit: int,
        shape: Callable[[Any], dict[str, Any]] | None = None,
    ) -> Response:
        """One page from `data`; `shape` makes a row Apple's JSON, only for the page's rows."""
        cursor = request.query.get("cursor")
        try:
            start = int(base64.urlsafe_b64decode(cursor.encode()).decode()) if cursor else 0
        except ValueError:
            return _errors(400, "PARAMETER_ERROR.INVALID", "invalid cursor")
        page = (
            [shape(r) for r in data[start : start + limit]]
            if shape
            else data[start : start + limit]
        )
        base = request.url.split("?", 1)[0]
        body: dict[str, Any] = {"data": page, "links": {"self": request.url}, "meta": {
            "paging": {"limit": limit}}}  # fmt: skip
        if start + limit < len(data):
            token = base64.urlsafe_b64encode(str(start + limit).encode()).decode()
            if self._repeat.get(request.tenant, 0):
                self._repeat[request.tenant] -= 1
                token = cursor or ""  # the page names itself as the next
            body["links"]["next"] = f"{base}?cursor={token}&limit={limit}" if token else request.url
            body["meta"]["paging"]["nextCursor"] = token or None
        return json_response(body)

    def repeat_links(self, tenant: str, times: int = 1) -> None:
        """Make the next `times` pages (-1: every page) name themselves as the next."""
        self._repeat[tenant] = 10**9 if times < 0 else times

    def _device(self, tenant: str, row: PurchasedRow) -> dict[str, Any]:
        released = self.released[tenant].get(row.serial)
        iso = "%Y-%m-%dT%H:%M:%S.000Z"
        return {
            "type": "orgDevices",
            "id": row.serial,
            "attributes": {
                "serialNumber": row.serial,
                "addedToOrgDateTime": (row.ordered + timedelta(days=3)).strftime(iso),
                "updatedDateTime": (released or row.ordered + timedelta(days=3)).strftime(iso),
                "deviceModel": row.model,
                "productFamily": row.family,
                "productType": "iPad13,18" if row.family == "iPad" else "Mac14,2",
                "deviceCapacity": "64GB",
                "partNumber": "MPQ03KN/A",
                "orderNumber": f"ORDER_{row.ordered:%Y%m%d}",
                "color": "SILVER",
                "status": "ASSIGNED" if row.assigned and not released else "UNASSIGNED",
                "orderDateTime": row.ordered.strftime(iso),
                "imei": [],
                "meid": [],
                "eid": None,
                "purchaseSourceId": "1234567",
                "purchaseSourceType": "APPLE" if row.family == "Mac" else "RESELLER",
                "releasedFromOrgDateTime": released.strftime(iso) if released else None,
            },
            "relationships": {"assignedServer": {"links": {
                "self": f"/v1/orgDevices/{row.serial}/relationships/assignedServer"}}},
            "links": {"self": f"/v1/orgDevices/{row.serial}"},
        }  # fmt: skip

    def _token(self, request: Request) -> Response:
        import jwt

        form = request.form()
        tenant = request.tenant
        account = self.credentials.get(tenant)
        if (
            form.get("grant_type") != "client_credentials"
            or form.get("client_assertion_type") != ASSERTION_TYPE
        ):
            return json_response({"error": "unsupported_grant_type"}, 400)
        if account is None or form.get("client_id") != account.client_id:
            return json_response({"error": "invalid_client"}, 401)
        if form.get("scope") != "school.api":
            return json_response({"error": "invalid_scope"}, 400)
        assertion = form.get("client_assertion", "")
        try:
            header = _b64url_json(assertion.split(".")[0])
            claims = jwt.decode(
                assertion, account.public_key, algorithms=["ES256"], audience=AUDIENCE,
                issuer=account.client_id, options={"require": ["exp", "iat", "jti", "sub"]},
            )  # fmt: skip
        except (jwt.PyJWTError, ValueError, IndexError):
            return json_response({"error": "invalid_client"}, 401)
        if header.get("kid") != account.key_id or claims.get("sub") != account.client_id:
            return json_response({"error": "invalid_client"}, 401)
        token = self.tokens.issue(tenant, frozenset({"school.api"}))
        return json_response(
            {
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": self.tokens.lifetime,
                "scope": "school.api",
            }  # fmt: skip
        )

    def control(self, tenant: str, action: str, payload: Any) -> Any:
        """Release a device from the organisation, or revoke tokens / change their lifetime."""
        data = payload or {}
        if (done := self.control_tokens(tenant, action, data)) is not None:
            return done
        if action == "release":
            self.released[tenant][str(data["serial"])] = datetime.now(UTC).replace(microsecond=0)
            return {"ok": True}
        raise KeyError(action)


def _errors(status: int, code: str, detail: str) -> Response:
    """Apple's JSON:API error body."""
    return json_response(
        {
            "errors": [
                {
                    "status": str(status),
                    "code": code,
                    "title": code,
                    "detail": detail,
                    "id": f"{int(time.time())}",
                }
            ]
        },  # fmt: skip
        status,
    )
