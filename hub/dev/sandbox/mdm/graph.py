"""The sandbox's Microsoft Graph for Intune: managed devices, their overview, and the token.

Mounted as vendor `intune`, so a tenant's Graph is `<server>/<tenant>/intune/v1.0` and its
Microsoft identity platform token endpoint `<server>/<tenant>/intune/<directory id>/
oauth2/v2.0/token` (client credentials, the secret by HTTP basic or in the form, scope
`https://graph.microsoft.com/.default`; a wrong directory, scope or secret is refused with
the AADSTS error the real endpoint gives).

- `GET /v1.0/deviceManagement/managedDevices`: `$select` (an unknown property is a 400),
  `$top` (1-1000, default 1000) and `@odata.nextLink` carrying an opaque `$skiptoken`.
- `GET /v1.0/deviceManagement/managedDeviceOverview`: the counts.

Records are Graph v1.0 `managedDevice`s rendered from the tenant's `Fleet` (Windows
laptops and lab desktops, staff phones, and the pupils' iPads that are in Jamf too);
Graph's habits are kept: `""` for a missing string, `0001-01-01T00:00:00Z` for a missing
date, a zero GUID for no user.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from hub.dev.sandbox._oauth import TokenStore, client_of
from hub.dev.sandbox.mdm._common import device_guid, guid_index, user_guid
from hub.dev.sandbox.mdm.credentials import (
    GRAPH_SCOPE,
    intune_client_id,
    intune_directory_id,
)
from hub.dev.sandbox.mdm.fleet import DeviceFacts, Fleet, FleetApp, Profile, Table
from hub.dev.sandbox.webserver import Request, Response, json_response

__all__ = [
    "MANAGED_DEVICE_PROPERTIES",
    "GraphApp",
    "GraphCollection",
    "graph_collection",
    "graph_error",
    "graph_token",
    "graph_unauthenticated",
    "skiptoken",
    "skiptoken_offset",
]

API = "/v1.0"
DEVICES = f"{API}/deviceManagement/managedDevices"
OVERVIEW = f"{API}/deviceManagement/managedDeviceOverview"
TABLE_CODE = 0x1A00
NEVER = "0001-01-01T00:00:00Z"
ZERO_GUID = "00000000-0000-0000-0000-000000000000"
MAX_TOP = 1000
#: The properties of a v1.0 managedDevice, as `$select` accepts them.
MANAGED_DEVICE_PROPERTIES = frozenset(
    {
        "id", "userId", "deviceName", "managedDeviceOwnerType", "deviceActionResults",
        "enrolledDateTime", "lastSyncDateTime", "operatingSystem", "complianceState",
        "jailBroken", "managementAgent", "osVersion", "easActivated", "easDeviceId",
        "easActivationDateTime", "azureADRegistered", "deviceEnrollmentType",
        "activationLockBypassCode", "emailAddress", "azureADDeviceId",
        "deviceRegistrationState", "deviceCategoryDisplayName", "isSupervised",
        "exchangeLastSuccessfulSyncDateTime", "exchangeAccessState",
        "exchangeAccessStateReason", "remoteAssistanceSessionUrl",
        "remoteAssistanceSessionErrorDetails", "isEncrypted", "userPrincipalName", "model",
        "manufacturer", "imei", "complianceGracePeriodExpirationDateTime", "serialNumber",
        "phoneNumber", "androidSecurityPatchLevel", "userDisplayName",
        "configurationManagerClientEnabledFeatures", "wiFiMacAddress",
        "deviceHealthAttestationState", "subscriberCarrier", "meid",
        "totalStorageSpaceInBytes", "freeStorageSpaceInBytes", "managedDeviceName",
        "partnerReportedThreatState",
    }
)  # fmt: skip
_ENROLLMENT = {
    Profile.STAFF_LAPTOP: "windowsAzureADJoin",
    Profile.LAB_DESKTOP: "windowsBulkUserless",
    Profile.STAFF_PHONE: "userEnrollment",
    Profile.TWIN_IPAD: "appleBulkWithUser",
}


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def graph_error(status: int, code: str, message: str) -> Response:
    """A Graph error body."""
    body = {
        "error": {
            "code": code,
            "message": message,
            "innerError": {"date": "2025-01-01T00:00:00", "request-id": ZERO_GUID},
        }
    }
    return json_response(body, status)


def graph_unauthenticated() -> Response:
    """Graph's 401 for a missing, wrong or expired access token."""
    response = graph_error(
        401, "InvalidAuthenticationToken", "Lifetime validation failed, the token is expired."
    )
    response.headers["WWW-Authenticate"] = 'Bearer realm="", error="invalid_token"'
    return response


