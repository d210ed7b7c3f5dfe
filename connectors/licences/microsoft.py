"""Microsoft 365 licences, read from Microsoft Graph v1.0, as `LicencePool` and `LicenceAssignment`.

- `GET /subscribedSkus`: the SKUs the organisation bought (`skuId`, `skuPartNumber`,
  `prepaidUnits.enabled`, `consumedUnits`), one `LicencePool` each, keyed by `skuId`.
  Graph returns them in one page (`$top` is not supported), but a `@odata.nextLink` is
  followed if one comes.
- `GET /users?$select=id,userPrincipalName,assignedLicenses&$top=<page size>`, then every
  `@odata.nextLink`: one `LicenceAssignment` per user and assigned SKU, keyed
  `<user id>|<skuId>` (the object id, never the address); the holder is named by UPN and
  directory object id, which identity matching compares with the directory.

Authentication, paging and throttling are the Intune connector's (`connectors._graph`):
the app registration needs Organization.Read.All (or LicenseAssignment.Read.All) and
User.Read.All. SKUs that apply to the company rather than users (`appliesTo: Company`)
are pools all the same. Graph counts `consumedUnits` across enabled, warning and suspended
units; `available` is what the enabled units leave, never below 0.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from connectors._graph import GRAPH_PAGING, GraphSettings
from connectors.base import Item
from connectors.http import HttpSource, HttpStream, NextLinkPaginator
from connectors.mdm._device import text, user_ids
from connectors.registry import ConnectionForm, ConnectorSpec, Pool, with_secret
from schemas.entities import Key, as_key, compose_key
from schemas.licences import LicenceAssignment, LicenceCount, LicencePool, ProductKind
from schemas.mdm import UserIdKind

SUBSCRIBED_SKUS = "/subscribedSkus"
USERS = "/users"
#: The user properties the connector reads.
USER_SELECT = ("id", "userPrincipalName", "assignedLicenses")


class _Raw(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _PrepaidUnits(_Raw):
    enabled: LicenceCount = 0
    suspended: LicenceCount = 0
    warning: LicenceCount = 0


class _SubscribedSku(_Raw):
    id: Key | None = None
    skuId: UUID
    skuPartNumber: str | None = None
    appliesTo: str | None = None
    capabilityStatus: str | None = None
    consumedUnits: LicenceCount
    prepaidUnits: _PrepaidUnits = Field(default_factory=_PrepaidUnits)


class _AssignedLicense(_Raw):
    skuId: UUID


class _User(_Raw):
    id: Key
    userPrincipalName: str | None = None
    assignedLicenses: list[_AssignedLicense] = Field(default_factory=list)


class _SubscribedSkus(HttpStream[_SubscribedSku, LicencePool]):
    name = "subscribedSkus"
    path = SUBSCRIBED_SKUS
    records_key = "value"
    paginator = NextLinkPaginator("@odata.nextLink")
    raw_model = _SubscribedSku
    entity_type = LicencePool

    def record_key(self, record: object) -> str | None:
        """A rejected SKU is named by its `skuId`, the pool's key."""
        return as_key(record.get("skuId")) if isinstance(record, dict) else None

    def to_entity(self, raw: _SubscribedSku) -> LicencePool:
        enabled = raw.prepaidUnits.enabled
        return LicencePool(
            tenant=self.source.tenant,
            source=self.source.ref,
            key=str(raw.skuId),
            product_id=str(raw.skuId),
            product_name=text(raw.skuPartNumber),
            vendor="microsoft",
            kind=ProductKind.SUBSCRIPTION,
            total=enabled,
            assigned=raw.consumedUnits,
            available=max(enabled - raw.consumedUnits, 0),
        )


class _Users(HttpStream[_User, LicenceAssignment]):
    name = "users"
    path = USERS
    records_key = "value"
    paginator = GRAPH_PAGING
    raw_model = _User
    entity_type = LicenceAssignment

    def params(self) -> dict[str, str]:
        """Only the properties the hub reads (`$select`)."""
        return {"$select": ",".join(USER_SELECT)}

    def redact(self, record: object) -> dict[str, object]:
        """A rejected user travels with its id and licences only: no address."""
        if not isinstance(record, dict):
            return {"value": "[not an object]"}
        return {k: record[k] for k in ("id", "assignedLicenses") if k in record}

    def to_items(self, raw: _User) -> Iterable[Item]:
        """One assignment per licence the user holds; a user without licences yields none."""
        users = user_ids((UserIdKind.UPN, raw.userPrincipalName), (UserIdKind.DIRECTORY_ID, raw.id))
        skus = dict.fromkeys(str(licence.skuId) for licence in raw.assignedLicenses)
        return [
            LicenceAssignment(
                tenant=self.source.tenant,
                source=self.source.ref,
                key=compose_key(raw.id, sku),
                pool_key=sku,
                assigned_users=users,
            )
            for sku in skus
        ]


class MicrosoftLicencesSettings(GraphSettings):
    """Microsoft 365 licences (subscribed SKUs and users' assigned licences) from Graph v1.0.

    The app registration needs the application permissions Organization.Read.All and
    User.Read.All; `auth` as for Intune (`connectors._graph.GraphSettings`).
    """

    type: Literal["microsoft_licences"]


class MicrosoftLicences(HttpSource):
    """Microsoft 365 SKUs and users' licences from Graph v1.0, as licence pools and assignments."""

    name: ClassVar[str] = "licences.microsoft"
    system: ClassVar[str] = "microsoft_licences"
    entity_types = (LicencePool, LicenceAssignment)
    streams = (_SubscribedSkus, _Users)
    settings: MicrosoftLicencesSettings


CONNECTOR = ConnectorSpec(
    settings=MicrosoftLicencesSettings,
    connector=MicrosoftLicences,
    domain="licences",
    pool=Pool("hub_licences_microsoft", 2, "Microsoft 365 licence syncs (Graph)"),
    title="Microsoft 365 licences",
    build=with_secret(MicrosoftLicences),
    doc="docs/licences.md",
    connection=ConnectionForm(form_fields=("auth.token_url", "auth.scope")),
)
