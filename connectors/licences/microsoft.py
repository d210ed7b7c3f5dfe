"""Microsoft 365 licences, read from Microsoft Graph v1.0, as `LicencePool` and `LicenceAssignment`.

- `GET /subscribedSkus`: the SKUs the organisation bought (`skuId`, `skuPartNumber`,
  `prepaidUnits.enabled`, `consumedUnits`), one `LicencePool` each, keyed by `skuId`.
  Graph returns them in one page (`$top` is not supported), but a `@odata.nextLink` is
  followed if one comes. Read in full on every run: the SKU ids also name what a user
  no longer holds on an incremental run.
- The users' licences by Graph's delta query: `GET /users/delta?$select=id,userPrincipalName,
  assignedLicenses`, then every `@odata.nextLink` until a page carries the
  `@odata.deltaLink`. One `LicenceAssignment` per user and assigned SKU, keyed
  `<user id>|<skuId>` (the object id, never the address); the holder is named by UPN and
  directory object id, which identity matching compares with the directory. Graph does
  not take `$top` on the users' delta, so its pages are as long as Graph makes them.

Incremental reads are Graph's: the `@odata.deltaLink` that ends a round is kept whole as the
opaque bookmark `deltaLink` (only when it points at the configured Graph host), and an
incremental run asks that link for the users changed since. A changed user carries its
whole current `assignedLicenses` (Graph's default answer repeats every selected property,
changed or not), so its assignments are published again and every other SKU of the
tenant's `subscribedSkus` becomes a `Removed` assignment of that user; an entry without
`assignedLicenses` says nothing about them and removes nothing. A user `@removed` (reason
`changed`: deleted and restorable; `deleted`: gone for good) removes its assignment of every
subscribed SKU. A full run starts a round without a token (it is the full listing too) and
the runner's reconciliation deletes what the round did not list. Graph answers a delta link
it no longer honours with 410 (a reset) or 400 (`syncStateNotFound`, expired after seven
days for directory objects): `prepare()` asks for the link's first page before anything is
read, and on either status drops the bookmark with a note and reads in full (as it does,
without asking, for a stored link that is not on the configured host).

Authentication, paging and throttling are the Intune connector's (`connectors._graph`):
the app registration needs Organization.Read.All (or LicenseAssignment.Read.All) and
User.Read.All. SKUs that apply to the company rather than users (`appliesTo: Company`)
are pools all the same. Graph counts `consumedUnits` across enabled, warning and suspended
units; `available` is what the enabled units leave, never below 0.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar, Literal
from uuid import UUID

import structlog
from pydantic import BaseModel, ConfigDict, Field

from connectors._graph import GraphDelta, GraphSettings
from connectors.base import Item, Removed
from connectors.http import HttpStream, NextLinkPaginator
from connectors.mdm._device import text, user_ids
from connectors.registry import ConnectionForm, ConnectorSpec, Pool, with_secret
from schemas.entities import Key, as_key, compose_key
from schemas.licences import LicenceAssignment, LicenceCount, LicencePool, ProductKind
from schemas.mdm import UserIdKind

log = structlog.get_logger(__name__)

SUBSCRIBED_SKUS = "/subscribedSkus"
USERS_DELTA = "/users/delta"
#: The user properties the connector reads.
USER_SELECT = ("id", "userPrincipalName", "assignedLicenses")
#: The bookmark holding the users' delta link, kept whole.
#: Graph's paging of a delta round: `@odata.nextLink` only (no `$top` on users' delta).
DELTA_PAGING = NextLinkPaginator("@odata.nextLink")


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
    #: Set on a delta entry for a user that was deleted (`{"reason": "changed"|"deleted"}`).
    removed: dict[str, Any] | None = Field(default=None, alias="@removed")
    userPrincipalName: str | None = None
    #: Graph leaves out a property never set; whether it came is `model_fields_set`'s.
    assignedLicenses: list[_AssignedLicense] = Field(default_factory=list)


def _sku_id(record: Any) -> str | None:
    """A subscribed SKU's `skuId` as the assignments write it, or None when it has none."""
    value = record.get("skuId") if isinstance(record, dict) else None
    try:
        return str(UUID(value)) if isinstance(value, str) else None
    except ValueError:
        return None


