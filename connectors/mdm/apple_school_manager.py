"""Devices the organisation bought, from the Apple School Manager API, as `PurchasedDevice`.

`GET /v1/orgDevices?limit=<≤1000>` (every attribute: `fields[orgDevices]` is not sent, since
API 1.1 refuses `releasedFromOrgDateTime` there, which later versions add), JSON:API: records under
`data` (`id`, `attributes`), the next page's URL in `links.next` (or its cursor in
`meta.paging.nextCursor`) until a page has neither. Before the devices, the connector reads
the organisation's device management services (`/v1/mdmServers`) and, for each, the devices
assigned to it (`/v1/mdmServers/{id}/relationships/devices`: linkage `{type, id}`), so each
device carries the name of its service without one request per device.

Authentication is OAuth 2.0 client credentials with a **signed client assertion**: the
secret is the API account's private key (PEM, EC P-256); the connector signs a JWT (ES256,
`kid` the key id, issuer and subject the client id, audience Apple's token endpoint, a
unique `jti`) with PyJWT and posts it as `client_assertion` with scope `school.api` at
`https://account.apple.com/auth/oauth2/token`; the access token is cached until shortly
before it expires and fetched again after a 401. 429 is waited out as `Retry-After` says.

Apple School Manager is not a device management service: it knows what was bought (the
order date starts the leasing cycle) and where it is assigned, not whether a device ever
enrolled. The follow-up joins `PurchasedDevice` and the MDMs' `Device`s by `physical_key`.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import urljoin

import structlog
from pydantic import BaseModel, ConfigDict, Field

from connectors._http_auth import Authenticator, ClientCredentials
from connectors.base import Item
from connectors.errors import AuthError
from connectors.http import HttpPage, HttpPaginator, HttpSource, HttpSourceSettings, HttpStream
from connectors.mdm._device import aware, maybe_physical_key, text
from connectors.registry import ConnectionForm, ConnectorSpec, Pool, with_secret
from connectors.settings import SecretRef, SettingsModel
from schemas.entities import Key, Timestamp
from schemas.mdm import PurchasedDevice, PurchaseSource

log = structlog.get_logger(__name__)

ORG_DEVICES = "/v1/orgDevices"
MDM_SERVERS = "/v1/mdmServers"
SERVER_DEVICES = "/v1/mdmServers/{id}/relationships/devices"
SOURCES: dict[str, PurchaseSource] = {
    "APPLE": PurchaseSource.APPLE,
    "RESELLER": PurchaseSource.RESELLER,
    "MANUALLY_ADDED": PurchaseSource.MANUALLY_ADDED,
}
#: How long a signed client assertion is valid (Apple allows up to 180 days).
ASSERTION_SECONDS = 600


class _Raw(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _DeviceAttributes(_Raw):
    serialNumber: str
    deviceModel: str | None = None
    productFamily: str | None = None
    purchaseSourceType: str | None = None
    orderDateTime: Timestamp | None = None
    addedToOrgDateTime: Timestamp | None = None
    updatedDateTime: Timestamp | None = None
    status: str | None = None
    releasedFromOrgDateTime: Timestamp | None = None


class _OrgDevice(_Raw):
    id: Key
    attributes: _DeviceAttributes


class _ServerAttributes(_Raw):
    serverName: str | None = None


class _MdmServer(_Raw):
    id: Key
    attributes: _ServerAttributes = _ServerAttributes()


class _Linkage(_Raw):
    id: Key


class CursorPaginator(HttpPaginator):
    """JSON:API paging: `links.next`, else `meta.paging.nextCursor` sent back as `cursor`."""

    page_size_param = "limit"

    def next(self, page: HttpPage) -> str | None:
        """The next page's URL."""
        body = page.body if isinstance(page.body, dict) else {}
        links = body.get("links") if isinstance(body.get("links"), dict) else {}
        following = links.get("next") if links else None
        if isinstance(following, str) and following:
            return urljoin(page.url, following)
        paging = (
            (body.get("meta") or {}).get("paging") if isinstance(body.get("meta"), dict) else None
        )
        cursor = paging.get("nextCursor") if isinstance(paging, dict) else None
        if isinstance(cursor, str) and cursor:
            base = page.url.split("?", 1)[0]
            limit = page.params.get("limit")
            return f"{base}?cursor={cursor}" + (f"&limit={limit}" if limit else "")
        return None


