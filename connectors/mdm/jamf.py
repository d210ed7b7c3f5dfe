"""Jamf Pro's computers and mobile devices, read from the Jamf Pro API, as `Device`.

The endpoints are pinned here and only here (`COMPUTERS_INVENTORY`, `MOBILE_DEVICES_DETAIL`
and the lookups); `check()` and every read first fetch the server's OpenAPI document
(`/api/schema`) and fail with a `ConfigError` naming the endpoint if the server no longer
offers it, or log `endpoint_deprecated` when Jamf has marked it so.

- Computers: `GET /api/v1/computers-inventory?section=GENERAL&section=HARDWARE&
  section=OPERATING_SYSTEM&section=USER_AND_LOCATION&page=N&page-size=S&sort=id:asc`,
  paged until `totalCount`; mobile devices likewise from `/api/v2/mobile-devices/detail`.
  Sites and buildings are read first as lookups, so devices carry their names.
- Authentication (`JamfAuth`): an API client's OAuth client credentials at
  `/api/oauth/token` (form-encoded, as Jamf documents), or a user's password exchanged
  for a bearer token at `/api/v1/auth/token` and renewed with `/api/v1/auth/keep-alive`
  before it expires. A 401 fetches a new token once; the token is invalidated on close.
- Concurrency: Jamf asks integrations for at most five connections. The device streams
  declare `fetch_ahead`: with `max_concurrency` N > 1, once a page has told `totalCount`,
  the HTTP base fetches the next N pages on N threads while its paging loop (and its loop
  detection) walks them in order.

Jamf has no compliance verdict in its inventory: compliance is `unknown`. Ownership is
Jamf's `deviceOwnershipType` for mobile devices, and school-owned for computers enrolled
through Automated Device Enrollment (only organisations can do that).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import quote, urlsplit

import requests
import structlog
from pydantic import BaseModel, ConfigDict, Field, model_validator

from connectors._http_auth import Authenticator, error_detail
from connectors.base import RetryPolicy
from connectors.errors import AuthError, ConfigError, FatalError
from connectors.http import (
    BasicAuth,
    HttpPage,
    HttpPaginator,
    HttpSource,
    HttpSourceSettings,
    HttpStream,
    OAuthClientCredentials,
    token_request,
)
from connectors.mdm._device import aware, is_desktop, maybe_physical_key, text, user_ids, utc_day
from connectors.registry import ConnectorSpec, Pool, with_secret
from schemas.entities import Entity, Key, Timestamp, as_key
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

log = structlog.get_logger(__name__)

API = "/api"
#: The Jamf Pro API endpoints the connector reads, relative to `/api` as in Jamf's schema.
COMPUTERS_INVENTORY = "/v1/computers-inventory"
MOBILE_DEVICES_DETAIL = "/v2/mobile-devices/detail"
#: One device by id; a 404 confirms a device missing from a full read is gone.
COMPUTER_BY_ID = "/v1/computers-inventory/{id}"
MOBILE_DEVICE_BY_ID = "/v2/mobile-devices/{id}/detail"
BUILDINGS = "/v1/buildings"
SITES = "/v1/sites"
SCHEMA = "/schema"
OAUTH_TOKEN = "/oauth/token"
USER_TOKEN = "/v1/auth/token"
KEEP_ALIVE = "/v1/auth/keep-alive"
INVALIDATE_TOKEN = "/v1/auth/invalidate-token"

COMPUTER_SECTIONS = ("GENERAL", "HARDWARE", "OPERATING_SYSTEM", "USER_AND_LOCATION")
MOBILE_SECTIONS = ("GENERAL", "HARDWARE", "USER_AND_LOCATION")
#: `deviceOwnershipType` of mobile devices.
OWNERSHIP: dict[str, Ownership] = {
    "Institutional": Ownership.SCHOOL_OWNED,
    "AccountDrivenDeviceEnrollment": Ownership.SCHOOL_OWNED,
    "PersonalDeviceProfile": Ownership.PERSONAL,
    "UserEnrollment": Ownership.PERSONAL,
    "AccountDrivenUserEnrollment": Ownership.PERSONAL,
}


# -- authentication -----------------------------------------------------------------------


class JamfAuth(Authenticator):
    """Jamf Pro bearer tokens from an API client or a user account, renewed before expiry.

    Thread-safe: pages fetched ahead share one token. A 401 drops the token only if it is
    still the one that request used, so concurrent 401s fetch one new token, not several.
    """

    def __init__(
        self,
        settings: JamfApiSettings,
        secret: str,
        *,
        session: requests.Session,
        connector: str,
        clock: Callable[[], float] = time.monotonic,
        leeway: float = 60.0,
    ) -> None:
        self._auth = settings.auth
        self._base = settings.base_url.rstrip("/")
        self._secret = secret
        self._session = session
        self._timeout = settings.timeout_seconds
        self._connector = connector
        self._clock = clock
        self._leeway = leeway
        self._lock = threading.Lock()
        self._used = threading.local()
        self._token: str | None = None
        self._renew_at = 0.0
        #: Tokens fetched with the credentials, and renewed with keep-alive (for tests).
        self.fetched = 0
        self.renewed = 0

    @property
    def client(self) -> str:
        """Who authenticates: the API client id or the user name (never the secret)."""
        if isinstance(self._auth, OAuthClientCredentials):
            return f"API client {self._auth.client_id}"
        return f"user {self._auth.username}"

    def headers(self) -> dict[str, str]:
        """`Authorization: Bearer <token>`, fetching or renewing the token first when due."""
        with self._lock:
            if self._token is None:
                self._fetch()
            elif self._clock() >= self._renew_at:
                self._renew()
            token = self._token
        self._used.token = token
        return {"Authorization": f"Bearer {token}"}

    def refresh(self) -> bool:
        """Drop the token this thread's request was refused with (if no one renewed it yet)."""
        with self._lock:
            if self._token is not None and self._token == getattr(self._used, "token", None):
                self._token = None
        return True

    def secrets(self) -> tuple[str, ...]:
        """The password or client secret, and the current token."""
        return tuple(s for s in (self._secret, self._token) if s)

    def invalidate(self) -> None:
        """Tell Jamf the token is no longer needed (best effort: the sync is over anyway)."""
        with self._lock:
            token, self._token = self._token, None
        if token is None:
            return
        try:
            self._session.post(
                self._base + API + INVALIDATE_TOKEN,
                headers={"Authorization": f"Bearer {token}"},
                timeout=self._timeout,
            )
        except requests.RequestException:
            log.info("token_invalidation_failed", connector=self._connector)

    # -- token requests (called with the lock held) --------------------------------------

    def _fetch(self) -> None:
        if isinstance(self._auth, OAuthClientCredentials):
            body = self._post(
                self._auth.token_url,
                data={
                    "client_id": self._auth.client_id,
                    "client_secret": self._secret,
                    "grant_type": "client_credentials",
                },
            )
            self._accept(body.get("access_token"), _lifetime(body.get("expires_in")))
        else:
            body = self._post(
                self._base + API + USER_TOKEN, auth=(self._auth.username, self._secret)
            )
            self._accept(body.get("token"), _seconds_until(body.get("expires")))
        self.fetched += 1
        log.info("token_fetched", connector=self._connector)

    def _renew(self) -> None:
        if isinstance(self._auth, OAuthClientCredentials):
            self._fetch()  # an API client simply asks again
            return
        try:
            body = self._post(
                self._base + API + KEEP_ALIVE,
                headers={"Authorization": f"Bearer {self._token}"},
            )
        except AuthError:  # the token expired after all: start over with the password
            self._token = None
            self._fetch()
            return
        self._accept(body.get("token"), _seconds_until(body.get("expires")))
        self.renewed += 1
        log.info("token_renewed", connector=self._connector)

    def _post(self, url: str, **kwargs: Any) -> dict[str, Any]:
        path = urlsplit(url).path
        response = token_request(
            self._session, "POST", url, connector=self._connector, timeout=self._timeout, **kwargs
        )
        status = response.status_code
        if status >= 400:
            detail = error_detail(response, self.secrets())
            raise AuthError(
                f"Jamf Pro refused {self.client}" + (f": {detail}" if detail else ""),
                connector=self._connector,
                status=status,
                path=path,
            )
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise AuthError(
                "token endpoint answered without JSON", connector=self._connector, path=path
            )
        return body

    def _accept(self, token: object, lifetime: float) -> None:
        if not isinstance(token, str) or not token:
            raise AuthError("token endpoint answered without a token", connector=self._connector)
        self._token = token
        margin = min(self._leeway, lifetime / 10) if lifetime > 0 else 0.0
        self._renew_at = self._clock() + lifetime - margin if lifetime > 0 else float("inf")


