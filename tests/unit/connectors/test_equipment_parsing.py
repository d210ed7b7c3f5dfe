"""TOPdesk assets and incidents and Snipe-IT hardware, mapped from recorded records."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from connectors.base import Rejected
from connectors.equipment._kinds import equipment_kind, local_time, plain_text, price
from connectors.equipment.snipeit import SnipeIt, _HardwareStream
from connectors.equipment.topdesk_assets import TopdeskAssets, _Assets
from connectors.support.topdesk_incidents import TopdeskIncidents, _Incidents
from hub.settings import parse_settings
from schemas.equipment import EquipmentItem, EquipmentKind, EquipmentStatus, SupportTicket
from tests.conformance.support import vendor_json

DATA = Path(__file__).parent / "data" / "equipment"
KEY = b"test-hmac-key-0123456789abcdef"


def _settings(entry: dict[str, Any]) -> Any:
    tenant = {"id": "lillevik", "name": "L", "sources": [entry]}
    return parse_settings({"tenants": [tenant]}).tenants[0].sources[0]


def _basic() -> dict[str, Any]:
    return {"kind": "basic", "username": "skolehub", "secret": {"env": "X"}}


def incidents_source() -> TopdeskIncidents:
    """A TOPdesk incidents connector that is never connected."""
    settings = _settings(
        {
            "type": "topdesk_incidents",
            "id": "td",
            "base_url": "https://x.topdesk.net",
            "auth": _basic(),
        }
    )
    return TopdeskIncidents(settings, tenant="lillevik", secret="s", hmac_key=KEY)


def assets_source(**extra: Any) -> TopdeskAssets:
    """A TOPdesk assets connector that is never connected."""
    entry = {"type": "topdesk_assets", "id": "td", "base_url": "https://x.topdesk.net"}
    return TopdeskAssets(
        _settings({**entry, "auth": _basic(), **extra}), tenant="lillevik", secret="s"
    )


def snipeit_source(**extra: Any) -> SnipeIt:
    """A Snipe-IT connector that is never connected."""
    entry = {"type": "snipeit", "id": "snipe", "base_url": "https://snipe.example"}
    auth = {"kind": "bearer", "secret": {"env": "X"}}
    return SnipeIt(_settings({**entry, "auth": auth, **extra}), tenant="lillevik", secret="s")


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("Projektor", EquipmentKind.PROJECTOR),
        ("Projector [PRJ]", EquipmentKind.PROJECTOR),
        ("Interaktiv tavle", EquipmentKind.INTERACTIVE_BOARD),
        ("Interaktiv skrivtavla", EquipmentKind.INTERACTIVE_BOARD),
        ("SMART Board MX", EquipmentKind.INTERACTIVE_BOARD),
        ("Interaktiv skjerm", EquipmentKind.INTERACTIVE_BOARD),
        ("Lydanlegg", EquipmentKind.SOUND_SYSTEM),
        ("Ljudanläggning", EquipmentKind.SOUND_SYSTEM),
        ("Lydanlæg", EquipmentKind.SOUND_SYSTEM),
        ("Dokumentkamera", EquipmentKind.DOCUMENT_CAMERA),
        ("Bildskärm", EquipmentKind.DISPLAY),
        ("TV", EquipmentKind.DISPLAY),
        ("Printer", EquipmentKind.OTHER),
        ("Stativ", EquipmentKind.OTHER),
    ],
)
def test_template_names_map_to_kinds(name: str, kind: EquipmentKind) -> None:
    """Template and category names in Nordic languages and English give the kind."""
    assert kind == equipment_kind(name, {})


def test_configured_templates_win_over_keywords() -> None:
    """A template the source's settings name gets that kind whatever its words say."""
    assert EquipmentKind.INTERACTIVE_BOARD == equipment_kind(
        "Tavle 2", {"Tavle 2": EquipmentKind.INTERACTIVE_BOARD}
    )


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("1,234.56", Decimal("1234.56")),
        ("1.234,56", Decimal("1234.56")),
        ("kr 6 500,00", Decimal("6500.00")),
        ("€1,234", Decimal("1234.00")),
        ("$ 99.9", Decimal("99.90")),
        ("12000", Decimal("12000.00")),
        (4999.5, Decimal("4999.50")),
        ("", None),
        (None, None),
    ],
)
def test_formatted_prices_are_read(text: Any, amount: Decimal | None) -> None:
    """Thousands separators, decimal commas and currency signs are understood."""
    assert amount == price(text)