class _OrgDevices(HttpStream[_OrgDevice, PurchasedDevice]):
    name = "orgDevices"
    path = ORG_DEVICES
    records_key = "data"
    paginator = CursorPaginator()
    raw_model = _OrgDevice
    entity_type = PurchasedDevice

    def to_entity(self, raw: _OrgDevice) -> PurchasedDevice:
        source = self.source
        assert isinstance(source, AppleSchoolManager)
        a = raw.attributes
        serial = text(a.serialNumber)
        if serial is None:
            raise ValueError("serialNumber is empty")
        return PurchasedDevice(
            tenant=source.tenant,
            source=source.ref,
            key=raw.id,
            source_modified=aware(a.updatedDateTime),
            serial_number=serial,
            physical_key=maybe_physical_key("Apple", serial),
            model=text(a.deviceModel),
            product_family=text(a.productFamily),
            purchase_source=SOURCES.get(a.purchaseSourceType or "", PurchaseSource.UNKNOWN),
            ordered_at=aware(a.orderDateTime),
            added_at=aware(a.addedToOrgDateTime),
            assigned=a.status == "ASSIGNED",
            assigned_server=source.server_of.get(raw.id) if a.status == "ASSIGNED" else None,
            released_at=aware(a.releasedFromOrgDateTime),
        )


class _Lookup(HttpStream[Any, PurchasedDevice]):
    """A stream read in `prepare` whose records are remembered, not published."""

    records_key = "data"
    paginator = CursorPaginator()
    entity_type = PurchasedDevice
    #: What a record that fails validation is filed as.
    filed_as: ClassVar[str]

    @property
    def dead_letter_entity(self) -> str:
        """Not a published entity: dead letters name what the record was."""
        return self.filed_as

    @property
    def asm(self) -> AppleSchoolManager:
        """The source, typed."""
        assert isinstance(self.source, AppleSchoolManager)
        return self.source


class _MdmServers(_Lookup):
    """The organisation's device management services, by id."""

    name = "mdmServers"
    path = MDM_SERVERS
    raw_model = _MdmServer
    filed_as = "mdm_server"

    def to_items(self, raw: _MdmServer) -> Iterable[Item]:
        """Nothing published: the server's name is kept for its devices."""
        self.asm.servers[raw.id] = text(raw.attributes.serverName) or raw.id
        return ()


class _ServerDevices(_Lookup):
    """The ids of the devices assigned to one service."""

    name = "mdmServerDevices"
    path = SERVER_DEVICES
    raw_model = _Linkage
    filed_as = "mdm_server_device"

    def __init__(self, source: HttpSource, server_id: str) -> None:
        super().__init__(source)
        self.server_id = server_id

    def to_items(self, raw: _Linkage) -> Iterable[Item]:
        """Nothing published: the device's service is remembered."""
        self.asm.server_of[raw.id] = self.asm.servers.get(self.server_id, self.server_id)
        return ()


class AppleClientAssertion(SettingsModel):
    """OAuth 2.0 client credentials with a client assertion signed by the API account's key."""

    kind: Literal["apple_client_assertion"]
    token_url: Annotated[str, Field(pattern=r"^https?://")] = (
        "https://account.apple.com/auth/oauth2/token"
    )
    #: The API account's client id (`SCHOOLAPI.…`): the assertion's issuer and subject.
    client_id: str
    #: The id of the private key the assertion is signed with (the JWT's `kid`).
    key_id: str
    #: The private key (PEM, EC P-256) the account downloaded once.
    secret: SecretRef
    scope: str = "school.api"
    #: The assertion's audience.
    audience: str = "https://account.apple.com/auth/oauth2/v2/token"