def _identity_error(status: int, error: str, code: int, description: str) -> Response:
    return json_response(
        {
            "error": error,
            "error_description": f"AADSTS{code}: {description}",
            "error_codes": [code],
            "timestamp": "2025-01-01 00:00:00Z",
        },
        status,
    )


def graph_token(request: Request, tokens: TokenStore, secret: str) -> Response:
    """The Microsoft identity platform's answer to a client-credentials grant for the tenant.

    The directory in the path, the scope, the client id and `secret` are checked as the real
    endpoint does, each refusal with its AADSTS error; Graph education shares it.
    """
    tenant = request.tenant
    directory = request.path.strip("/").split("/")[0]
    if directory != intune_directory_id(tenant):
        return _identity_error(400, "invalid_request", 90002, f"Tenant '{directory}' not found.")
    form = request.form()
    if form.get("grant_type") != "client_credentials":
        return _identity_error(400, "unsupported_grant_type", 70003, "unsupported grant type")
    if form.get("scope") != GRAPH_SCOPE:
        return _identity_error(
            400, "invalid_scope", 1002012, "The provided value for scope is not valid."
        )
    client, given = client_of(form, request.headers)
    if client != intune_client_id(tenant):
        return _identity_error(
            400, "unauthorized_client", 700016, f"Application '{client}' was not found."
        )
    if given != secret:
        return _identity_error(401, "invalid_client", 7000215, "Invalid client secret provided.")
    token = tokens.issue(tenant)
    lifetime = tokens.lifetime
    return json_response(
        {
            "token_type": "Bearer",
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": token,
        }
    )


