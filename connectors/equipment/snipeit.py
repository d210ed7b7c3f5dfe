"""Classroom equipment from Snipe-IT, the open-source asset register, as `EquipmentItem`.

`GET /api/v1/hardware?limit=S&offset=N&sort=id&order=asc`, `{"total": T, "rows": [...]}`,
offset by the rows actually received: Snipe-IT caps a page at its `API_MAX_RESULTS`
(500 by default) and silently returns fewer rows than `limit` asked for, so the next offset
is never computed from `limit`, and a read that ends short of `total` fails. Authentication
is a personal access token (`auth.kind: bearer`).

Snipe-IT's quirks, handled here and nowhere else:
- most errors come with **HTTP 200** and `{"status": "error", "messages": ...}`: a page
  like that is a `FatalError` naming the messages, never an empty page;
- names are HTML-escaped (`Rom 104 &amp; 105`): decoded;
- prices are formatted strings (`"1,234.56"`, `"kr 6 500,00"`): parsed into a decimal
  (`connectors.equipment._kinds.price`); the currency is the `currency` setting;
- dates are objects (`purchase_date.date`, `updated_at.datetime` in the server's time
  zone, `server_timezone`).

An asset's category (else its model) gives the kind; its location the school; the room
is a custom field (`room_field`), or the location itself when it has a parent location
(`room_from_location`). A soft-deleted asset leaves the listing and so a full read deletes
it, after a lookup (`/api/v1/hardware/{id}`: Snipe-IT's 200 "does not exist" error, or
`deleted_at` set) confirms it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import urlsplit

import requests
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from connectors._json_bounds import Body
from connectors.equipment._kinds import (
    TimeZoneName,
    equipment_kind,
    local_time,
    plain_text,
    price,
)
from connectors.errors import AuthError, FatalError
from connectors.http import (
    BearerToken,
    HttpPage,
    HttpSource,
    HttpSourceSettings,
    HttpStream,
    OffsetPaginator,
)
from connectors.registry import ConnectionForm, ConnectorSpec, Pool, with_secret
from schemas.entities import Entity
from schemas.equipment import EquipmentItem, EquipmentKind, EquipmentStatus

HARDWARE = "/api/v1/hardware"
#: Row fields that name or describe people: never in a dead letter.
_PERSONAL = frozenset({"assigned_to", "notes", "created_by", "checkout_requests"})
STATUS_META: dict[str, EquipmentStatus] = {
    "deployed": EquipmentStatus.IN_USE,
    "deployable": EquipmentStatus.IN_STOCK,
    "pending": EquipmentStatus.IN_STOCK,
    "undeployable": EquipmentStatus.BROKEN,
    "archived": EquipmentStatus.RETIRED,
}


class _Raw(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Named(_Raw):
    id: int | None = None
    name: str | None = None


class _StatusLabel(_Raw):
    name: str | None = None
    status_meta: str | None = None


class _Day(_Raw):
    date: str | None = None


class _Moment(_Raw):
    datetime: str | None = None


class _CustomField(_Raw):
    value: str | None = None


class _Hardware(_Raw):
    id: int
    name: str | None = None
    asset_tag: str | None = None
    serial: str | None = None
    model: _Named | None = None
    category: _Named | None = None
    manufacturer: _Named | None = None
    status_label: _StatusLabel | None = None
    #: The newer name of `status_label` (Snipe-IT keeps both while the old one is deprecated).
    status: _StatusLabel | None = None
    location: _Named | None = None
    rtd_location: _Named | None = None
    purchase_date: _Day | None = None
    #: A formatted string (`"1,234.56"`, `"kr 6 500,00"`), read as a decimal here so a bad
    #: one is a dead letter naming the field.
    purchase_cost: Annotated[Decimal | None, BeforeValidator(price)] = None
    custom_fields: dict[str, _CustomField] | list[Any] | None = None
    updated_at: _Moment | None = None
    deleted_at: _Moment | None = None

    @field_validator("custom_fields", mode="before")
    @classmethod
    def _empty_is_list(cls, value: Any) -> Any:
        """Snipe-IT writes an asset without custom fields as `[]`, not `{}`."""
        return {} if value == [] else value


class _SnipeItPaginator(OffsetPaginator):
    """limit/offset by the rows received, to the body's `total`."""

    def __init__(self) -> None:
        super().__init__(total_header=None)

    def total(self, page: HttpPage) -> int | None:
        """The body's `total`."""
        value = page.body.get("total") if isinstance(page.body, dict) else None
        return value if isinstance(value, int) and not isinstance(value, bool) else None


