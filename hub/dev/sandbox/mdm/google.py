"""The sandbox's Google Workspace: OAuth 2.0 for service accounts, and ChromeOS devices.

Mounted as vendor `google`: a tenant's token endpoint is `<server>/<tenant>/google/token`
and the Admin SDK `<server>/<tenant>/google/admin/directory/v1/...`.

- `POST /token`: the JWT bearer grant (`grant_type=urn:ietf:params:oauth:grant-type:
  jwt-bearer`, `assertion=<JWT>`). The assertion's RS256 signature is checked against the
  tenant's service-account public key with google-auth, and its `iss`, `sub` (the
  delegated administrator), `aud` (Google's own token URL, as google-auth writes it) and
  `scope` as Google does; a bad signature is a 400
  `invalid_grant`, a scope not delegated a 401 `unauthorized_client`.
- `GET /admin/directory/v1/customer/{customerId}/devices/chromeos`: `maxResults` (1-300,
  default 100), `pageToken`/`nextPageToken` (opaque, tamper-checked), `projection`
  (`BASIC`, `FULL`), `orgUnitPath` (+ `includeChildOrgunits`) and `fields` (the partial
  response syntax `nextPageToken,chromeosdevices(deviceId,serialNumber)`); the customer
  is the tenant's id or `my_customer`.

Quota errors (403 `rateLimitExceeded`) come from the web server's fault injection with
Google's error body (`rate_limit_body()`).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, time
from typing import Any

from google.auth import jwt

from hub.dev.sandbox._oauth import TokenStore
from hub.dev.sandbox.mdm._common import device_guid, guid_index
from hub.dev.sandbox.mdm.credentials import (
    CLASSROOM_SCOPES,
    GOOGLE_SCOPE,
    LICENSING_SCOPE,
    MdmCredentials,
    google_customer_id,
    google_subject,
)
from hub.dev.sandbox.mdm.fleet import DeviceFacts, Fleet, FleetApp, Profile, Table
from hub.dev.sandbox.webserver import Request, Response, json_response

__all__ = [
    "GoogleAdminApp",
    "google_error",
    "google_unauthenticated",
    "rate_limit_body",
    "service_account_token",
]

DEVICES = re.compile(r"^/admin/directory/v1/customer/([^/]+)/devices/chromeos$")
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
#: The `aud` of a service account's JWT grant: Google's token endpoint, wherever it is sent.
TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
#: The scopes every sandbox tenant delegated to the hub's service account.
DELEGATED_SCOPES = frozenset({GOOGLE_SCOPE, *CLASSROOM_SCOPES, LICENSING_SCOPE})
TABLE_CODE = 0x2C00
MAX_RESULTS = 300
_STATUS = {
    "managed": "ACTIVE",
    "retiring": "RETURN_REQUESTED",
    "disabled": "DISABLED",
    "deprovisioned": "DEPROVISIONED",
}
_COMPLIANCE = {
    "compliant": "compliant",
    "noncompliant": "notCompliant",
    "inGracePeriod": "pending",
    "unknown": "complianceUnspecified",
}
_BASIC_FIELDS = (
    "kind", "etag", "deviceId", "serialNumber", "status", "model", "annotatedUser",
    "annotatedLocation", "annotatedAssetId", "orgUnitPath", "lastSync",
)  # fmt: skip


def google_error(status: int, reason: str, message: str, *, state: str = "") -> Response:
    """A Google API error body (the v1 `errors[]` form, with `status`)."""
    error: dict[str, Any] = {
        "code": status,
        "message": message,
        "errors": [{"message": message, "domain": "global", "reason": reason}],
    }
    if state:
        error["status"] = state
    return json_response({"error": error}, status)


def google_unauthenticated() -> Response:
    """Google's 401 for a missing, wrong or expired access token."""
    response = google_error(
        401,
        "authError",
        "Request had invalid authentication credentials.",
        state="UNAUTHENTICATED",
    )
    response.headers["WWW-Authenticate"] = 'Bearer realm="https://accounts.google.com/"'
    return response