class GraphApp(FleetApp):
    """Intune's part of Microsoft Graph for every sandbox tenant, mounted as `intune`."""

    token_prefix = "eyJ0eXAiOiJKV1Qi."
    table = Table.INTUNE

    # -- identifiers -------------------------------------------------------------------------

    def device_id(self, tenant: str, index: int) -> str:
        """The managedDevice id of a row of the tenant's Intune table."""
        return device_guid(self.fleets[tenant].tag, TABLE_CODE, index)

    def index_of(self, tenant: str, device_id: str) -> int:
        """The row a managedDevice id names; KeyError if none."""
        return guid_index(self.fleets[tenant].tag, TABLE_CODE, device_id)

    # -- requests ----------------------------------------------------------------------------

    def routes(self) -> dict[str, Callable[[Request], Response]]:
        """The Graph resources this app serves, by path: the managed devices and overview."""
        return {DEVICES: self._devices, OVERVIEW: self._overview}

    def handle(self, request: Request) -> Response:
        """The token endpoint, then each resource of `routes` behind the token check."""
        if request.path.endswith("/oauth2/v2.0/token"):
            if request.method != "POST":
                return graph_error(405, "MethodNotAllowed", "use POST")
            return self._token(request)
        if request.method != "GET":
            return graph_error(405, "BadRequest", "only GET is supported here")
        routes = self.routes()
        if request.path not in routes:
            segment = request.path.rstrip("/").rsplit("/", 1)[-1]
            return graph_error(
                404, "BadRequest", f"Resource not found for the segment '{segment}'."
            )
        if self.tokens.valid(request.tenant, request.headers) is None:
            return graph_unauthenticated()
        return routes[request.path](request)

    def _token(self, request: Request) -> Response:
        return graph_token(request, self.tokens, self.credentials[request.tenant].intune_secret)

    def _overview(self, request: Request) -> Response:
        fleet = self.fleets[request.tenant]
        systems: dict[str, int] = {}
        for index in fleet.listing(Table.INTUNE):
            os_name = fleet.facts(Table.INTUNE, index).os_name
            systems[os_name] = systems.get(os_name, 0) + 1
        count = fleet.count(Table.INTUNE)
        return json_response(
            {
                "@odata.context": f"{request.base_url}{API}/$metadata#deviceManagement/"
                "managedDeviceOverview/$entity",
                "id": "managedDeviceOverview",
                "enrolledDeviceCount": count,
                "mdmEnrolledCount": count,
                "dualEnrolledDeviceCount": 0,
                "deviceOperatingSystemSummary": {
                    "androidCount": systems.get("Android", 0),
                    "iosCount": systems.get("iPadOS", 0) + systems.get("iOS", 0),
                    "macOSCount": systems.get("macOS", 0),
                    "windowsMobileCount": 0,
                    "windowsCount": systems.get("Windows", 0),
                    "unknownCount": 0,
                },
            }
        )

    def _devices(self, request: Request) -> Response:
        listing = self.fleets[request.tenant].listing(Table.INTUNE)
        return graph_collection(
            request,
            GraphCollection(DEVICES, "deviceManagement/managedDevices", "managedDevice",
                            MANAGED_DEVICE_PROPERTIES, "BadRequest", MAX_TOP, MAX_TOP),
            len(listing),
            lambda n: self.render(request.tenant, listing[n]),
        )  # fmt: skip

    def render(self, tenant: str, index: int) -> dict[str, Any]:
        """One managedDevice as Graph v1.0 writes it."""
        fleet = self.fleets[tenant]
        facts = fleet.facts(Table.INTUNE, index)
        record = _managed_device(fleet, facts, self.device_id(tenant, index))
        record.update(fleet.changes.get((Table.INTUNE, index), {}))
        return record


@dataclass(frozen=True)
class GraphCollection:
    """A Graph collection as the sandbox serves it: where, what, and its paging limits."""

    path: str
    #: The `@odata.context` fragment, e.g. `users`.
    context: str
    #: The entity type, as errors name it (`managedDevice`).
    type_name: str
    properties: frozenset[str]
    #: The error code Graph gives this collection's bad requests.
    error_code: str
    default_top: int
    max_top: int


def graph_collection(
    request: Request,
    collection: GraphCollection,
    count: int,
    render: Callable[[int], dict[str, Any]],
) -> Response:
    """One page of a collection of `count` records (`render(n)` the n-th), as Graph pages it.

    `$select` (an unknown property is a 400), `$top` (1 to `max_top`), and an
    `@odata.nextLink` carrying an opaque `$skiptoken` while records are left.
    """
    query = dict(request.query)
    code = collection.error_code
    select = [p.strip() for p in query.get("$select", "").split(",") if p.strip()]
    unknown = [p for p in select if p not in collection.properties]
    if unknown:
        return graph_error(
            400,
            code,
            f"Could not find a property named '{unknown[0]}' on type "
            f"'microsoft.graph.{collection.type_name}'.",
        )
    try:
        top = int(query.get("$top", collection.default_top))
        offset = skiptoken_offset(query.get("$skiptoken"))
    except ValueError:
        return graph_error(400, code, "Invalid $top or $skiptoken.")
    if not 1 <= top <= collection.max_top:
        return graph_error(400, code, f"$top must be between 1 and {collection.max_top}.")
    records = []
    for n in range(offset, min(offset + top, count)):
        record = render(n)
        if select:
            record = {k: v for k, v in record.items() if k in select or k == "id"}
        records.append(record)
    context = f"{request.base_url}{API}/$metadata#{collection.context}"
    body: dict[str, Any] = {
        "@odata.context": context + (f"({','.join(select)})" if select else ""),
        "value": records,
    }
    if offset + top < count:
        next_query = {k: v for k, v in query.items() if k != "$skiptoken"}
        next_query["$top"] = str(top)
        next_query["$skiptoken"] = skiptoken(offset + top, collection.context)
        link = urlencode(next_query, safe="$,")
        body["@odata.nextLink"] = f"{request.base_url}{collection.path}?{link}"
    return json_response(body)


