"""Microsoft Intune's managed devices, read from Microsoft Graph v1.0, as `Device`.

`GET /deviceManagement/managedDevices?$select=<SELECT>&$top=<page size>`, then every
`@odata.nextLink` as an opaque URL (it carries Graph's `$skiptoken`) until a page has
none; a next link that comes back is a loop. Authentication is OAuth 2.0 client
credentials at the directory's own token endpoint with the `.default` scope (see
`IntuneSourceSettings`); 429 and 503 are waited out as `Retry-After` says, with backoff
when it is missing. The connection check reads `managedDeviceOverview`, which needs the
same permission (DeviceManagementManagedDevices.Read.All) and proves the Intune licence.

Graph gives `""` for a missing string and `0001-01-01T00:00:00Z` for a missing date;
both become None. `complianceState` `inGracePeriod`, `conflict` and `error` count as
noncompliant: the device does not meet policy, whatever the grace Intune grants.
"""

from __future__ import annotations

from typing import ClassVar, Literal
from urllib.parse import urlsplit

import structlog
from pydantic import BaseModel, ConfigDict

from connectors._graph import GRAPH_PAGING, GraphSettings
from connectors.errors import FatalError
from connectors.http import HttpSource, HttpStream
from connectors.mdm._device import (
    GraphTimestamp,
    aware,
    is_desktop,
    maybe_physical_key,
    text,
    user_ids,
    utc_day,
)
from connectors.registry import ConnectionForm, ConnectorSpec, Pool, with_secret
from schemas.entities import Key
from schemas.mdm import (
    Compliance,
    Device,
    DeviceKind,
    ManagementState,
    Ownership,
    UnitHints,
    UserIdKind,
)

log = structlog.get_logger(__name__)

MANAGED_DEVICES = "/deviceManagement/managedDevices"
OVERVIEW = "/deviceManagement/managedDeviceOverview"
#: The managedDevice properties the connector reads (all in Graph v1.0).
SELECT: tuple[str, ...] = (
    "id",
    "serialNumber",
    "manufacturer",
    "model",
    "operatingSystem",
    "osVersion",
    "managedDeviceOwnerType",
    "deviceRegistrationState",
    "deviceActionResults",
    "complianceState",
    "enrolledDateTime",
    "lastSyncDateTime",
    "userPrincipalName",
    "emailAddress",
    "userId",
    "deviceEnrollmentType",
    "deviceCategoryDisplayName",
)

OWNERSHIP: dict[str, Ownership] = {
    "company": Ownership.SCHOOL_OWNED,
    "personal": Ownership.PERSONAL,
}
COMPLIANCE: dict[str, Compliance] = {
    "compliant": Compliance.COMPLIANT,
    "noncompliant": Compliance.NONCOMPLIANT,
    "inGracePeriod": Compliance.NONCOMPLIANT,
    "conflict": Compliance.NONCOMPLIANT,
    "error": Compliance.NONCOMPLIANT,
}
REGISTRATION: dict[str, ManagementState] = {
    "registered": ManagementState.MANAGED,
    "certificateReset": ManagementState.MANAGED,
    "approvalPending": ManagementState.ENROLLING,
    "notRegisteredPendingEnrollment": ManagementState.ENROLLING,
    "notRegistered": ManagementState.UNMANAGED,
    "revoked": ManagementState.UNMANAGED,
}
#: Enrolments without a user: devices on a cart, shared PCs, Shared iPads.
USERLESS_ENROLLMENTS = frozenset({"appleBulkWithoutUser", "windowsBulkUserless"})
_RETIRING_ACTIONS = frozenset({"retire", "wipe", "delete"})
_RUNNING = frozenset({"pending", "active"})
_NO_USER = "00000000-0000-0000-0000-000000000000"


# -- raw shapes (Graph v1.0 managedDevice; only what the hub reads) ---------------------