def test_a_price_without_a_number_is_refused() -> None:
    """Text with no digits is an error (the record becomes a dead letter)."""
    with pytest.raises(ValueError, match="no number"):
        price("n/a")


def test_html_entities_are_decoded() -> None:
    """Snipe-IT's escaped names read as people wrote them."""
    assert 'Rom 104 & 105 «Promethean 75"»' == plain_text(
        "Rom 104 &amp; 105 &laquo;Promethean 75&quot;&raquo;"
    )


def test_local_server_times_become_utc() -> None:
    """A time without an offset is the server's local time."""
    assert datetime(2025, 8, 19, 11, 49, tzinfo=UTC) == local_time(
        datetime(2025, 8, 19, 13, 49), "Europe/Oslo"
    )


def test_an_incident_maps_without_its_caller() -> None:
    """A closed incident: times, status, school, category, and the caller only as an HMAC."""
    source = incidents_source()
    records = json.loads((DATA / "topdesk_incidents.json").read_text())
    (ticket,) = _Incidents(source).parse(records[0], 0)
    assert isinstance(ticket, SupportTicket)
    assert (
        "I 2409 017",
        "closed",
        "Høvik skole",
        "Rom 204",
        "Klasserom AV",
        "Projektor",
        datetime(2024, 9, 2, 7, 45, tzinfo=UTC),
        datetime(2024, 9, 3, 9, 15, tzinfo=UTC),
        datetime(2024, 9, 5, 12, tzinfo=UTC),
    ) == (
        ticket.number,
        ticket.status,
        ticket.location,
        ticket.room,
        ticket.category,
        ticket.subcategory,
        ticket.opened_at,
        ticket.resolved_at,
        ticket.closed_at,
    )
    text = ticket.model_dump_json()
    for personal in ("Ola", "Nordmann", "ola.nordmann", "e3a5b1c2", "12345678901", "Elev"):
        assert personal not in text
    assert ticket.requester_link == source.requester_link("e3a5b1c2-1111-4f00-8000-000000000042")
    assert 64 == len(ticket.requester_link or "")


def test_an_open_incident_without_a_registered_caller_has_no_requester_link() -> None:
    """An unregistered caller (no id) gives no link; an open incident has no resolution."""
    records = json.loads((DATA / "topdesk_incidents.json").read_text())
    (ticket,) = _Incidents(incidents_source()).parse(records[1], 1)
    assert isinstance(ticket, SupportTicket)
    assert ("open", None, None, None) == (
        ticket.status,
        ticket.resolved_at,
        ticket.closed_at,
        ticket.requester_link,
    )


def test_a_bad_incident_is_a_dead_letter_naming_the_field_without_the_caller() -> None:
    """An unreadable call date is a dead letter that names `callDate` and drops the caller."""
    records = json.loads((DATA / "topdesk_incidents.json").read_text())
    (rejected,) = _Incidents(incidents_source()).parse(records[2], 2)
    assert isinstance(rejected, Rejected)
    assert "callDate" in rejected.reason
    assert "caller" not in rejected.payload
    assert "Kari" not in json.dumps(rejected.payload)


def test_the_vendor_example_asset_maps() -> None:
    """TOPdesk's documented asset: kind from the template, branch as school, room, local time."""
    record = vendor_json("topdesk", "assets.json")["example"]["dataSet"][0]
    (item,) = _Assets(assets_source()).parse(record, 0)
    assert isinstance(item, EquipmentItem)
    assert (
        EquipmentKind.PROJECTOR,
        "Projector [PRJ]",
        "Company Branch Office",
        "Room 204",
        EquipmentStatus.IN_USE,
        "Epson",
        "EB-L210W",
        datetime(2025, 8, 19, 11, 49, 58, 187000, tzinfo=UTC),
    ) == (
        item.kind,
        item.source_kind,
        item.location,
        item.room,
        item.status,
        item.manufacturer,
        item.model,
        item.source_modified,
    )