class _HardwareStream(HttpStream[_Hardware, EquipmentItem]):
    name = "hardware"
    path = HARDWARE
    records_key = "rows"
    paginator = _SnipeItPaginator()
    raw_model = _Hardware
    entity_type = EquipmentItem
    query = {"sort": "id", "order": "asc"}

    def record_ref(self, record: Any, index: int) -> str:
        """A row's numeric `id`."""
        key = self.record_key(record)
        return key if key is not None else f"{self.name}#{index}"

    def record_key(self, record: Any) -> str | None:
        """A row's numeric `id` as a key."""
        value = record.get("id") if isinstance(record, dict) else None
        is_id = isinstance(value, int) and not isinstance(value, bool) and value > 0
        return str(value) if is_id else None

    def redact(self, record: Any) -> dict[str, Any]:
        """Without the person an asset is checked out to, its notes and who created it."""
        if not isinstance(record, dict):
            return {"value": "[not an object]"}
        return {k: v for k, v in record.items() if k not in _PERSONAL}

    def to_entity(self, raw: _Hardware) -> EquipmentItem:
        settings = self.source.settings
        assert isinstance(settings, SnipeItSettings)
        category = plain_text(raw.category.name if raw.category else None)
        model = plain_text(raw.model.name if raw.model else None)
        location = raw.location or raw.rtd_location
        room = None
        if settings.room_field and isinstance(raw.custom_fields, dict):
            field = raw.custom_fields.get(settings.room_field)
            room = plain_text(field.value) if field else None
        updated = raw.updated_at.datetime if raw.updated_at else None
        bought = raw.purchase_date.date if raw.purchase_date else None
        label = raw.status or raw.status_label
        meta = (label.status_meta or "") if label else ""
        return EquipmentItem(
            tenant=self.source.tenant,
            source=self.source.ref,
            key=str(raw.id),
            source_modified=local_time(
                datetime.fromisoformat(updated) if updated else None, settings.server_timezone
            ),
            asset_tag=plain_text(raw.asset_tag),
            serial_number=plain_text(raw.serial),
            kind=equipment_kind(category, settings.categories, model, plain_text(raw.name)),
            source_kind=category,
            manufacturer=plain_text(raw.manufacturer.name if raw.manufacturer else None),
            model=model,
            status=STATUS_META.get(meta, EquipmentStatus.UNKNOWN),
            location=plain_text(location.name if location else None),
            room=room,
            purchased_on=date.fromisoformat(bought[:10]) if bought else None,
            purchase_cost=raw.purchase_cost,
            currency=settings.currency,
        )


class SnipeItSettings(HttpSourceSettings):
    """A Snipe-IT server: its URL and a personal access token (bearer)."""

    type: Literal["snipeit"]
    auth: BearerToken  # Snipe-IT takes personal access tokens
    #: `limit`; the server may return fewer (its API_MAX_RESULTS, 500 by default).
    page_size: int = Field(default=500, ge=1, le=10_000)
    #: Category names → kind, where the keywords would not say it.
    categories: dict[str, EquipmentKind] = Field(default_factory=dict)
    #: The custom field that holds the room (its name as the API shows it).
    room_field: str | None = "Room"
    #: The currency of purchase prices (Snipe-IT's formatted strings do not say it reliably).
    currency: str | None = None
    #: The time zone the server writes `updated_at` in.
    server_timezone: TimeZoneName = "Europe/Oslo"


def _messages(messages: Any) -> str:
    """Snipe-IT's `messages`: a string, or field → list of problems."""
    if isinstance(messages, str):
        return messages
    if isinstance(messages, dict):
        return "; ".join(f"{k}: {v}" for k, v in messages.items())
    return "no message"


class SnipeIt(HttpSource):
    """Hardware from Snipe-IT's REST API, as `EquipmentItem`."""

    name: ClassVar[str] = "equipment.snipeit"
    system: ClassVar[str] = "snipeit"
    entity_types = (EquipmentItem,)
    streams = (_HardwareStream,)
    settings: SnipeItSettings
    offset_paged = frozenset({EquipmentItem.entity})

    def read_body(self, response: requests.Response) -> Body:
        """The body; Snipe-IT's `{"status": "error"}` with HTTP 200 is an error, not a page."""
        body = super().read_body(response)
        value = body.value
        if isinstance(value, dict) and value.get("status") == "error" and "rows" not in value:
            messages = value.get("messages")
            text = _messages(messages)
            kind = AuthError if "unauth" in str(text).lower() else FatalError
            raise kind(
                f"Snipe-IT answered an error with HTTP {response.status_code}: {str(text)[:200]}",
                connector=self.name,
                status=response.status_code,
                path=urlsplit(response.url).path,
            )
        return body

    def confirm_gone(self, entity_type: type[Entity], keys: Sequence[str]) -> set[str] | None:
        """Look each unseen asset up by id: Snipe-IT's "does not exist" or `deleted_at` confirm."""
        if entity_type is not EquipmentItem or not all(k.isdigit() for k in keys):
            return None
        return self.confirm_gone_by_lookup(
            _HardwareStream,
            keys,
            lambda key: self.url(f"{HARDWARE}/{key}"),
            alive=lambda body: body.get("status") != "error" and not body.get("deleted_at"),
        )

    def lookup(self, url: str) -> Any | None:
        """One asset by id; Snipe-IT's 200 "does not exist" error reads as gone (None)."""
        try:
            return super().lookup(url)
        except FatalError as exc:
            if exc.status == 200:
                return None
            raise


CONNECTOR = ConnectorSpec(
    settings=SnipeItSettings,
    connector=SnipeIt,
    domain="equipment",
    pool=Pool("hub_equipment_snipeit", 2, "Snipe-IT syncs"),
    title="Snipe-IT",
    build=with_secret(SnipeIt),
    doc="docs/equipment.md",
    connection=ConnectionForm(
        login_field=None, form_fields=("server_timezone",), defaults=(("auth.kind", "bearer"),)
    ),
)