class _Raw(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _ActionResult(_Raw):
    actionName: str | None = None
    actionState: str | None = None


class _ManagedDevice(_Raw):
    id: Key
    serialNumber: str | None = None
    manufacturer: str | None = None
    model: str | None = None
    operatingSystem: str | None = None
    osVersion: str | None = None
    managedDeviceOwnerType: str | None = None
    deviceRegistrationState: str | None = None
    deviceActionResults: list[_ActionResult] | None = None
    complianceState: str | None = None
    enrolledDateTime: GraphTimestamp = None
    lastSyncDateTime: GraphTimestamp = None
    userPrincipalName: str | None = None
    emailAddress: str | None = None
    userId: str | None = None
    deviceEnrollmentType: str | None = None
    deviceCategoryDisplayName: str | None = None


def os_and_kind(operating_system: str | None, model: str | None) -> tuple[str | None, DeviceKind]:
    """The OS name as the hub writes it, and the kind of device, from Graph's OS and model."""
    system = (operating_system or "").strip().lower()
    product = (model or "").lower()
    if system == "windows":
        return "Windows", DeviceKind.DESKTOP if is_desktop(model) else DeviceKind.LAPTOP
    if system in ("ios", "ipados"):
        if "ipad" in product or system == "ipados":
            return "iPadOS", DeviceKind.TABLET
        return "iOS", DeviceKind.PHONE if "iphone" in product else DeviceKind.OTHER
    if system in ("macos", "macmdm"):
        return "macOS", DeviceKind.DESKTOP if is_desktop(model) else DeviceKind.LAPTOP
    if system.startswith("android"):
        return "Android", DeviceKind.TABLET if "tab" in product else DeviceKind.PHONE
    if system == "chromeos":
        return "ChromeOS", DeviceKind.CHROMEBOOK
    return text(operating_system), DeviceKind.OTHER


def management_state(raw: _ManagedDevice) -> ManagementState:
    """Retiring while a retire or wipe runs, else what the registration state says."""
    for result in raw.deviceActionResults or ():
        if result.actionName in _RETIRING_ACTIONS and result.actionState in _RUNNING:
            return ManagementState.RETIRING
    return REGISTRATION.get(raw.deviceRegistrationState or "", ManagementState.UNKNOWN)


class _ManagedDevices(HttpStream[_ManagedDevice, Device]):
    name = "managedDevices"
    path = MANAGED_DEVICES
    records_key = "value"
    paginator = GRAPH_PAGING
    raw_model = _ManagedDevice
    entity_type = Device

    def params(self) -> dict[str, str]:
        """Only the properties the hub reads (`$select`)."""
        return {"$select": ",".join(SELECT)}

    def to_entity(self, raw: _ManagedDevice) -> Device:
        os_name, kind = os_and_kind(raw.operatingSystem, raw.model)
        users = user_ids(
            (UserIdKind.UPN, raw.userPrincipalName),
            (UserIdKind.EMAIL, raw.emailAddress),
            (UserIdKind.DIRECTORY_ID, None if raw.userId == _NO_USER else raw.userId),
        )
        ownership = OWNERSHIP.get(raw.managedDeviceOwnerType or "", Ownership.UNKNOWN)
        category = text(raw.deviceCategoryDisplayName)
        last_sync = aware(raw.lastSyncDateTime)
        return Device(
            tenant=self.source.tenant,
            source=self.source.ref,
            key=raw.id,
            source_modified=last_sync,
            serial_number=text(raw.serialNumber),
            physical_key=maybe_physical_key(raw.manufacturer, raw.serialNumber, raw.model),
            kind=kind,
            manufacturer=text(raw.manufacturer),
            model=text(raw.model),
            os_name=os_name,
            os_version=text(raw.osVersion),
            ownership=ownership,
            management_state=management_state(raw),
            compliance=COMPLIANCE.get(raw.complianceState or "", Compliance.UNKNOWN),
            enrolled_at=aware(raw.enrolledDateTime),
            last_check_in_on=utc_day(last_sync),
            assigned_users=users,
            unit_hints=UnitHints(group=category if category != "Unknown" else None),
            shared=raw.deviceEnrollmentType in USERLESS_ENROLLMENTS
            or (not users and ownership is Ownership.SCHOOL_OWNED),
        )


class IntuneSourceSettings(GraphSettings):
    """Microsoft Intune's managed devices, read from Microsoft Graph v1.0.

    `auth` is OAuth 2.0 client credentials at the directory's own token endpoint
    (`https://login.microsoftonline.com/<directory id>/oauth2/v2.0/token`, never `common`)
    with the scope `https://graph.microsoft.com/.default`; the app registration needs the
    application permission DeviceManagementManagedDevices.Read.All.
    """

    type: Literal["intune"]


class Intune(HttpSource):
    """Intune's managed devices from Microsoft Graph v1.0, as `Device`."""

    name: ClassVar[str] = "mdm.intune"
    system: ClassVar[str] = "intune"
    entity_types = (Device,)
    streams = (_ManagedDevices,)
    settings: IntuneSourceSettings

    def check(self) -> None:
        """Fetch a token and read the managed-device overview (the same permission)."""
        response = self.get(self.url(OVERVIEW))
        try:
            enrolled = int(response.json()["enrolledDeviceCount"])
        except (ValueError, KeyError, TypeError):
            raise FatalError(
                "managedDeviceOverview has no enrolledDeviceCount: is this Microsoft Graph?",
                connector=self.name,
                status=response.status_code,
                path=urlsplit(response.url).path,
            ) from None
        log.info("source_checked", connector=self.name, enrolled_devices=enrolled)


CONNECTOR = ConnectorSpec(
    settings=IntuneSourceSettings,
    connector=Intune,
    domain="mdm",
    pool=Pool("hub_mdm_intune", 4, "Intune syncs (Microsoft Graph)"),
    title="Microsoft Intune",
    build=with_secret(Intune),
    doc="docs/mdm.md",
    connection=ConnectionForm(form_fields=("auth.token_url", "auth.scope")),
)
