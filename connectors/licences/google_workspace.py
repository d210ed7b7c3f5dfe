"""Google Workspace licences from the Enterprise License Manager API, as pools and assignments.

For each configured product (and SKU, if given):
`GET /apps/licensing/v1/product/{productId}[/sku/{skuId}]/users?customerId=<domain or
customer id>&maxResults=<≤1000>`, then the same with `pageToken=<nextPageToken>` until a
page has none. Each `licenseAssignment` becomes a `LicenceAssignment` and, the first time
its product and SKU are seen, a `LicencePool` keyed `<productId>/<skuId>`.

Google names the holder by `userId`, which is the user's primary e-mail address. It is
never a key: an assignment is keyed `<productId>/<skuId>|<keyed HMAC of the address>`
(the tenant's `HUB_HMAC_KEY`), and the address travels only as the holder's identifier
for matching (`AssignedUserId(kind=email)`), as device users do. A dead letter carries
the HMAC, not the address.

Google's SKU ids are ten digits, and many (`1010310008`: 10 October 1931) are shaped like a
Danish CPR number: the hub's guard (`Source.guarded`) treats them as one, by value, like
any number in any source, so such a SKU id is a keyed HMAC in keys (the pool's key and
every `pool_key` alike, so they still join) and `[redacted]` in `product_id`; the SKU's
name (`skuName`) is the pool's `product_name`.

The License Manager does not say how many licences were bought: a Google pool has no
`total`, `assigned` or `available` (Google's subscriptions are in the Reseller API or the
Admin console). Authentication and Google's quota errors (403 `rateLimitExceeded` is
throttling) are the Google connector's (`connectors.mdm.google_chromeos.GoogleApiSource`),
with the scope `https://www.googleapis.com/auth/apps.licensing`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field

from connectors.base import Item
from connectors.errors import ConfigError
from connectors.http import HttpStream, PageTokenPaginator
from connectors.mdm.google_chromeos import GoogleApiSource, GoogleServiceAccount
from connectors.privacy import keyed_hmac
from connectors.registry import ConnectionForm, ConnectorSpec, Pool, with_secret
from connectors.settings import HttpSourceSettings, SettingsModel
from schemas.entities import Key, compose_key
from schemas.licences import LicenceAssignment, LicencePool, ProductKind
from schemas.mdm import AssignedUserId, UserIdKind

LICENSING_SCOPE = "https://www.googleapis.com/auth/apps.licensing"
API = "/apps/licensing/v1"


class GoogleProduct(SettingsModel):
    """A product whose licences to read, and optionally one of its SKUs."""

    product_id: Annotated[str, Field(min_length=1, examples=["Google-Apps", "101031"])]
    sku_id: Annotated[str, Field(min_length=1)] | None = None


class LicensingServiceAccount(GoogleServiceAccount):
    """The service account, delegated the License Manager's scope."""

    scopes: tuple[str, ...] = (LICENSING_SCOPE,)


class _Assignment(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, str_strip_whitespace=True)

    userId: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+$")]
    productId: Key
    skuId: Key
    skuName: str | None = None
    productName: str | None = None


class _ProductUsers(HttpStream[_Assignment, LicenceAssignment]):
    """The assignments of one product (or SKU); `product` is set per configured product."""

    records_key = "items"
    paginator = PageTokenPaginator("nextPageToken", "pageToken", page_size_param="maxResults")
    raw_model = _Assignment
    entity_type = LicenceAssignment
    product: ClassVar[GoogleProduct]
    source: GoogleWorkspaceLicences

    def params(self) -> dict[str, Any]:
        """The customer whose licences to list."""
        return {"customerId": self.source.settings.customer_id}

    def holder_key(self, user_id: str) -> str:
        """The key part that stands for a holder: a keyed HMAC of the address."""
        return keyed_hmac(self.source.pseudonym_key, user_id.strip().lower())

    def redact(self, record: Any) -> dict[str, Any]:
        """A rejected assignment travels with its product and SKU; the address as its HMAC."""
        if not isinstance(record, dict):
            return {"value": "[not an object]"}
        kept = {k: record[k] for k in ("productId", "skuId") if k in record}
        if isinstance(record.get("userId"), str):
            kept["userId"] = f"hmac:{self.holder_key(record['userId'])}"
        return kept

    def record_ref(self, record: Any, index: int) -> str:
        """The stream and position: the record's id would be an address."""
        return f"{self.name}#{index}"

    def record_key(self, record: Any) -> str | None:
        """The assignment's key, when its product, SKU and address can be read."""
        if not isinstance(record, dict):
            return None
        product, sku, user = (record.get(k) for k in ("productId", "skuId", "userId"))
        if not all(isinstance(v, str) and v for v in (product, sku, user)):
            return None
        try:
            return compose_key(f"{product}/{sku}", self.holder_key(str(user)))
        except ValueError:
            return None

    def to_items(self, raw: _Assignment) -> Iterable[Item]:
        """The assignment, after its pool the first time the product and SKU are seen."""
        pool = compose_key(f"{raw.productId}/{raw.skuId}")
        items: list[Item] = []
        if pool not in self.source.pools_seen:
            self.source.pools_seen.add(pool)
            items.append(
                LicencePool(
                    tenant=self.source.tenant,
                    source=self.source.ref,
                    key=pool,
                    product_id=pool,
                    product_name=raw.skuName or raw.productName,
                    vendor="google",
                    kind=ProductKind.SUBSCRIPTION,
                )
            )
        items.append(
            LicenceAssignment(
                tenant=self.source.tenant,
                source=self.source.ref,
                key=compose_key(pool, self.holder_key(raw.userId)),
                pool_key=pool,
                assigned_users=(AssignedUserId(kind=UserIdKind.EMAIL, value=raw.userId.strip()),),
            )
        )
        return items