def test_an_archived_asset_is_left_out() -> None:
    """An archived asset yields nothing: a full read then deletes it."""
    record = {**vendor_json("topdesk", "assets.json")["example"]["dataSet"][0], "archived": True}
    assert [] == _Assets(assets_source()).parse(record, 0)


def test_only_configured_templates_when_asked() -> None:
    """With `templates_only`, assets of other templates are not equipment."""
    record = vendor_json("topdesk", "assets.json")["example"]["dataSet"][0]
    source = assets_source(templates={"Projektor": "projector"}, templates_only=True)
    assert [] == _Assets(source).parse(record, 0)


def _hardware(**changes: Any) -> dict[str, Any]:
    row = {
        "id": 17,
        "name": "Interaktiv tavle Rom 104 &amp; 105",
        "asset_tag": "LIL-00017",
        "serial": "PM&#45;0017",
        "model": {"id": 3, "name": "ActivPanel 9 75&quot;"},
        "status_label": {"id": 1, "name": "Deployed", "status_type": "deployable",
                         "status_meta": "deployed"},
        "category": {"id": 2, "name": "Interaktiv tavle"},
        "manufacturer": {"id": 4, "name": "Promethean"},
        "location": {"id": 9, "name": "H&oslash;vik skole"},
        "assigned_to": {"id": 5, "username": "olanor", "name": "Ola Nordmann",
                        "email": "ola@lillevik.no", "type": "user"},
        "notes": "Ola knuste den",
        "purchase_date": {"date": "2022-08-01", "formatted": "01.08.2022"},
        "purchase_cost": "kr 24 990,00",
        "custom_fields": {"Room": {"field": "_snipeit_room_3", "value": "Rom 104 &amp; 105",
                                   "field_format": "ANY"}},
        "updated_at": {"datetime": "2024-02-01 10:00:00", "formatted": "01.02.2024 10:00"},
        "deleted_at": None,
    }  # fmt: skip
    return {**row, **changes}


def test_a_snipeit_row_maps_with_unescaped_names_and_a_parsed_price() -> None:
    """Escaped names are decoded, the price string read, the room taken from its field."""
    (item,) = _HardwareStream(snipeit_source(currency="NOK")).parse(_hardware(), 0)
    assert isinstance(item, EquipmentItem)
    assert (
        "17",
        EquipmentKind.INTERACTIVE_BOARD,
        "Høvik skole",
        "Rom 104 & 105",
        "PM-0017",
        'ActivPanel 9 75"',
        EquipmentStatus.IN_USE,
        date(2022, 8, 1),
        Decimal("24990.00"),
        "NOK",
    ) == (
        item.key,
        item.kind,
        item.location,
        item.room,
        item.serial_number,
        item.model,
        item.status,
        item.purchased_on,
        item.purchase_cost,
        item.currency,
    )
    assert "Ola" not in item.model_dump_json()


def test_a_snipeit_row_without_custom_fields_is_read() -> None:
    """Snipe-IT's `[]` for no custom fields is no room, not an error."""
    (item,) = _HardwareStream(snipeit_source()).parse(_hardware(custom_fields=[]), 0)
    assert isinstance(item, EquipmentItem)
    assert item.room is None


def test_a_bad_snipeit_price_is_a_dead_letter_without_the_person() -> None:
    """A price with no number names `purchase_cost` and leaves out who holds the asset."""
    (rejected,) = _HardwareStream(snipeit_source()).parse(_hardware(purchase_cost="gratis"), 0)
    assert isinstance(rejected, Rejected)
    assert "purchase_cost" in rejected.reason
    assert {"assigned_to", "notes"}.isdisjoint(rejected.payload)
    assert "17" == rejected.key