def rate_limit_body(reason: str = "rateLimitExceeded") -> dict[str, Any]:
    """The body of Google's 403 quota error, for a sandbox fault."""
    return {
        "error": {
            "code": 403,
            "message": "Quota exceeded for quota metric 'Queries' and limit 'Queries per "
            "minute per user'",
            "errors": [
                {"message": "Rate Limit Exceeded", "domain": "usageLimits", "reason": reason}
            ],
            "status": "PERMISSION_DENIED",
        }
    }


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def service_account_token(
    request: Request, tokens: TokenStore, credentials: MdmCredentials, public_key: bytes
) -> Response:
    """Google's answer to a service account's JWT bearer grant for the tenant.

    The assertion's signature, issuer, subject (the delegated administrator) and audience
    are checked as Google does; every requested scope must be one the tenant delegated
    (`DELEGATED_SCOPES`: the ChromeOS devices and Classroom read scopes), else the grant is
    refused as Google refuses it. Google Classroom shares it.
    """
    form = request.form()
    if form.get("grant_type") != JWT_GRANT:
        return json_response(
            {"error": "unsupported_grant_type", "error_description": "Invalid grant_type"},
            400,
        )
    try:
        claims = jwt.decode(form.get("assertion", ""), certs=public_key, audience=TOKEN_AUDIENCE)
    except (ValueError, TypeError):
        return json_response(
            {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}, 400
        )
    if claims.get("iss") != credentials.google_key["client_email"]:
        return json_response(
            {"error": "invalid_grant", "error_description": "Invalid issuer."}, 400
        )
    if claims.get("sub") != google_subject(request.tenant):
        return json_response(
            {"error": "invalid_grant", "error_description": "Invalid email or User ID"}, 400
        )
    scopes = frozenset(str(claims.get("scope", "")).split())
    if not scopes or scopes - DELEGATED_SCOPES:
        return json_response(
            {
                "error": "unauthorized_client",
                "error_description": "Client is unauthorized to retrieve access tokens "
                "using this method, or client not authorized for any of the scopes "
                "requested.",
            },
            401,
        )
    token = tokens.issue(request.tenant, scopes)
    return json_response(
        {"access_token": token, "expires_in": tokens.lifetime, "token_type": "Bearer"}
    )