def _lifetime(value: object) -> float:
    try:
        return max(0.0, float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0


def _seconds_until(value: object) -> float:
    """Seconds until Jamf's `expires` (ISO 8601), 0 when it is missing or unreadable."""
    if not isinstance(value, str):
        return 0.0
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return 0.0
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


# -- paging ---------------------------------------------------------------------------------


class JamfPagePaginator(HttpPaginator):
    """Jamf's `page` (from 0) and `page-size`, ending once `totalCount` records were served."""

    page_size_param = "page-size"

    def request(
        self, url: str, params: Mapping[str, Any], page_size: int, token: str | None
    ) -> tuple[str, dict[str, Any]]:
        """The page numbered by `token` (0 for the first)."""
        return url, {**params, "page": int(token or 0), "page-size": page_size}

    def next(self, page: HttpPage) -> str | None:
        """The next page number, or None once `totalCount` is reached (or a page is short)."""
        number = int(page.params.get("page", 0) or 0)
        size = int(page.params.get("page-size", 0) or 0) or len(page.records)
        total = self.total(page)
        if total is not None:
            return str(number + 1) if (number + 1) * size < total else None
        return str(number + 1) if len(page.records) >= size else None

    def total(self, page: HttpPage) -> int | None:
        """Jamf's `totalCount`: the records the whole listing holds."""
        total = page.body.get("totalCount") if isinstance(page.body, dict) else None
        return total if isinstance(total, int) and not isinstance(total, bool) else None

    def following(self, page: HttpPage, page_size: int, count: int) -> list[str]:
        """The numbers of up to `count` pages after `page` that `totalCount` says exist."""
        total = self.total(page)
        if total is None or not page.records:
            return []
        number = int(page.params.get("page", 0) or 0)
        last = (total - 1) // page_size
        return [str(n) for n in range(number + 1, min(last, number + count) + 1)]


class _OnePage(HttpPaginator):
    """An endpoint that answers everything at once (Jamf's sites)."""

    def next(self, page: HttpPage) -> str | None:
        """There is never a next page."""
        return None


# -- raw shapes (Jamf Pro API; only what the hub reads) -------------------------------------


class _Raw(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, coerce_numbers_to_str=True)


class _Named(_Raw):
    id: Key
    name: str | None = None


class _Site(_Raw):
    """A site embedded in a record: Jamf's schema leaves even its id optional."""

    id: Key | None = None
    name: str | None = None


class _RemoteManagement(_Raw):
    managed: bool | None = None


class _ComputerGeneral(_Raw):
    assetTag: str | None = None
    site: _Site | None = None
    remoteManagement: _RemoteManagement | None = None
    lastContactTime: Timestamp | None = None
    reportDate: Timestamp | None = None
    lastEnrolledDate: Timestamp | None = None
    initialEntryDate: date | Timestamp | None = None
    enrolledViaAutomatedDeviceEnrollment: bool | None = None


class _Hardware(_Raw):
    make: str | None = None
    model: str | None = None
    serialNumber: str | None = None


class _OperatingSystem(_Raw):
    name: str | None = None
    version: str | None = None


class _UserAndLocation(_Raw):
    username: str | None = None
    email: str | None = None
    emailAddress: str | None = None
    buildingId: str | None = None
    building: str | None = None
    room: str | None = None


class _Computer(_Raw):
    id: Key
    general: _ComputerGeneral | None = None
    hardware: _Hardware | None = None
    operatingSystem: _OperatingSystem | None = None
    userAndLocation: _UserAndLocation | None = None


class _MobileGeneral(_Raw):
    assetTag: str | None = None
    siteId: str | None = None
    site: _Site | None = None
    osVersion: str | None = None
    managed: bool | None = None
    deviceOwnershipType: str | None = None
    lastEnrolledDate: Timestamp | None = None
    lastInventoryUpdateDate: Timestamp | None = None
    initialEntryTimestamp: Timestamp | None = None
    initialEntryDate: date | Timestamp | None = None
    sharedIpad: bool | None = None


class _MobileDevice(_Raw):
    mobileDeviceId: Key
    deviceType: str | None = None
    general: _MobileGeneral | None = None
    hardware: _Hardware | None = None
    userAndLocation: _UserAndLocation | None = None


# -- streams --------------------------------------------------------------------------------


class _JamfStream(HttpStream[Any, Any]):
    records_key = "results"
    paginator: ClassVar[HttpPaginator] = JamfPagePaginator()
    entity_type = Device
    source: JamfPro
    #: The schema path of the endpoint (`path` without `/api`).
    endpoint: ClassVar[str]
    sections: ClassVar[tuple[str, ...]] = ()
    #: A stable order while paging.
    sort: ClassVar[str] = "id:asc"

    def params(self) -> dict[str, Any]:
        """The sort order and the sections to return."""
        query: dict[str, Any] = {"sort": self.sort}
        if self.sections:
            query["section"] = list(self.sections)
        return query


class _Sites(_JamfStream):
    """Not published: site names for the devices."""

    name = "sites"
    endpoint = SITES
    path = API + SITES
    records_key = ""
    paginator: ClassVar[HttpPaginator] = _OnePage()
    raw_model = _Named
    dead_letter_entity = "site"
    #: A client whose role may not read the lookup gets devices without its names.
    skip_statuses = frozenset({403})

    def params(self) -> dict[str, Any]:
        """None: Jamf answers every site at once."""
        return {}

    def to_items(self, raw: _Named) -> tuple[()]:
        """Remember the site's name; yield nothing."""
        self.source.sites[raw.id] = raw.name or raw.id
        return ()


class _Buildings(_Sites):
    """Not published: building names for the devices."""

    name = "buildings"
    endpoint = BUILDINGS
    path = API + BUILDINGS
    records_key = "results"
    paginator = JamfPagePaginator()
    dead_letter_entity = "building"

    def params(self) -> dict[str, Any]:
        """A stable order."""
        return {"sort": self.sort}

    def to_items(self, raw: _Named) -> tuple[()]:
        """Remember the building's name; yield nothing."""
        self.source.buildings[raw.id] = raw.name or raw.id
        return ()


def _users(place: _UserAndLocation | None) -> tuple[AssignedUserId, ...]:
    if place is None:
        return ()
    return user_ids(
        (UserIdKind.USERNAME, place.username),
        (UserIdKind.EMAIL, text(place.email) or place.emailAddress),
    )


class _Inventory(_JamfStream):
    fetch_ahead = True
    #: The schema path of the lookup by id, and what a device key starts with.
    by_id: ClassVar[str]
    key_prefix: ClassVar[str]

    def units(
        self, site: _Site | None, site_id: str | None, place: _UserAndLocation | None
    ) -> UnitHints:
        """Site, building and room, names looked up where Jamf gives only ids."""
        lookups = self.source
        site_name = (site.name if site else None) or lookups.sites.get(
            (site.id if site else site_id) or ""
        )
        building = None
        if place is not None:
            building = text(place.building) or lookups.buildings.get(place.buildingId or "")
        return UnitHints(
            # Jamf's "no site" is a site named "None" (id -1).
            site=text(site_name) if site_name and site_name != "None" else None,
            building=building,
            room=text(place.room) if place else None,
        )

    def redact(self, record: Any) -> dict[str, Any]:
        """Scrubbed, without the user's name, phone and position."""
        if isinstance(record, dict) and isinstance(record.get("userAndLocation"), dict):
            place = {
                k: v
                for k, v in record["userAndLocation"].items()
                if k not in ("realname", "realName", "phone", "phoneNumber", "position")
            }
            record = {**record, "userAndLocation": place}
        return super().redact(record)


class _Computers(_Inventory):
    name = "computers"
    endpoint = COMPUTERS_INVENTORY
    by_id = COMPUTER_BY_ID
    key_prefix = "computers/"
    path = API + COMPUTERS_INVENTORY
    raw_model = _Computer
    sections = COMPUTER_SECTIONS

    def record_key(self, record: Any) -> str | None:
        """`computers/<id>`, the key the device would have had."""
        key = super().record_key(record)
        return f"computers/{key}" if key else None

    def to_entity(self, raw: _Computer) -> Device:
        general = raw.general or _ComputerGeneral()
        hardware = raw.hardware or _Hardware()
        system = raw.operatingSystem or _OperatingSystem()
        users = _users(raw.userAndLocation)
        managed = general.remoteManagement.managed if general.remoteManagement else None
        ownership = (
            Ownership.SCHOOL_OWNED
            if general.enrolledViaAutomatedDeviceEnrollment
            else Ownership.UNKNOWN
        )
        manufacturer = text(hardware.make) or "Apple"
        return Device(
            tenant=self.source.tenant,
            source=self.source.ref,
            key=f"computers/{raw.id}",
            source_modified=aware(general.reportDate or general.lastContactTime),
            serial_number=text(hardware.serialNumber),
            physical_key=maybe_physical_key(manufacturer, hardware.serialNumber, hardware.model),
            kind=DeviceKind.DESKTOP if is_desktop(hardware.model) else DeviceKind.LAPTOP,
            manufacturer=manufacturer,
            model=text(hardware.model),
            os_name="macOS" if system.name else None,
            os_version=text(system.version),
            ownership=ownership,
            management_state=_managed(managed),
            compliance=Compliance.UNKNOWN,
            enrolled_at=aware(general.initialEntryDate or general.lastEnrolledDate),
            last_check_in_on=utc_day(general.lastContactTime),
            assigned_users=users,
            unit_hints=self.units(general.site, None, raw.userAndLocation),
            shared=not users and ownership is Ownership.SCHOOL_OWNED,
            asset_tag=text(general.assetTag),
        )


class _MobileDevices(_Inventory):
    name = "mobileDevices"
    endpoint = MOBILE_DEVICES_DETAIL
    by_id = MOBILE_DEVICE_BY_ID
    key_prefix = "mobile-devices/"
    path = API + MOBILE_DEVICES_DETAIL
    raw_model = _MobileDevice
    sections = MOBILE_SECTIONS
    sort = "mobileDeviceId:asc"

    def record_ref(self, record: Any, index: int) -> str:
        """`mobileDeviceId`, or the stream and position."""
        if isinstance(record, dict) and record.get("mobileDeviceId") not in (None, ""):
            return str(record["mobileDeviceId"])
        return super().record_ref(record, index)

    def record_key(self, record: Any) -> str | None:
        """`mobile-devices/<mobileDeviceId>`, the key the device would have had."""
        if not isinstance(record, dict):
            return None
        key = as_key(record.get("mobileDeviceId"))
        return f"mobile-devices/{key}" if key else None

    def to_entity(self, raw: _MobileDevice) -> Device:
        general = raw.general or _MobileGeneral()
        hardware = raw.hardware or _Hardware()
        model = text(hardware.model) or ""
        product = model.lower()
        os_name: str | None
        if "ipad" in product:
            kind, os_name = DeviceKind.TABLET, "iPadOS"
        elif "iphone" in product:
            kind, os_name = DeviceKind.PHONE, "iOS"
        else:
            kind, os_name = DeviceKind.OTHER, text(raw.deviceType)
        users = _users(raw.userAndLocation)
        ownership = OWNERSHIP.get(general.deviceOwnershipType or "", Ownership.UNKNOWN)
        manufacturer = text(hardware.make) or "Apple"
        first_entry = general.initialEntryTimestamp or general.initialEntryDate
        return Device(
            tenant=self.source.tenant,
            source=self.source.ref,
            key=f"mobile-devices/{raw.mobileDeviceId}",
            source_modified=aware(general.lastInventoryUpdateDate),
            serial_number=text(hardware.serialNumber),
            physical_key=maybe_physical_key(manufacturer, hardware.serialNumber, model),
            kind=kind,
            manufacturer=manufacturer,
            model=model or None,
            os_name=os_name,
            os_version=text(general.osVersion),
            ownership=ownership,
            management_state=_managed(general.managed),
            compliance=Compliance.UNKNOWN,
            enrolled_at=aware(first_entry or general.lastEnrolledDate),
            last_check_in_on=utc_day(general.lastInventoryUpdateDate),
            assigned_users=users,
            unit_hints=self.units(general.site, general.siteId, raw.userAndLocation),
            shared=bool(general.sharedIpad) or (not users and ownership is Ownership.SCHOOL_OWNED),
            asset_tag=text(general.assetTag),
        )


def _managed(flag: bool | None) -> ManagementState:
    if flag is None:
        return ManagementState.UNKNOWN
    return ManagementState.MANAGED if flag else ManagementState.UNMANAGED


# -- the source -----------------------------------------------------------------------------


class JamfApiSettings(HttpSourceSettings):
    """A Jamf Pro API source: its authentication, page size and connections.

    `auth` is an API client (`oauth_client_credentials`, token URL `<base>/api/oauth/token`)
    or a user account (`basic`: the password is exchanged for a bearer token at
    `/api/v1/auth/token`, kept alive while a sync runs). Jamf asks integrations to hold
    at most five connections, so `max_concurrency` is at most 5.
    """

    auth: Annotated[OAuthClientCredentials | BasicAuth, Field(discriminator="kind")]
    #: Jamf's `page-size`.
    page_size: Annotated[int, Field(ge=1, le=2000)] = 200
    max_concurrency: Annotated[int, Field(ge=1, le=5)] = 3


class JamfSourceSettings(JamfApiSettings):
    """Jamf Pro's computers and mobile devices, read from the Jamf Pro API (`JamfApiSettings`)."""

    type: Literal["jamf_pro"]
    computers: bool = True
    mobile_devices: bool = True

    @model_validator(mode="after")
    def _reads_something(self) -> JamfSourceSettings:
        if not (self.computers or self.mobile_devices):
            raise ValueError("computers and mobile_devices are both false: nothing to read")
        return self


class JamfApiSource(HttpSource):
    """A source read from the Jamf Pro API: Jamf's tokens, invalidated when the sync ends.

    The base of the Jamf connectors (devices here, volume purchasing in
    `connectors.licences.jamf_volume_purchasing`).
    """

    settings: JamfApiSettings
    auth: JamfAuth

    def authenticator(self, secret: str, clock: Callable[[], float]) -> Authenticator:
        """Jamf's own tokens (see `JamfAuth`)."""
        return JamfAuth(
            self.settings, secret, session=self.session, connector=self.name, clock=clock
        )

    def close(self) -> None:
        """Invalidate the token, then stop the page threads and close the session."""
        self.auth.invalidate()
        super().close()


class JamfPro(JamfApiSource):
    """Computers and mobile devices from the Jamf Pro API, as `Device`."""

    name: ClassVar[str] = "mdm.jamf"
    system: ClassVar[str] = "jamf_pro"
    entity_types = (Device,)
    streams = (_Sites, _Buildings, _Computers, _MobileDevices)
    #: Devices are read by page number, which is an offset: a device removed during a
    #: full read can hide a live one, so unseen keys are looked up by id before a delete.
    offset_paged = frozenset({Device.entity})
    settings: JamfSourceSettings
    auth: JamfAuth

    def __init__(
        self,
        settings: JamfSourceSettings,
        *,
        tenant: str,
        secret: str,
        retry: RetryPolicy | None = None,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(
            settings, tenant=tenant, secret=secret, retry=retry, session=session, clock=clock
        )
        self.sites: dict[str, str] = {}
        self.buildings: dict[str, str] = {}
        self._checked = False
        #: The GET paths the server's schema offers (filled by `ensure_endpoints`).
        self.offered: set[str] = set()

    def streams_to_read(self) -> tuple[type[HttpStream[Any, Any]], ...]:
        """The lookups, then computers and mobile devices as configured."""
        left_out: set[type[HttpStream[Any, Any]]] = set()
        if not self.settings.computers:
            left_out.add(_Computers)
        if not self.settings.mobile_devices:
            left_out.add(_MobileDevices)
        return tuple(s for s in self.streams if s not in left_out)

    # -- the endpoint check -------------------------------------------------------------

    def ensure_endpoints(self) -> None:
        """Fail with a `ConfigError` if the server's schema lacks a pinned endpoint."""
        if self._checked:
            return
        response = self.get(self.url(API + SCHEMA))
        try:
            document = response.json()
            paths = document["paths"]
            version = str((document.get("info") or {}).get("version") or "unknown")
        except (ValueError, KeyError, TypeError, AttributeError):
            raise FatalError(
                "the Jamf Pro API schema (/api/schema) is not an OpenAPI document",
                connector=self.name,
                status=response.status_code,
                path=API + SCHEMA,
            ) from None
        self.offered = {p for p, ops in paths.items() if isinstance((ops or {}).get("get"), dict)}
        for stream in self.streams_to_read():
            endpoint = stream.endpoint  # type: ignore[attr-defined]
            operation = (paths.get(endpoint) or {}).get("get")
            if not isinstance(operation, dict):
                raise ConfigError(
                    f"Jamf Pro {version} no longer offers GET {API}{endpoint}, which the "
                    "connector pins (connectors/mdm/jamf.py): update the connector",
                    connector=self.name,
                    path=API + endpoint,
                )
            if operation.get("deprecated"):
                log.warning("endpoint_deprecated", endpoint=API + endpoint, jamf_version=version)
        self._checked = True
        log.info("endpoints_checked", jamf_version=version)

    def check(self) -> None:
        """Fetch a token and make sure the server still offers every pinned endpoint."""
        self.ensure_endpoints()

    def prepare(self) -> None:
        """Before a read: the server must still offer every pinned endpoint."""
        self.ensure_endpoints()

    def confirm_gone(self, entity_type: type[Entity], keys: Sequence[str]) -> set[str] | None:
        """Look each unseen device up by id (a 404 confirms the delete); None if Jamf cannot.

        None when a key is not a device key this connector makes, or the server's schema
        lacks the lookup of its kind.
        """
        kinds = (_Computers, _MobileDevices)
        if entity_type is not Device or not all(
            k.startswith(tuple(s.key_prefix for s in kinds)) for k in keys
        ):
            return None
        self.ensure_endpoints()
        gone: set[str] = set()
        for stream in kinds:
            mine = [k for k in keys if k.startswith(stream.key_prefix)]
            if not mine:
                continue
            if stream.by_id not in self.offered:
                log.warning("lookup_not_offered", endpoint=API + stream.by_id, keys=len(mine))
                return None
            found = self.confirm_gone_by_lookup(stream, mine, self._lookup_url(stream))
            if found is None:
                return None
            gone |= found
        return gone

    def _lookup_url(self, stream: type[_Inventory]) -> Callable[[str], str]:
        def url_of(key: str) -> str:
            device_id = quote(key.removeprefix(stream.key_prefix), safe="")
            return self.url(API + stream.by_id.format(id=device_id))

        return url_of


CONNECTOR = ConnectorSpec(
    settings=JamfSourceSettings,
    connector=JamfPro,
    domain="mdm",
    pool=Pool("hub_mdm_jamf_pro", 2, "Jamf Pro syncs (each up to 5 connections)"),
    title="Jamf Pro",
    build=with_secret(JamfPro),
    doc="docs/mdm.md",
)
