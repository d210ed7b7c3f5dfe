"""TOPdesk and Snipe-IT over HTTP, against their sandbox apps: paging, incremental reads, quirks."""

from __future__ import annotations

import pytest

from connectors.equipment.snipeit import SnipeIt
from connectors.equipment.topdesk_assets import TopdeskAssets
from connectors.errors import FatalError
from connectors.support.topdesk_incidents import TopdeskIncidents
from schemas.equipment import EquipmentItem, SupportTicket
from tests.contract.suite import entities, read_all
from tests.fixtures.equipment import EquipmentSandbox


def test_incidents_page_while_topdesk_answers_206(equipment_sandbox: EquipmentSandbox) -> None:
    """Pages of 10 are read while the answer is 206 Partial Content; the 200 page is the last."""
    tickets = entities(read_all(equipment_sandbox.connector("topdesk_incidents", page_size=10)))
    total = len(equipment_sandbox.topdesk.registers["lillevik"].tickets)
    path = equipment_sandbox.data_path("topdesk_incidents")
    assert (total, -(-total // 10)) == (len(tickets), equipment_sandbox.server.count(path))
    assert 1 == equipment_sandbox.server.count(path, status=200)


def test_an_incremental_read_asks_with_fiql_and_204_is_nothing_new(
    equipment_sandbox: EquipmentSandbox,
) -> None:
    """After a full read, an incremental one sends `modificationDate=gt=`; 204 reads as empty."""
    sandbox = equipment_sandbox
    first = sandbox.connector("topdesk_incidents")
    assert entities(read_all(first))
    bookmarks = dict(first.bookmarks)
    again = sandbox.connector("topdesk_incidents", incremental_overlap=0)
    again.bookmarks.update(bookmarks)
    again.full_snapshot = False
    assert [] == read_all(again)
    query = sandbox.topdesk.incident_queries[-1]["query"]
    assert query.startswith("modificationDate=gt=2")
    assert 204 == sandbox.server.requests[-1].status


def test_a_closed_incident_is_read_incrementally(equipment_sandbox: EquipmentSandbox) -> None:
    """An incident closed since the bookmark comes back alone, closed."""
    sandbox = equipment_sandbox
    first = sandbox.connector("topdesk_incidents")
    open_ones = [
        t for t in entities(read_all(first)) if isinstance(t, SupportTicket) and t.status == "open"
    ]
    assert open_ones
    sandbox.topdesk.control("lillevik", "close_incident", {"id": open_ones[0].key})
    again = sandbox.connector("topdesk_incidents", incremental_overlap=0)
    again.bookmarks.update(first.bookmarks)
    again.full_snapshot = False
    (ticket,) = entities(read_all(again))
    assert isinstance(ticket, SupportTicket)
    assert (open_ones[0].key, "closed") == (ticket.key, ticket.status)


def test_an_archived_asset_is_confirmed_gone_by_lookup(equipment_sandbox: EquipmentSandbox) -> None:
    """An asset archived in TOPdesk is missing from the read and its lookup confirms the delete."""
    sandbox = equipment_sandbox
    items = entities(read_all(sandbox.connector("topdesk_assets")))
    gone = items[3].key
    sandbox.topdesk.control("lillevik", "archive", {"unid": gone})
    source = sandbox.connector("topdesk_assets")
    assert isinstance(source, TopdeskAssets)
    with source:
        keys = {i.key for i in source.read() if isinstance(i, EquipmentItem)}
        assert gone not in keys
        assert {gone} == source.confirm_gone(EquipmentItem, [gone, items[4].key])


def test_a_server_side_row_cap_is_paged_past(equipment_sandbox: EquipmentSandbox) -> None:
    """Snipe-IT returning fewer rows than `limit` asked for is read on from the rows received."""
    sandbox = equipment_sandbox
    sandbox.snipeit.control("lillevik", "max_results", {"value": 7})
    items = entities(read_all(sandbox.connector("snipeit", page_size=500)))
    rows = len(sandbox.snipeit.registers["lillevik"].items)
    assert (rows, -(-rows // 7)) == (len(items), sandbox.server.count("/api/v1/hardware"))


def test_an_error_with_http_200_fails_the_read(equipment_sandbox: EquipmentSandbox) -> None:
    """`{"status": "error"}` with HTTP 200 is an error naming Snipe-IT's message, not a page."""
    equipment_sandbox.snipeit.control("lillevik", "error_200", {"times": 1})
    with pytest.raises(FatalError, match="database is busy") as caught:
        read_all(equipment_sandbox.connector("snipeit"))
    assert (SnipeIt.name, 200) == (caught.value.connector, caught.value.status)


def test_a_soft_deleted_snipeit_asset_is_confirmed_gone(
    equipment_sandbox: EquipmentSandbox,
) -> None:
    """Snipe-IT's 200 "does not exist" for a deleted asset confirms its delete."""
    sandbox = equipment_sandbox
    sandbox.snipeit.control("lillevik", "delete", {"id": 5})
    source = sandbox.connector("snipeit")
    assert isinstance(source, SnipeIt)
    with source:
        keys = {i.key for i in source.read() if isinstance(i, EquipmentItem)}
        assert "5" not in keys
        assert {"5"} == source.confirm_gone(EquipmentItem, ["5", "6"])


def test_the_requester_never_travels(equipment_sandbox: EquipmentSandbox) -> None:
    """No caller name, e-mail or request text in any ticket read from TOPdesk."""
    source = equipment_sandbox.connector("topdesk_incidents")
    assert isinstance(source, TopdeskIncidents)
    text = "\n".join(t.model_dump_json() for t in entities(read_all(source)))
    for personal in ("Elev Eksempel", "example.invalid", "Projektoren i rommet"):
        assert personal not in text
