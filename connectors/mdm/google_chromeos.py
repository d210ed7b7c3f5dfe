"""Chromebooks from Google Workspace, read from the Admin SDK Directory API, as `Device`.

`GET /admin/directory/v1/customer/{customer}/devices/chromeos?maxResults=<≤300>&
projection=FULL&fields=<FIELDS>[&orgUnitPath=…&includeChildOrgunits=true]`, then the same
with `pageToken=<nextPageToken>` until a page has none (a token that comes back is a
loop). `fields` trims the FULL projection to what the hub reads, leaving out the usage
telemetry and the list of recent users.

Authentication is a service account with domain-wide delegation: google-auth signs the
JWT grant with the key's private key (`service_account.Credentials`, RS256) for the
configured administrator (`subject`) and scopes, at the key's `token_uri` or
`auth.token_url`. google-auth talks HTTP through `_Transport`, on the source's own
session, which turns a throttled or failing token endpoint into the hub's
`RetriableError`, so the connector base's retry policy stays the only place that retries
(google-auth, imported only when a Google source authenticates, never retries itself).

The connection check is that grant: it proves the key, the delegation and the scopes
(Google refuses a grant for scopes the service account is not delegated); the
administrator's role and the customer id are proven by the first page of a read.

Google reports quota exhaustion as **403** with reason `rateLimitExceeded`,
`userRateLimitExceeded` or `quotaExceeded`: `classify_error` makes those throttling
(retried with backoff, like a 429); every other 403 (`forbidden`, `insufficientPermissions`,
`dailyLimitExceeded`, which will not clear within a run) fails at once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal
from urllib.parse import quote, urlsplit

import requests
import structlog
from pydantic import BaseModel, ConfigDict, Field

from connectors._http_auth import Authenticator, without_secrets
from connectors.errors import Action, AuthError
from connectors.http import (
    HttpSource,
    HttpSourceSettings,
    HttpStream,
    PageTokenPaginator,
    token_request,
)
from connectors.mdm._device import aware, is_desktop, maybe_physical_key, text, utc_day, vendor_slug
from connectors.registry import ConnectionForm, ConnectorSpec, Pool, with_secret
from connectors.settings import SecretRef, SettingsModel
from schemas.entities import EpochMillis, Key, Timestamp, as_key
from schemas.mdm import (
    AssignedUserId,
    Compliance,
    Device,
    DeviceKind,
    ManagementState,
    Ownership,
    UnitHints,
    UserIdKind,
)

if TYPE_CHECKING:
    from google.oauth2 import service_account

log = structlog.get_logger(__name__)

CHROMEOS_DEVICES = "/admin/directory/v1/customer/{customer}/devices/chromeos"
#: The ChromeOsDevice fields the connector reads (the `fields` partial response).
DEVICE_FIELDS: tuple[str, ...] = (
    "deviceId",
    "serialNumber",
    "status",
    "model",
    "osVersion",
    "lastSync",
    "lastEnrollmentTime",
    "firstEnrollmentTime",
    "annotatedUser",
    "annotatedLocation",
    "annotatedAssetId",
    "orgUnitPath",
    "autoUpdateExpiration",
    "autoUpdateThrough",
    "osVersionCompliance",
)
FIELDS = f"nextPageToken,chromeosdevices({','.join(DEVICE_FIELDS)})"
#: 403 reasons that mean "slow down", not "you may not".
RATE_LIMIT_REASONS = frozenset(
    {"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded", "RATE_LIMIT_EXCEEDED"}
)
STATUS: dict[str, ManagementState] = {
    "ACTIVE": ManagementState.MANAGED,
    "PRE_PROVISIONED": ManagementState.ENROLLING,
    "SHIPPED": ManagementState.ENROLLING,
    "RETURN_REQUESTED": ManagementState.RETIRING,
    "RETURN_ARRIVED": ManagementState.RETIRING,
    "DISABLED": ManagementState.DISABLED,
    "DEPROVISIONED": ManagementState.UNMANAGED,
}
COMPLIANCE: dict[str, Compliance] = {
    "compliant": Compliance.COMPLIANT,
    "notCompliant": Compliance.NONCOMPLIANT,
}


# -- authentication -------------------------------------------------------------------------


@dataclass(frozen=True)
class _TokenResponse:
    """What google-auth reads from a transport's answer."""

    status: int
    headers: Mapping[str, str]
    data: bytes