class _SubscribedSkus(HttpStream[_SubscribedSku, LicencePool]):
    name = "subscribedSkus"
    path = SUBSCRIBED_SKUS
    records_key = "value"
    paginator = NextLinkPaginator("@odata.nextLink")
    raw_model = _SubscribedSku
    entity_type = LicencePool
    source: MicrosoftLicences

    def records_in(self, body: Any) -> Any:
        """The page's SKUs; their ids (dead-lettered ones too) are kept for the users' round."""
        records = super().records_in(body)
        if isinstance(records, list):
            found = {sku for sku in map(_sku_id, records) if sku is not None}
            self.source.sku_ids = self.source.sku_ids | found
        return records

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
    """The users' delta round: every user (a full run) or those changed since the bookmark."""

    name = "users"
    path = USERS_DELTA
    records_key = "value"
    paginator = DELTA_PAGING
    raw_model = _User
    entity_type = LicenceAssignment
    source: MicrosoftLicences

    def params(self) -> dict[str, str]:
        """Only the properties the hub reads (`$select`); a delta link already carries them."""
        return {} if self.source.delta_since else {"$select": ",".join(USER_SELECT)}

    def records_in(self, body: Any) -> Any:
        """The page's users; the round's last page also gives the next delta link."""
        if isinstance(body, dict) and "@odata.deltaLink" in body:
            self.source.keep_delta_link(body["@odata.deltaLink"])
        return super().records_in(body)

    def redact(self, record: object) -> dict[str, object]:
        """A rejected user travels with its id and licences only: no address."""
        if not isinstance(record, dict):
            return {"value": "[not an object]"}
        return {k: record[k] for k in ("id", "assignedLicenses") if k in record}

    def to_items(self, raw: _User) -> Iterable[Item]:
        """One assignment per licence the user holds; on an incremental run, the rest removed.

        A full round lists no removals (the runner's reconciliation deletes what it did not
        list). An incremental one removes, of the tenant's subscribed SKUs, those a changed
        user no longer holds, and all of them for a user `@removed`.
        """
        source = self.source
        incremental = not source.full_snapshot
        if raw.removed is not None:
            return (
                [self._removed(raw.id, sku) for sku in sorted(source.sku_ids)]
                if incremental
                else []
            )
        if incremental and "assignedLicenses" not in raw.model_fields_set:
            return []  # an entry without the list says nothing of what the user holds
        users = user_ids((UserIdKind.UPN, raw.userPrincipalName), (UserIdKind.DIRECTORY_ID, raw.id))
        held = dict.fromkeys(str(licence.skuId) for licence in raw.assignedLicenses)
        items: list[Item] = [
            LicenceAssignment(
                tenant=source.tenant,
                source=source.ref,
                key=compose_key(raw.id, sku),
                pool_key=sku,
                assigned_users=users,
            )
            for sku in held
        ]
        if incremental:
            items += [self._removed(raw.id, sku) for sku in sorted(source.sku_ids - held.keys())]
        return items

    @staticmethod
    def _removed(user_id: str, sku: str) -> Removed:
        return Removed(LicenceAssignment, compose_key(user_id, sku))


class MicrosoftLicencesSettings(GraphSettings):
    """Microsoft 365 licences (subscribed SKUs and users' assigned licences) from Graph v1.0.

    The app registration needs the application permissions Organization.Read.All and
    User.Read.All; `auth` as for Intune (`connectors._graph.GraphSettings`).
    """

    type: Literal["microsoft_licences"]


class MicrosoftLicences(GraphDelta):
    """Microsoft 365 SKUs and users' licences from Graph v1.0, users by the delta query."""

    name: ClassVar[str] = "licences.microsoft"
    system: ClassVar[str] = "microsoft_licences"
    entity_types = (LicencePool, LicenceAssignment)
    streams = (_SubscribedSkus, _Users)
    supports_incremental = True
    delta_stream = _Users
    delta_what = "users"
    settings: MicrosoftLicencesSettings
    #: The `skuId` of every subscribed SKU this read listed.
    sku_ids: frozenset[str] = frozenset()

    def prepare(self) -> None:
        """Start a read; an incremental one resumes the users' round (`resume_delta`)."""
        self.sku_ids = frozenset()
        self.resume_delta()


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