def skiptoken_offset(token: str | None) -> int:
    """The offset a `$skiptoken` of `skiptoken` carries (0 without one); ValueError if bad."""
    if not token:
        return 0
    padded = token + "=" * (-len(token) % 4)
    value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    if not isinstance(value, dict) or not isinstance(value.get("o"), int) or value["o"] < 0:
        raise ValueError("bad $skiptoken")
    return int(value["o"])


def skiptoken(offset: int, collection: str = "managedDevices") -> str:
    """An opaque `$skiptoken` for the page of a collection starting at `offset`."""
    raw = json.dumps({"o": offset, "k": collection}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _managed_device(fleet: Fleet, facts: DeviceFacts, device_id: str) -> dict[str, Any]:
    user = facts.username
    upn = fleet.mail(user) if user else ""
    retiring = facts.state == "retiring"
    phone = facts.profile is Profile.STAFF_PHONE
    ipad = facts.os_name == "iPadOS"
    words = fleet.words
    audience = words.pupil if facts.profile is Profile.TWIN_IPAD else words.staff
    category = words.shared if facts.profile is Profile.LAB_DESKTOP else audience
    return {
        "@odata.type": "#microsoft.graph.managedDevice",
        "id": device_id,
        "userId": user_guid(fleet.tenant, user) if user else ZERO_GUID,
        "deviceName": f"{facts.unit.acronym}-{facts.serial[-6:]}",
        "managedDeviceOwnerType": "personal" if facts.personal else "company",
        "deviceActionResults": (
            [
                {
                    "actionName": "retire",
                    "actionState": "pending",
                    "startDateTime": _stamp(facts.last_check_in),
                    "lastUpdatedDateTime": _stamp(facts.last_check_in),
                }
            ]
            if retiring
            else []
        ),
        "enrolledDateTime": _stamp(facts.enrolled),
        "lastSyncDateTime": _stamp(facts.last_check_in),
        "operatingSystem": facts.os_name,
        "complianceState": facts.compliance,
        "jailBroken": "False" if (ipad or phone) else "Unknown",
        "managementAgent": "mdm",
        "osVersion": facts.os_version,
        "easActivated": False,
        "easDeviceId": "",
        "easActivationDateTime": NEVER,
        "azureADRegistered": True,
        "deviceEnrollmentType": _ENROLLMENT[facts.profile],
        "activationLockBypassCode": None,
        "emailAddress": upn,
        "azureADDeviceId": device_guid(fleet.tag, 0x1AAD, facts.index),
        "deviceRegistrationState": "registered",
        "deviceCategoryDisplayName": f"{facts.unit.acronym} {category}",
        "isSupervised": ipad,
        "exchangeLastSuccessfulSyncDateTime": NEVER,
        "exchangeAccessState": "none",
        "exchangeAccessStateReason": "none",
        "remoteAssistanceSessionUrl": None,
        "remoteAssistanceSessionErrorDetails": None,
        "isEncrypted": True,
        "userPrincipalName": upn,
        "model": facts.model,
        "manufacturer": facts.manufacturer,
        "imei": "",
        "complianceGracePeriodExpirationDateTime": "9999-12-31T23:59:59Z",
        "serialNumber": facts.serial,
        "phoneNumber": "",
        "androidSecurityPatchLevel": "",
        "userDisplayName": "",
        "wiFiMacAddress": f"a4c3{facts.index:08x}",
        "subscriberCarrier": "",
        "meid": "",
        "totalStorageSpaceInBytes": 128 * 2**30,
        "freeStorageSpaceInBytes": (40 + facts.index % 60) * 2**30,
        "managedDeviceName": f"{user or 'shared'}_{facts.os_name}_{facts.enrolled:%m/%d/%Y}",
        "partnerReportedThreatState": "unknown",
    }