class ClientAssertion(ClientCredentials):
    """Client credentials whose client proves itself with a JWT signed with ES256 (PyJWT)."""

    settings: AppleClientAssertion  # type: ignore[assignment]

    def grant(self) -> tuple[dict[str, str], tuple[str, str] | None]:
        """The form with a freshly signed `client_assertion`; no HTTP basic."""
        import jwt  # PyJWT, with cryptography for ES256

        now = int(time.time())
        claims = {
            "iss": self.settings.client_id,
            "sub": self.settings.client_id,
            "aud": self.settings.audience,
            "iat": now,
            "exp": now + ASSERTION_SECONDS,
            "jti": str(uuid.uuid4()),
        }
        try:
            assertion = jwt.encode(
                claims,
                self._client_secret,
                algorithm="ES256",
                headers={"kid": self.settings.key_id},
            )
        except (ValueError, TypeError, jwt.PyJWTError) as exc:
            raise AuthError(
                f"the private key cannot sign the client assertion: {type(exc).__name__}",
                connector=self._connector,
            ) from None
        return {
            "grant_type": "client_credentials",
            "client_id": self.settings.client_id,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion,
            "scope": self.settings.scope,
        }, None


class AppleSchoolManagerSettings(HttpSourceSettings):
    """The Apple School Manager API: the organisation's purchased devices."""

    type: Literal["apple_school_manager"]
    base_url: Annotated[str, Field(pattern=r"^https?://")] = "https://api-school.apple.com"
    auth: AppleClientAssertion  # type: ignore[assignment]  # a signed assertion, not a secret
    #: `limit`, at most 1000.
    page_size: Annotated[int, Field(ge=1, le=1000)] = 1000


def pem_lines(secret: str) -> str:
    r"""A PEM key as given, or with its line breaks written as `\n` (an env file's form)."""
    return secret.replace("\\n", "\n") if "\\n" in secret and "\n" not in secret else secret


class AppleSchoolManager(HttpSource):
    """Purchased devices from the Apple School Manager API, as `PurchasedDevice`."""

    name: ClassVar[str] = "mdm.apple_school_manager"
    system: ClassVar[str] = "apple_school_manager"
    entity_types = (PurchasedDevice,)
    streams = (_OrgDevices,)
    settings: AppleSchoolManagerSettings

    def __init__(self, settings: AppleSchoolManagerSettings, **kwargs: Any) -> None:
        #: Service id → name; device id → its service's name (read in `prepare`).
        self.servers: dict[str, str] = {}
        self.server_of: dict[str, str] = {}
        super().__init__(settings, **kwargs)

    def authenticator(self, secret: str, clock: Callable[[], float]) -> Authenticator:
        r"""Client credentials with a signed client assertion (`ClientAssertion`).

        The key is PEM; an environment file cannot hold its line breaks, so `\n` in the
        secret stands for one (the form a PEM usually takes in an env file).
        """
        return ClientAssertion(
            self.settings.auth,  # type: ignore[arg-type]
            pem_lines(secret),
            session=self.session,
            timeout=self.settings.timeout_seconds,
            connector=self.name,
            clock=clock,
        )

    def stream_url(self, stream: HttpStream[Any, Any]) -> str:
        """A service's devices have the service's id in their path."""
        if isinstance(stream, _ServerDevices):
            return self.url(SERVER_DEVICES.replace("{id}", stream.server_id))
        return super().stream_url(stream)

    def prepare(self) -> None:
        """Read the services and the devices assigned to each, through the paging loop."""
        self.servers.clear()
        self.server_of.clear()
        for item in self.read_stream(_MdmServers(self)):
            if not isinstance(item, PurchasedDevice):
                log.warning("mdm_server_rejected")
        for server_id in sorted(self.servers):
            for _item in self.read_stream(_ServerDevices(self, server_id)):
                pass
        log.info("mdm_servers_read", servers=len(self.servers), assigned=len(self.server_of))

    def check(self) -> None:
        """Fetch a token with the signed assertion and read the first page of services."""
        self.fetch_page(_MdmServers(self), None, 1)
        log.info("source_checked", connector=self.name)


CONNECTOR = ConnectorSpec(
    settings=AppleSchoolManagerSettings,
    connector=AppleSchoolManager,
    domain="mdm",
    pool=Pool("hub_mdm_apple_school_manager", 2, "Apple School Manager syncs"),
    title="Apple School Manager",
    build=with_secret(AppleSchoolManager),
    doc="docs/equipment.md",
    connection=ConnectionForm(
        form_fields=("auth.key_id",),
        defaults=(("auth.kind", "apple_client_assertion"),),
    ),
)
