"""The sandbox's Jamf Pro API: computers and mobile devices inventory, sites, buildings, tokens.

Mounted as vendor `jamf`: a tenant's Jamf Pro server is `<server>/<tenant>/jamf`, the API
below `/api`:

- `POST /api/oauth/token` (an API client: form `client_id`, `client_secret`,
  `grant_type=client_credentials`), `POST /api/v1/auth/token` (the user `skolehub-sync`
  by HTTP basic; answers `{"token", "expires"}`), `POST /api/v1/auth/keep-alive` (a new
  token for a valid one, which stops working), `POST /api/v1/auth/invalidate-token`.
- `GET /api/schema`: an OpenAPI document listing the paths the server offers (the
  `remove_endpoint` and `deprecate_endpoint` controls change it).
- `GET /api/v1/sites` (a bare list), `GET /api/v1/buildings`,
  `GET /api/v1/computers-inventory`, `GET /api/v2/mobile-devices/detail`: `page` (from
  0), `page-size` (1-2000), `sort` (`id` or `mobileDeviceId`, `:asc`/`:desc`) and
  `section` (repeated or comma-separated; only the sections asked for are returned),
  answering `{"totalCount", "results"}`.
- `GET /api/v1/computers-inventory/{id}`, `GET /api/v2/mobile-devices/{id}/detail`: one
  device with every section, Jamf's 404 `NOT_FOUND` once it is retired (what confirms a
  device missing from a full read gone).

It counts the requests it is serving at once per tenant (`max_in_flight`), can answer
slowly (`latency`), and can ignore `page` for the next requests (`repeat_pages`), which
is how a client's loop detection is tested against a page-numbered API.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from hub.dev.sandbox._oauth import basic, bearer, client_of
from hub.dev.sandbox.mdm._common import user_guid
from hub.dev.sandbox.mdm.credentials import JAMF_USER, MdmCredentials, jamf_client_id
from hub.dev.sandbox.mdm.fleet import DeviceFacts, Fleet, FleetApp, Table
from hub.dev.sandbox.webserver import Request, Response, json_response

__all__ = ["ENDPOINTS", "JamfApp"]

#: The GET endpoints the server offers, as its schema names them (below `/api`).
ENDPOINTS = (
    "/v1/computers-inventory",
    "/v2/mobile-devices/detail",
    "/v1/buildings",
    "/v1/sites",
    "/v1/jamf-pro-version",
    "/v1/computers-inventory/{id}",
    "/v2/mobile-devices/{id}/detail",
)
#: The lookups by id: the schema's path template, and the path's pattern.
BY_ID = {
    "/v1/computers-inventory/{id}": re.compile(r"^/v1/computers-inventory/(\d+)$"),
    "/v2/mobile-devices/{id}/detail": re.compile(r"^/v2/mobile-devices/(\d+)/detail$"),
}
VERSION = "11.12.1-t1731001234"
COMPUTER_SECTIONS = frozenset(
    {
        "GENERAL", "DISK_ENCRYPTION", "PURCHASING", "APPLICATIONS", "STORAGE",
        "USER_AND_LOCATION", "CONFIGURATION_PROFILES", "PRINTERS", "SERVICES", "HARDWARE",
        "LOCAL_USER_ACCOUNTS", "CERTIFICATES", "ATTACHMENTS", "PLUGINS", "PACKAGE_RECEIPTS",
        "FONTS", "SECURITY", "OPERATING_SYSTEM", "LICENSED_SOFTWARE", "IBEACONS",
        "SOFTWARE_UPDATES", "EXTENSION_ATTRIBUTES", "CONTENT_CACHING", "GROUP_MEMBERSHIPS",
    }
)  # fmt: skip
MOBILE_SECTIONS = frozenset(
    {
        "GENERAL", "HARDWARE", "USER_AND_LOCATION", "PURCHASING", "SECURITY", "APPLICATIONS",
        "EBOOKS", "NETWORK", "SERVICE_SUBSCRIPTIONS", "CERTIFICATES", "PROFILES",
        "USER_PROFILES", "PROVISIONING_PROFILES", "SHARED_USERS", "EXTENSION_ATTRIBUTES",
    }
)  # fmt: skip
MAX_PAGE_SIZE = 2000
_MODEL_IDS = {
    "iPad (9th generation)": "iPad12,1",
    "iPad (10th generation)": "iPad13,18",
    "iPad (6th generation)": "iPad7,5",
    "MacBook Air (M2, 2022)": "Mac14,2",
    "MacBook Air (M1, 2020)": "MacBookAir10,1",
    "MacBook Air (Retina, 13-inch, 2018)": "MacBookAir8,1",
}


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def jamf_error(status: int, code: str, description: str, field: str | None = None) -> Response:
    """A Jamf Pro API error body."""
    return json_response(
        {
            "httpStatus": status,
            "errors": [{"code": code, "field": field, "description": description, "id": "0"}],
        },
        status,
    )


class JamfApp(FleetApp):
    """The Jamf Pro server of every sandbox tenant, mounted as `jamf`."""

    def __init__(
        self,
        fleets: Mapping[str, Fleet],
        *,
        credentials: Mapping[str, MdmCredentials],
        token_ttl: float = 1800.0,
    ) -> None:
        super().__init__(fleets, credentials=credentials, token_ttl=token_ttl)
        #: Seconds each inventory request takes (a slow server shows the client's concurrency).
        self.latency = 0.0
        self.removed: set[str] = set()
        self.deprecated: set[str] = set()
        self._repeat: dict[str, int] = dict.fromkeys(self.tenants, 0)
        self._lock = threading.Lock()
        self._in_flight: dict[str, int] = dict.fromkeys(self.tenants, 0)
        #: The most requests served at once, per tenant.
        self.max_in_flight: dict[str, int] = dict.fromkeys(self.tenants, 0)
        #: Tokens renewed with keep-alive, per tenant.
        self.keep_alives: dict[str, int] = dict.fromkeys(self.tenants, 0)

    def repeat_pages(self, tenant: str, times: int = -1) -> None:
        """Serve page 0 whatever `page` says, for the next `times` inventory requests."""
        self._repeat[tenant] = times

    # -- requests ----------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """Tokens, the schema, and the inventory endpoints; counts concurrent requests."""
        tenant = request.tenant
        with self._lock:
            self._in_flight[tenant] += 1
            self.max_in_flight[tenant] = max(self.max_in_flight[tenant], self._in_flight[tenant])
        try:
            return self._answer(request)
        finally:
            with self._lock:
                self._in_flight[tenant] -= 1

    def _answer(self, request: Request) -> Response:
        path = request.path
        if request.method == "POST":
            if path == "/api/oauth/token":
                return self._oauth_token(request)
            if path == "/api/v1/auth/token":
                return self._user_token(request)
            if path == "/api/v1/auth/keep-alive":
                return self._keep_alive(request)
            if path == "/api/v1/auth/invalidate-token":
                token = bearer(request.headers)
                if token is None or self.tokens.valid(request.tenant, request.headers) is None:
                    return jamf_error(401, "INVALID_TOKEN", "Unauthorized")
                self.tokens.discard(token)
                return Response(204)
            return jamf_error(404, "NOT_FOUND", f"no such endpoint: POST {path}")
        if request.method != "GET":
            return jamf_error(405, "METHOD_NOT_ALLOWED", "method not allowed")
        if path == "/api/schema":
            return self._schema()
        endpoint = path.removeprefix("/api")
        device_id: str | None = None
        for template, pattern in BY_ID.items():
            match = pattern.match(endpoint)
            if match:
                endpoint, device_id = template, match.group(1)
        if not path.startswith("/api/") or endpoint not in ENDPOINTS or endpoint in self.removed:
            return jamf_error(404, "NOT_FOUND", f"no such endpoint: GET {path}")
        if self.tokens.valid(request.tenant, request.headers) is None:
            return jamf_error(401, "INVALID_TOKEN", "Unauthorized")
        fleet = self.fleets[request.tenant]
        if device_id is not None:
            return self._one(request, endpoint, int(device_id) - 1)
        if endpoint == "/v1/jamf-pro-version":
            return json_response({"version": VERSION})
        if endpoint == "/v1/sites":
            return json_response(
                [{"id": str(n + 1), "name": unit.name} for n, unit in enumerate(fleet.units)]
            )
        if self.latency and endpoint in ENDPOINTS[:2]:
            time.sleep(self.latency)
        tenant = request.tenant
        if endpoint == "/v1/buildings":
            buildings = range(len(fleet.units))
            return self._page(
                request, buildings, "id", frozenset(), lambda n, _: _building(fleet, n)
            )
        if endpoint == "/v1/computers-inventory":
            computers = fleet.listing(Table.JAMF_COMPUTERS)
            return self._page(
                request, computers, "id", COMPUTER_SECTIONS,
                lambda i, sections: self._computer(tenant, i, sections), devices=True,
            )  # fmt: skip
        mobiles = fleet.listing(Table.JAMF_MOBILE)
        return self._page(
            request, mobiles, "mobileDeviceId", MOBILE_SECTIONS,
            lambda i, sections: self._mobile(tenant, i, sections), devices=True,
        )  # fmt: skip

    def _page(
        self,
        request: Request,
        listing: Sequence[int],
        sort_key: str,
        known_sections: frozenset[str],
        render: Callable[[int, set[str]], dict[str, Any]],
        *,
        devices: bool = False,
    ) -> Response:
        query = request.query
        try:
            page = int(query.get("page", 0))
            size = int(query.get("page-size", 100))
        except ValueError:
            return jamf_error(400, "INVALID_FIELD", "page and page-size must be integers", "page")
        if page < 0 or not 1 <= size <= MAX_PAGE_SIZE:
            return jamf_error(
                400, "INVALID_FIELD", f"page-size must be 1-{MAX_PAGE_SIZE}", "page-size"
            )
        sort = query.get("sort", f"{sort_key}:asc")
        if sort not in (f"{sort_key}:asc", f"{sort_key}:desc", sort_key):
            return jamf_error(400, "INVALID_SORT", f"cannot sort on {sort!r}", "sort")
        sections = self._sections(request)
        unknown = sorted(sections - known_sections)
        if unknown:
            return jamf_error(400, "INVALID_FIELD", f"unknown section {unknown[0]}", "section")
        if devices and self._take_repeat(request.tenant):
            page = 0
        indexes = list(listing)
        if sort.endswith(":desc"):
            indexes.reverse()
        window = indexes[page * size : (page + 1) * size]
        results = [render(i, sections or {"GENERAL"}) for i in window]
        return json_response({"totalCount": len(indexes), "results": results})

    def _one(self, request: Request, endpoint: str, index: int) -> Response:
        """One device by id, every section; a retired or unknown id is Jamf's 404."""
        tenant, computer = request.tenant, endpoint.startswith("/v1/computers")
        table = Table.JAMF_COMPUTERS if computer else Table.JAMF_MOBILE
        fleet = self.fleets[tenant]
        if not 0 <= index < len(fleet.tables[table]) or index in fleet.retired[table]:
            return jamf_error(404, "NOT_FOUND", f"no device with id {index + 1}")
        if computer:
            return json_response(self._computer(tenant, index, set(COMPUTER_SECTIONS)))
        return json_response(self._mobile(tenant, index, set(MOBILE_SECTIONS)))

    def _take_repeat(self, tenant: str) -> bool:
        """True while `repeat_pages` says to ignore `page` (-1: for good)."""
        with self._lock:
            left = self._repeat[tenant]
            if left > 0:
                self._repeat[tenant] = left - 1
            return left != 0

    @staticmethod
    def _sections(request: Request) -> set[str]:
        raw = request.url.split("?", 1)[1] if "?" in request.url else ""
        found: set[str] = set()
        for part in raw.split("&"):
            name, _, value = part.partition("=")
            if name == "section" and value:
                found.update(v.strip().upper() for v in value.replace("%2C", ",").split(","))
        return found

    def _schema(self) -> Response:
        paths: dict[str, Any] = {}
        for endpoint in ENDPOINTS:
            if endpoint in self.removed:
                continue
            operation: dict[str, Any] = {"summary": f"GET {endpoint}", "tags": ["inventory"]}
            if endpoint in self.deprecated:
                operation["deprecated"] = True
            paths[endpoint] = {"get": operation}
        return json_response(
            {
                "openapi": "3.0.1",
                "info": {"title": "Jamf Pro API", "version": VERSION},
                "servers": [{"url": "/api"}],
                "paths": paths,
            }
        )

    # -- tokens ------------------------------------------------------------------------------

    def _oauth_token(self, request: Request) -> Response:
        form = request.form()
        if form.get("grant_type") != "client_credentials":
            return json_response({"error": "unsupported_grant_type"}, 400)
        client, secret = client_of(form, request.headers)
        expected = self.credentials[request.tenant].jamf_secret
        if client != jamf_client_id(request.tenant) or secret != expected:
            return json_response(
                {"error": "invalid_client", "error_description": "Client authentication failed"},
                401,
            )
        token = self.tokens.issue(request.tenant)
        return json_response(
            {
                "access_token": token,
                "scope": "api-role:hub-inventory-read",
                "token_type": "Bearer",
                "expires_in": self.tokens.lifetime,
            }
        )

    def _user_token(self, request: Request) -> Response:
        credentials = basic(request.headers)
        expected = (JAMF_USER, self.credentials[request.tenant].jamf_secret)
        if credentials != expected:
            return jamf_error(401, "INVALID_CREDENTIALS", "Unauthorized")
        return self._bearer(request.tenant)

    def _keep_alive(self, request: Request) -> Response:
        token = bearer(request.headers)
        if token is None or self.tokens.valid(request.tenant, request.headers) is None:
            return jamf_error(401, "INVALID_TOKEN", "Unauthorized")
        self.tokens.discard(token)
        with self._lock:
            self.keep_alives[request.tenant] += 1
        return self._bearer(request.tenant)

    def _bearer(self, tenant: str) -> Response:
        token = self.tokens.issue(tenant)
        expires = datetime.now(UTC) + timedelta(seconds=self.tokens.ttl)
        return json_response({"token": token, "expires": _iso(expires)})

    # -- records -----------------------------------------------------------------------------

    def _computer(self, tenant: str, index: int, sections: set[str]) -> dict[str, Any]:
        fleet = self.fleets[tenant]
        facts = fleet.facts(Table.JAMF_COMPUTERS, index)
        unit_id = str(fleet.units.index(facts.unit) + 1)
        record: dict[str, Any] = {
            "id": str(index + 1),
            "udid": user_guid(tenant, f"computer-{index}").upper(),
        }
        if "GENERAL" in sections:
            record["general"] = {
                "name": f"{facts.unit.acronym}-MAC-{index + 1:04d}",
                "lastIpAddress": f"10.{index % 250}.{index // 250 % 250}.10",
                "platform": "Mac",
                "barcode1": None,
                "barcode2": None,
                "assetTag": facts.asset_tag,
                "remoteManagement": {"managed": facts.state == "managed",
                                     "managementUsername": "jamfadmin"},
                "supervised": True,
                "mdmCapable": {"capable": True, "capableUsers": []},
                "reportDate": _iso(facts.last_check_in),
                "lastContactTime": _iso(facts.last_check_in),
                "lastEnrolledDate": _iso(facts.enrolled),
                "initialEntryDate": facts.enrolled.date().isoformat(),
                "enrolledViaAutomatedDeviceEnrollment": index % 10 != 3,
                "userApprovedMdm": True,
                "declarativeDeviceManagementEnabled": True,
                "site": {"id": unit_id, "name": facts.unit.name},
                "extensionAttributes": [],
            }  # fmt: skip
        if "HARDWARE" in sections:
            record["hardware"] = {
                "make": "Apple",
                "model": facts.model,
                "modelIdentifier": _MODEL_IDS.get(facts.model, ""),
                "serialNumber": facts.serial,
                "processorType": "Apple M2" if "M2" in facts.model else "Apple M1",
                "totalRamMegabytes": 8192,
                "macAddress": f"3C:22:FB:{index % 256:02X}:{index // 256 % 256:02X}:01",
            }
        if "OPERATING_SYSTEM" in sections:
            record["operatingSystem"] = {
                "name": "macOS",
                "version": facts.os_version,
                "build": "23H222",
                "activeDirectoryStatus": "Not Bound",
                "fileVault2Status": "ALL_ENCRYPTED",
                "extensionAttributes": [],
            }
        if "USER_AND_LOCATION" in sections:
            record["userAndLocation"] = self._place(fleet, facts, unit_id, computer=True)
        record.update(fleet.changes.get((Table.JAMF_COMPUTERS, index), {}))
        return record

    def _mobile(self, tenant: str, index: int, sections: set[str]) -> dict[str, Any]:
        fleet = self.fleets[tenant]
        facts = fleet.facts(Table.JAMF_MOBILE, index)
        unit_id = str(fleet.units.index(facts.unit) + 1)
        record: dict[str, Any] = {"mobileDeviceId": str(index + 1), "deviceType": "iOS"}
        if "GENERAL" in sections:
            record["general"] = {
                "udid": user_guid(tenant, f"mobile-{index}").upper(),
                "displayName": f"{facts.unit.acronym}-iPad-{index + 1:04d}",
                "assetTag": facts.asset_tag,
                "siteId": unit_id,
                "lastInventoryUpdateDate": _iso(facts.last_check_in),
                "osVersion": facts.os_version,
                "osBuild": "22B91",
                "ipAddress": f"10.{100 + index % 100}.{index // 100 % 250}.20",
                "managed": facts.state == "managed",
                "supervised": True,
                "deviceOwnershipType": "Institutional",
                "lastEnrolledDate": _iso(facts.enrolled),
                "initialEntryTimestamp": _iso(facts.enrolled),
                "sharedIpad": False,
                "timeZone": "Europe/Oslo",
                "declarativeDeviceManagementEnabled": True,
                "extensionAttributes": [],
            }
        if "HARDWARE" in sections:
            record["hardware"] = {
                "capacityMb": 65536,
                "availableSpaceMb": 20000 + index % 30000,
                "batteryLevel": 40 + index % 60,
                "serialNumber": facts.serial,
                "wifiMacAddress": f"F0:18:98:{index % 256:02X}:{index // 256 % 256:02X}:02",
                "model": facts.model,
                "modelIdentifier": _MODEL_IDS.get(facts.model, ""),
                "modelNumber": "MK2K3",
            }
        if "USER_AND_LOCATION" in sections:
            record["userAndLocation"] = self._place(fleet, facts, unit_id, computer=False)
        record.update(fleet.changes.get((Table.JAMF_MOBILE, index), {}))
        return record

    @staticmethod
    def _place(fleet: Fleet, facts: DeviceFacts, unit_id: str, *, computer: bool) -> dict[str, Any]:
        user = facts.username or ""
        mail = fleet.mail(user) if user else ""
        room = f"{fleet.words.room} {100 + facts.index % 40}"
        if computer:
            return {
                "username": user, "realname": "", "email": mail, "position": "", "phone": "",
                "departmentId": None, "buildingId": unit_id, "room": room,
                "extensionAttributes": [],
            }  # fmt: skip
        return {
            "username": user, "realName": "", "emailAddress": mail, "position": "",
            "phoneNumber": "", "departmentId": None, "buildingId": unit_id, "room": room,
            "extensionAttributes": [],
        }  # fmt: skip

    # -- control -----------------------------------------------------------------------------

    def control(self, tenant: str, action: str, payload: Any) -> Any:
        """Change a device, the tokens or the server's behaviour.

        Devices (by `computer_id` or `mobile_device_id`): `reassign`, `retire`, `modify`;
        tokens: `revoke_tokens`, `token_ttl`; the server: `latency`, `repeat_pages`,
        `remove_endpoint`, `deprecate_endpoint`.
        """
        data = payload or {}
        if self.control_tokens(tenant, action, data) is not None:
            pass
        elif action == "latency":
            self.latency = float(data["seconds"])
        elif action == "repeat_pages":
            self.repeat_pages(tenant, int(data.get("times", -1)))
        elif action == "remove_endpoint":
            self.removed.add(str(data["path"]))
        elif action == "deprecate_endpoint":
            self.deprecated.add(str(data["path"]))
        elif action in ("reassign", "retire", "modify"):
            self.change_device(tenant, *_device(data), action, data)
        else:
            raise ValueError(f"unknown action {action!r}")
        return {"done": action}


def _device(data: Mapping[str, Any]) -> tuple[Table, int]:
    if "computer_id" in data:
        return Table.JAMF_COMPUTERS, int(data["computer_id"]) - 1
    return Table.JAMF_MOBILE, int(data["mobile_device_id"]) - 1


def _building(fleet: Fleet, index: int) -> dict[str, Any]:
    unit, words = fleet.units[index], fleet.words
    return {
        "id": str(index + 1),
        "name": unit.name,
        "streetAddress1": f"{words.street.format(place=unit.name.split()[0])} {index + 1}",
        "streetAddress2": "",
        "city": fleet.owner.name.removesuffix(" kommune").removesuffix(" kommun"),
        "stateProvince": "",
        "zipPostalCode": f"{words.postcode + index:04d}",
        "country": words.country,
    }