class GoogleAdminApp(FleetApp):
    """The Google Workspace of every sandbox tenant, mounted as `google`."""

    token_prefix = "ya29."
    table = Table.GOOGLE
    #: The scope the service account must be delegated (and the token granted) for this API.
    scope = GOOGLE_SCOPE

    def __init__(
        self,
        fleets: Mapping[str, Fleet],
        *,
        credentials: Mapping[str, MdmCredentials],
        token_ttl: float = 3600.0,
    ) -> None:
        super().__init__(fleets, credentials=credentials, token_ttl=token_ttl)
        self._public_keys = {t: c.google_public_key for t, c in self.credentials.items()}
        self._listings: dict[tuple[str, str, bool, int], Sequence[int]] = {}

    def device_id(self, tenant: str, index: int) -> str:
        """The deviceId of a row of the tenant's Google table."""
        return device_guid(self.fleets[tenant].tag, TABLE_CODE, index)

    def index_of(self, tenant: str, device_id: str) -> int:
        """The row a deviceId names; KeyError if none."""
        return guid_index(self.fleets[tenant].tag, TABLE_CODE, device_id)

    # -- requests ----------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """The token endpoint and the ChromeOS device list."""
        if request.path == "/token":
            if request.method != "POST":
                return json_response({"error": "invalid_request"}, 405)
            return self._token(request)
        match = DEVICES.match(request.path)
        if request.method != "GET" or match is None:
            return google_error(404, "notFound", f"Method not found: {request.path}")
        refused = self.refuse(request)
        if refused is not None:
            return refused
        customer = match.group(1)
        if customer not in ("my_customer", google_customer_id(request.tenant)):
            return google_error(404, "notFound", "Resource Not Found: customer")
        return self._devices(request)

    def refuse(self, request: Request) -> Response | None:
        """The 401 or 403 for a request without a valid token for this API's scope."""
        token = self.tokens.valid(request.tenant, request.headers)
        if token is None:
            return google_unauthenticated()
        if self.scope not in token.scopes:
            return google_error(
                403,
                "insufficientPermissions",
                "Request had insufficient authentication scopes.",
                state="PERMISSION_DENIED",
            )
        return None

    def _token(self, request: Request) -> Response:
        return service_account_token(
            request,
            self.tokens,
            self.credentials[request.tenant],
            self._public_keys[request.tenant],
        )

    def _devices(self, request: Request) -> Response:
        query = request.query
        try:
            limit = int(query.get("maxResults", 100))
        except ValueError:
            limit = 0
        if not 1 <= limit <= MAX_RESULTS:
            value = query.get("maxResults")
            return google_error(
                400,
                "invalid",
                f"Invalid value '{value}'. Values must be within the range: [1, {MAX_RESULTS}]",
            )
        listing = self._listing(
            request.tenant,
            query.get("orgUnitPath", ""),
            query.get("includeChildOrgunits", "").lower() == "true",
        )
        try:
            offset = self.page_offset(request.tenant, query.get("pageToken"))
        except ValueError:
            return google_error(400, "invalid", "Invalid Input: pageToken")
        projection = query.get("projection", "FULL").upper()
        if projection not in ("BASIC", "FULL"):
            return google_error(400, "invalid", f"Invalid value for projection: {projection}")
        records = [
            self.render(request.tenant, index, basic=projection == "BASIC")
            for index in listing[offset : offset + limit]
        ]
        body: dict[str, Any] = {"kind": "admin#directory#chromeosdevices", "etag": '"sandbox"'}
        if records:
            body["chromeosdevices"] = records
        if offset + limit < len(listing):
            body["nextPageToken"] = self.page_token(request.tenant, offset + limit)
        fields = query.get("fields")
        return json_response(_partial(body, fields) if fields else body)

    def _listing(self, tenant: str, org_unit: str, children: bool) -> Sequence[int]:
        fleet = self.fleets[tenant]
        if not org_unit or org_unit == "/":
            return fleet.listing(Table.GOOGLE)
        key = (tenant, org_unit.rstrip("/").lower(), children, fleet.versions[Table.GOOGLE])
        cached = self._listings.get(key)
        if cached is None:
            wanted = key[1]
            columns = fleet.tables[Table.GOOGLE]
            cached = []
            for index in fleet.listing(Table.GOOGLE):
                path = _org_unit(fleet, columns.unit[index], Profile(columns.profile[index]))
                path = path.lower()
                if path == wanted or (children and path.startswith(wanted + "/")):
                    cached.append(index)
            self._listings = {k: v for k, v in self._listings.items() if k[0] != tenant}
            self._listings[key] = cached
        return cached

    def page_offset(self, tenant: str, token: str | None) -> int:
        """The offset a `page_token` carries (0 without one); ValueError if it was tampered."""
        if not token:
            return 0
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        except (ValueError, UnicodeDecodeError):
            raise ValueError("bad page token") from None
        offset, _, check = raw.partition(":")
        if not offset.isdigit() or check != self._check(tenant, offset):
            raise ValueError("bad page token")
        return int(offset)

    def page_token(self, tenant: str, offset: int) -> str:
        """An opaque page token for the tenant's listing at `offset`, with a check."""
        raw = f"{offset}:{self._check(tenant, str(offset))}"
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    def _check(self, tenant: str, offset: str) -> str:
        return hashlib.sha256(f"{self.fleets[tenant].tag}:{offset}".encode()).hexdigest()[:12]

    def render(self, tenant: str, index: int, *, basic: bool = False) -> dict[str, Any]:
        """One ChromeOsDevice as the Directory API writes it (FULL, or BASIC)."""
        fleet = self.fleets[tenant]
        facts = fleet.facts(Table.GOOGLE, index)
        record = _device(fleet, facts, self.device_id(tenant, index))
        record.update(fleet.changes.get((Table.GOOGLE, index), {}))
        if basic:
            record = {k: v for k, v in record.items() if k in _BASIC_FIELDS}
        return record


