"""Classroom equipment from TOPdesk's asset management, as `EquipmentItem`.

`GET /tas/api/assetmgmt/assets?pageStart=N&pageSize=S&fields=<FIELDS>` (optionally one
`templateName` per configured template), `{"dataSet": [...]}` page by page until a page
is shorter than `pageSize` (the asset API answers 200 whether or not more follow). An
asset's template (`@type.name`: `Projektor`, `Interaktiv tavle`, `Lydanlegg`) gives its
kind (`connectors.equipment._kinds`), its first location assignment its school (the
branch) and room (the location); `@status` IMPACTED is broken, an archived asset is out of
the listing and so deleted by a full read, after a lookup by id confirms it
(`/tas/api/assetmgmt/assets/{unid}` answers 404 or `archived: true`). Serial number,
purchase date and price are custom fields whose ids the tenant's TOPdesk chooses
(`serial_field`, `purchase_date_field`, `purchase_price_field`). Persons assigned to an
asset are never asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, ClassVar, Literal

from pydantic import ConfigDict, Field

from connectors._topdesk import (
    TOPDESK_CONNECTION,
    Named,
    PageStartPaginator,
    Raw,
    TopdeskSettings,
    TopdeskSource,
)
from connectors.equipment._kinds import equipment_kind, local_time, plain_text, price
from connectors.http import HttpStream
from connectors.registry import ConnectorSpec, Pool, with_secret
from schemas.entities import Key, as_key
from schemas.equipment import EquipmentItem, EquipmentKind, EquipmentStatus

ASSETS = "/tas/api/assetmgmt/assets"
ASSET_BY_ID = "/tas/api/assetmgmt/assets/{id}"
#: The asset fields always asked for (`fields`); the custom fields come from the settings.
BASE_FIELDS = ("name", "archived", "modificationDate", "@type", "@assignments", "@@summary",
               "@status")  # fmt: skip


class _Assignment(Raw):
    branch: Named | None = None
    location: Named | None = None


class _Assignments(Raw):
    locations: list[_Assignment] = []


class _AssetType(Raw):
    name: str | None = None


class _Asset(Raw):
    model_config = ConfigDict(extra="allow", frozen=True)  # the custom fields

    unid: Key
    name: str | None = None
    archived: bool = False
    modificationDate: datetime | None = None
    type: _AssetType | None = Field(default=None, alias="@type")
    assignments: _Assignments | None = Field(default=None, alias="@assignments")
    summary: str | None = Field(default=None, alias="@@summary")
    status: str | None = Field(default=None, alias="@status")

    def custom(self, field: str | None) -> Any:
        """A custom field's value (None when not configured or absent)."""
        return (self.model_extra or {}).get(field) if field else None