class GoogleWorkspaceLicencesSettings(HttpSourceSettings):
    """Google Workspace licences from the Enterprise License Manager API.

    `auth` is the service account (as for ChromeOS devices) delegated the scope
    `https://www.googleapis.com/auth/apps.licensing`; `customer_id` is the Workspace's
    primary domain or customer id; `products` the products (and SKUs) to read.
    """

    type: Literal["google_workspace_licences"]
    base_url: Annotated[str, Field(pattern=r"^https?://")] = "https://licensing.googleapis.com"
    auth: LicensingServiceAccount  # type: ignore[assignment]  # not an HttpAuth: a JWT grant
    customer_id: Annotated[str, Field(min_length=1)]
    products: Annotated[tuple[GoogleProduct, ...], Field(min_length=1)]
    #: Google's `maxResults`, at most 1000.
    page_size: Annotated[int, Field(ge=1, le=1000)] = 1000


class GoogleWorkspaceLicences(GoogleApiSource):
    """Google Workspace licence assignments, as licence pools and assignments."""

    name: ClassVar[str] = "licences.google_workspace"
    system: ClassVar[str] = "google_workspace_licences"
    entity_types = (LicencePool, LicenceAssignment)
    streams = (_ProductUsers,)
    settings: GoogleWorkspaceLicencesSettings

    @property
    def pseudonym_key(self) -> bytes:
        """The tenant's HMAC key, which the holders' addresses are hashed with in keys."""
        if not self._hmac_key:
            raise ConfigError(
                "Google's licence holders are named by address: the connector needs the "
                "tenant's HMAC key (HUB_HMAC_KEY) to key them",
                connector=self.name,
            )
        return self._hmac_key

    def prepare(self) -> None:
        """Before a read: no pool seen yet."""
        self.pools_seen: set[str] = set()

    def streams_to_read(self) -> tuple[type[HttpStream[Any, Any]], ...]:
        """One stream per configured product (or SKU)."""
        streams: list[type[HttpStream[Any, Any]]] = []
        for product in self.settings.products:
            path = f"{API}/product/{quote(product.product_id, safe='')}"
            name = f"users:{product.product_id}"
            if product.sku_id is not None:
                path += f"/sku/{quote(product.sku_id, safe='')}"
                name += f"/{product.sku_id}"
            streams.append(
                type(
                    "_ProductUsers",
                    (_ProductUsers,),
                    {"name": name, "path": path + "/users", "product": product},
                )
            )
        return tuple(streams)


CONNECTOR = ConnectorSpec(
    settings=GoogleWorkspaceLicencesSettings,
    connector=GoogleWorkspaceLicences,
    domain="licences",
    pool=Pool("hub_licences_google_workspace", 2, "Google Workspace licence syncs"),
    title="Google Workspace licences (License Manager)",
    build=with_secret(GoogleWorkspaceLicences, hmac_key=True),
    doc="docs/licences.md",
    connection=ConnectionForm(
        host_label="License Manager URL",
        login_field=None,
        form_fields=("auth.subject", "customer_id"),
        defaults=(("auth.kind", "google_service_account"),),
    ),
)