class _Transport:
    """A google-auth transport (`google.auth.transport.Request`) on the source's session.

    Throttling and server errors of the token endpoint become `RetriableError` before
    google-auth sees them, so google-auth never retries (and never sleeps) on its own.
    """

    def __init__(self, session: requests.Session, *, connector: str, timeout: float) -> None:
        self._session = session
        self._connector = connector
        self._timeout = timeout

    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> _TokenResponse:
        response = token_request(
            self._session,
            method,
            url,
            connector=self._connector,
            timeout=timeout or self._timeout,
            data=body,
            headers=headers,
        )
        return _TokenResponse(response.status_code, response.headers, response.content)


class ServiceAccountAuth(Authenticator):
    """Access tokens for a service account acting for a Workspace administrator."""

    def __init__(
        self,
        settings: GoogleServiceAccount,
        key_json: str,
        *,
        session: requests.Session,
        connector: str,
        timeout: float,
    ) -> None:
        self._settings = settings
        self._key_json = key_json
        self._connector = connector
        self._transport = _Transport(session, connector=connector, timeout=timeout)
        self._credentials: service_account.Credentials | None = None
        self._private_key = ""
        self._token_uri = ""
        #: Tokens fetched, for tests and logs.
        self.fetched = 0

    def headers(self) -> dict[str, str]:
        """`Authorization: Bearer <token>`, granting a new token when there is no valid one."""
        credentials = self._credentials or self._load()
        if not credentials.valid:
            self._grant(credentials)
        return {"Authorization": f"Bearer {credentials.token}"}

    def refresh(self) -> bool:
        """Forget the token; the next request asks for a new one."""
        if self._credentials is not None:
            self._credentials.token = None
        return True

    def secrets(self) -> tuple[str, ...]:
        """The key file, its private key and the current token."""
        token = self._credentials.token if self._credentials is not None else None
        return tuple(s for s in (self._key_json, self._private_key, token) if s)

    def _load(self) -> service_account.Credentials:
        from google.oauth2 import service_account  # google-auth: imported when first used

        try:
            info = json.loads(self._key_json)
        except ValueError:
            info = None
        if not isinstance(info, dict) or info.get("type") != "service_account":
            raise AuthError(
                "the secret is not a Google service-account key (a JSON key file with "
                '"type": "service_account")',
                connector=self._connector,
            )
        self._private_key = str(info.get("private_key") or "")
        if self._settings.token_url:
            info = {**info, "token_uri": self._settings.token_url}
        self._token_uri = str(info.get("token_uri") or "")
        try:
            self._credentials = service_account.Credentials.from_service_account_info(
                info, scopes=list(self._settings.scopes), subject=self._settings.subject
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise AuthError(
                f"the service-account key cannot be used: {type(exc).__name__}",
                connector=self._connector,
            ) from None
        return self._credentials

    def _grant(self, credentials: service_account.Credentials) -> None:
        from google.auth import exceptions as google_errors

        try:
            credentials.refresh(self._transport)
        except google_errors.RefreshError as exc:
            reason = str(exc.args[0]) if exc.args else "refused"
            raise AuthError(
                f"Google refused the grant for {credentials.service_account_email}: "
                + without_secrets(reason[:200], self.secrets()),
                connector=self._connector,
                path=urlsplit(self._token_uri).path,
            ) from None
        except google_errors.GoogleAuthError as exc:
            raise AuthError(
                f"the service-account grant failed: {type(exc).__name__}",
                connector=self._connector,
            ) from None
        self.fetched += 1
        log.info("token_fetched", connector=self._connector)


# -- raw shape (Admin SDK Directory v1 ChromeOsDevice; only what the hub reads) -------------


class _ChromeOsDevice(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    deviceId: Key
    serialNumber: str | None = None
    status: str | None = None
    model: str | None = None
    osVersion: str | None = None
    lastSync: Timestamp | None = None
    lastEnrollmentTime: Timestamp | None = None
    firstEnrollmentTime: Timestamp | None = None
    annotatedUser: str | None = None
    annotatedLocation: str | None = None
    annotatedAssetId: str | None = None
    orgUnitPath: str | None = None
    #: Milliseconds since the epoch, as a string (int64 in Google's JSON).
    autoUpdateExpiration: EpochMillis = None
    autoUpdateThrough: str | None = None
    osVersionCompliance: str | None = None


def support_end(raw: _ChromeOsDevice) -> date | None:
    """The auto-update expiration day: `autoUpdateThrough`, else `autoUpdateExpiration`."""
    if raw.autoUpdateThrough:
        try:
            return date.fromisoformat(raw.autoUpdateThrough.strip()[:10])
        except ValueError:
            pass
    return raw.autoUpdateExpiration.date() if raw.autoUpdateExpiration else None


def manufacturer_of(model: str | None) -> str | None:
    """The vendor Google's model name starts with (`Lenovo 300e Chromebook` → `Lenovo`)."""
    if not model or vendor_slug(None, model) == "unknown":
        return None
    return model.split()[0]


class _ChromeOsDevices(HttpStream[_ChromeOsDevice, Device]):
    name = "chromeosdevices"
    path = CHROMEOS_DEVICES
    records_key = "chromeosdevices"
    paginator = PageTokenPaginator("nextPageToken", "pageToken", page_size_param="maxResults")
    raw_model = _ChromeOsDevice
    entity_type = Device
    source: GoogleChromeOS

    def params(self) -> dict[str, str]:
        """FULL projection trimmed by `fields`, and the organisational unit if configured."""
        query = {"projection": "FULL", "fields": FIELDS}
        if self.source.settings.org_unit_path:
            query["orgUnitPath"] = self.source.settings.org_unit_path
            query["includeChildOrgunits"] = "true"
        return query

    def record_ref(self, record: Any, index: int) -> str:
        """`deviceId`, or the stream and position."""
        if isinstance(record, dict) and isinstance(record.get("deviceId"), str):
            return str(record["deviceId"])
        return super().record_ref(record, index)

    def record_key(self, record: Any) -> str | None:
        """`deviceId`, when it is a valid key."""
        return as_key(record.get("deviceId")) if isinstance(record, dict) else None

    def to_entity(self, raw: _ChromeOsDevice) -> Device:
        model = text(raw.model)
        annotated = text(raw.annotatedUser)
        users = (AssignedUserId(kind=UserIdKind.ANNOTATED, value=annotated),) if annotated else ()
        last_sync = aware(raw.lastSync)
        manufacturer = manufacturer_of(model)
        return Device(
            tenant=self.source.tenant,
            source=self.source.ref,
            key=raw.deviceId,
            source_modified=last_sync,
            serial_number=text(raw.serialNumber),
            physical_key=maybe_physical_key(manufacturer, raw.serialNumber, model),
            kind=DeviceKind.DESKTOP if is_desktop(model) else DeviceKind.CHROMEBOOK,
            manufacturer=manufacturer,
            model=model,
            os_name="ChromeOS",
            os_version=text(raw.osVersion),
            ownership=Ownership.SCHOOL_OWNED,
            management_state=STATUS.get(raw.status or "", ManagementState.UNKNOWN),
            compliance=COMPLIANCE.get(raw.osVersionCompliance or "", Compliance.UNKNOWN),
            enrolled_at=aware(raw.firstEnrollmentTime or raw.lastEnrollmentTime),
            last_check_in_on=utc_day(last_sync),
            assigned_users=users,
            unit_hints=UnitHints(
                org_unit_path=text(raw.orgUnitPath), location=text(raw.annotatedLocation)
            ),
            shared=not users,
            asset_tag=text(raw.annotatedAssetId),
            support_ends_on=support_end(raw),
        )


def error_reasons(response: requests.Response) -> set[str]:
    """The `reason`s of a Google error body (v1 `errors[]` and v2 `details[]`), and its status."""
    try:
        body = response.json()
    except ValueError:
        return set()
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return set()
    found = {str(error["status"])} if isinstance(error.get("status"), str) else set()
    for key in ("errors", "details"):
        for item in error.get(key) or ():
            if isinstance(item, dict) and isinstance(item.get("reason"), str):
                found.add(item["reason"])
    return found


class GoogleServiceAccount(SettingsModel):
    """A Google service account with domain-wide delegation; its JSON key is behind `secret`."""

    kind: Literal["google_service_account"]
    secret: SecretRef
    #: The Workspace administrator the service account acts for.
    subject: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
    scopes: tuple[str, ...] = (
        "https://www.googleapis.com/auth/admin.directory.device.chromeos.readonly",
    )
    #: Overrides the key file's `token_uri` (a proxy, or the sandbox).
    token_url: Annotated[str, Field(pattern=r"^https?://")] | None = None


class GoogleChromeOSSourceSettings(HttpSourceSettings):
    """Chromebooks from Google Workspace: the Admin SDK Directory API's ChromeOS devices."""

    type: Literal["google_chromeos"]
    base_url: Annotated[str, Field(pattern=r"^https?://")] = "https://admin.googleapis.com"
    auth: GoogleServiceAccount  # type: ignore[assignment]  # not an HttpAuth: a JWT grant
    #: The Workspace account; `my_customer` is the subject's own.
    customer_id: Annotated[str, Field(pattern=r"^(my_customer|C[0-9A-Za-z]{5,})$")] = "my_customer"
    #: Read only this organisational unit and its children (None: the whole account).
    org_unit_path: Annotated[str, Field(pattern=r"^/")] | None = None
    #: Google's `maxResults`, at most 300.
    page_size: Annotated[int, Field(ge=1, le=300)] = 300


class GoogleApiSource(HttpSource):
    """A Google Workspace API read as a service account: its grant, and Google's quota errors.

    The base of every Google connector (ChromeOS devices here, License Manager licences in
    `connectors.licences.google_workspace`): `settings.auth` is a `GoogleServiceAccount`.
    """

    auth: ServiceAccountAuth

    def authenticator(self, secret: str, clock: Callable[[], float]) -> Authenticator:
        """The service account's JWT grant (see `ServiceAccountAuth`)."""
        return ServiceAccountAuth(
            self.settings.auth,  # type: ignore[arg-type]
            secret,
            session=self.session,
            connector=self.name,
            timeout=self.settings.timeout_seconds,
        )

    def classify_error(self, response: requests.Response) -> Action | None:
        """A 403 for a rate limit or quota is throttling; anything else goes by the table."""
        if response.status_code == 403 and error_reasons(response) & RATE_LIMIT_REASONS:
            return Action.RATE_LIMITED
        return None

    def check(self) -> None:
        """Grant a token for the service account, its administrator and its scopes."""
        self.auth.headers()
        log.info("source_checked", connector=self.name)


class GoogleChromeOS(GoogleApiSource):
    """Chromebooks from the Admin SDK Directory API, as `Device`."""

    name: ClassVar[str] = "mdm.google_chromeos"
    system: ClassVar[str] = "google_chromeos"
    entity_types = (Device,)
    streams = (_ChromeOsDevices,)
    settings: GoogleChromeOSSourceSettings

    def url(self, path: str) -> str:
        """The absolute URL, with the customer id in place."""
        return super().url(path.replace("{customer}", quote(self.settings.customer_id, safe="")))


CONNECTOR = ConnectorSpec(
    settings=GoogleChromeOSSourceSettings,
    connector=GoogleChromeOS,
    domain="mdm",
    pool=Pool("hub_mdm_google_chromeos", 4, "Google Admin SDK syncs"),
    title="Google Workspace ChromeOS devices",
    build=with_secret(GoogleChromeOS),
    doc="docs/mdm.md",
    connection=ConnectionForm(
        host_label="Admin SDK URL",
        login_field=None,
        form_fields=("auth.subject", "customer_id", "org_unit_path"),
        defaults=(("auth.kind", "google_service_account"),),
    ),
)