class _Assets(HttpStream[_Asset, EquipmentItem]):
    name = "assets"
    path = ASSETS
    records_key = "dataSet"
    paginator = PageStartPaginator(partial_content=False)
    raw_model = _Asset
    entity_type = EquipmentItem

    def params(self) -> dict[str, Any]:
        """The fields the hub reads, and the configured templates only."""
        settings = self.source.settings
        assert isinstance(settings, TopdeskAssetsSettings)
        custom = (
            settings.serial_field,
            settings.purchase_date_field,
            settings.purchase_price_field,
        )
        fields = [*BASE_FIELDS, *(f for f in custom if f)]
        return {"fields": ",".join(fields)}

    def record_ref(self, record: Any, index: int) -> str:
        """An asset's `unid`."""
        unid = record.get("unid") if isinstance(record, dict) else None
        return unid if isinstance(unid, str) and unid else f"{self.name}#{index}"

    def record_key(self, record: Any) -> str | None:
        """An asset's `unid`, as a key."""
        return as_key(record.get("unid")) if isinstance(record, dict) else None

    def to_items(self, raw: _Asset) -> Sequence[EquipmentItem]:
        """The item, unless it is archived or not of a configured template."""
        settings = self.source.settings
        assert isinstance(settings, TopdeskAssetsSettings)
        template = plain_text(raw.type.name if raw.type else None)
        if raw.archived or (settings.templates_only and template not in settings.templates):
            return ()
        return (self.to_entity(raw),)

    def to_entity(self, raw: _Asset) -> EquipmentItem:
        settings = self.source.settings
        assert isinstance(settings, TopdeskAssetsSettings)
        template = plain_text(raw.type.name if raw.type else None)
        first = (
            raw.assignments.locations[0] if raw.assignments and raw.assignments.locations else None
        )
        purchased = raw.custom(settings.purchase_date_field)
        summary = plain_text(raw.summary)
        manufacturer, _, model = (summary or "").partition(" ")
        if raw.archived:
            status = EquipmentStatus.RETIRED
        else:
            status = {
                "OPERATIONAL": EquipmentStatus.IN_USE,
                "IMPACTED": EquipmentStatus.BROKEN,
            }.get(raw.status or "", EquipmentStatus.UNKNOWN)
        return EquipmentItem(
            tenant=self.source.tenant,
            source=self.source.ref,
            key=raw.unid,
            source_modified=local_time(raw.modificationDate, settings.server_timezone),
            asset_tag=plain_text(raw.name),
            serial_number=plain_text(_text(raw.custom(settings.serial_field))),
            kind=equipment_kind(template, settings.templates, summary),
            source_kind=template,
            manufacturer=manufacturer or None,
            model=model or None,
            status=status,
            location=plain_text(first.branch.name if first and first.branch else None),
            room=plain_text(first.location.name if first and first.location else None),
            purchased_on=date.fromisoformat(str(purchased)[:10]) if purchased else None,
            purchase_cost=_custom_price(raw, settings.purchase_price_field),
            currency=settings.currency,
        )


def _custom_price(raw: _Asset, field: str | None) -> Any:
    """The price custom field as a decimal; a bad one names the field."""
    try:
        return price(raw.custom(field))
    except ValueError as exc:
        raise ValueError(f"{field}: {exc}") from None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


class TopdeskAssetsSettings(TopdeskSettings):
    """TOPdesk asset management: the equipment register's assets."""

    type: Literal["topdesk_assets"]
    #: `pageSize`, at most 1000.
    page_size: int = Field(default=500, ge=1, le=1000)
    #: Template names → kind, where the keywords would not say it (`Tavle 2`: a board).
    templates: dict[str, EquipmentKind] = Field(default_factory=dict)
    #: Read only assets of the templates named in `templates` (else every asset).
    templates_only: bool = False
    serial_field: str | None = "serial-number"
    purchase_date_field: str | None = "purchase-date"
    purchase_price_field: str | None = "purchase-price"
    #: The currency of purchase prices (TOPdesk keeps a number only).
    currency: str | None = None


class TopdeskAssets(TopdeskSource):
    """Classroom equipment from TOPdesk's asset management, as `EquipmentItem`."""

    name: ClassVar[str] = "equipment.topdesk_assets"
    system: ClassVar[str] = "topdesk"
    entity_types = (EquipmentItem,)
    streams = (_Assets,)
    settings: TopdeskAssetsSettings
    by_id = ASSET_BY_ID
    offset_paged = frozenset({EquipmentItem.entity})

    def alive(self, body: Any) -> bool:
        """An archived asset is gone (a 404 too)."""
        return not (isinstance(body, dict) and body.get("archived"))


CONNECTOR = ConnectorSpec(
    settings=TopdeskAssetsSettings,
    connector=TopdeskAssets,
    domain="equipment",
    pool=Pool("hub_equipment_topdesk", 2, "TOPdesk syncs (assets and incidents)"),
    title="TOPdesk asset management",
    build=with_secret(TopdeskAssets),
    doc="docs/equipment.md",
    connection=TOPDESK_CONNECTION,
)