def _org_unit(fleet: Fleet, unit_index: int, profile: Profile) -> str:
    words = fleet.words
    group = words.pupils_unit if profile is Profile.PUPIL_CHROMEBOOK else words.loans_unit
    return f"/Enheter/{fleet.units[unit_index].name}/{group}"


def _device(fleet: Fleet, facts: DeviceFacts, device_id: str) -> dict[str, Any]:
    unit_index = fleet.units.index(facts.unit)
    mail = fleet.workspace_mail(facts.username) if facts.username else None
    record: dict[str, Any] = {
        "kind": "admin#directory#chromeosdevice",
        "etag": f'"{hashlib.sha1(device_id.encode()).hexdigest()[:16]}"',  # noqa: S324
        "deviceId": device_id,
        "serialNumber": facts.serial,
        "status": _STATUS[facts.state],
        "lastSync": _iso(facts.last_check_in),
        "model": facts.model,
        "osVersion": facts.os_version,
        "platformVersion": f"{facts.os_version.split('.')[2]}.0.0 (Official Build) stable-channel",
        "firmwareVersion": "Google_Sandbox.13606.000.0",
        "macAddress": f"b8{facts.index:010x}",
        "bootMode": "Verified",
        "lastEnrollmentTime": _iso(facts.enrolled),
        "firstEnrollmentTime": _iso(facts.enrolled),
        "annotatedAssetId": facts.asset_tag,
        "orgUnitPath": _org_unit(fleet, unit_index, facts.profile),
        "orgUnitId": f"03ph8a2z{unit_index:04x}",
        "willAutoRenew": False,
        "chromeOsType": "chromeOs",
        "deviceLicenseType": "education",
        "osVersionCompliance": "notCompliant"
        if facts.os_outdated
        else _COMPLIANCE[facts.compliance],
        "activeTimeRanges": [
            {
                "activeTime": 3_600_000 + facts.index % 7_200_000,
                "date": facts.last_check_in.date().isoformat(),
            }
        ],
    }
    if facts.support_ends is not None:
        expiry = datetime.combine(facts.support_ends, time(0, 0), UTC)
        record["autoUpdateExpiration"] = str(int(expiry.timestamp() * 1000))
        record["autoUpdateThrough"] = facts.support_ends.isoformat()
    if mail:
        record["annotatedUser"] = mail
        record["recentUsers"] = [{"type": "USER_TYPE_MANAGED", "email": mail}]
    if facts.index % 3 == 0:
        room = f"{fleet.words.room.lower()} {100 + facts.index % 40}"
        record["annotatedLocation"] = f"{facts.unit.name}, {room}"
    return record


def _partial(body: dict[str, Any], fields: str) -> dict[str, Any]:
    """Google's partial response: `a,b,items(c,d)` keeps those keys (and only those)."""
    wanted = _parse_fields(fields)
    out: dict[str, Any] = {}
    for name, sub in wanted.items():
        if name not in body:
            continue
        value = body[name]
        if sub and isinstance(value, list):
            value = [{k: v for k, v in item.items() if k in sub} for item in value]
        out[name] = value
    return out


def _parse_fields(fields: str) -> dict[str, set[str]]:
    parsed: dict[str, set[str]] = {}
    depth, start, current = 0, 0, ""
    for position, char in enumerate(fields + ","):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            item = fields[start:position].strip()
            start = position + 1
            if not item:
                continue
            current, _, inner = item.partition("(")
            parsed[current.strip()] = {p.strip() for p in inner.rstrip(")").split(",") if p.strip()}
    return parsed
