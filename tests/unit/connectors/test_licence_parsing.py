"""Microsoft 365, Apple volume-purchasing and Google licence records become licence entities."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from connectors.base import Item, Rejected, Removed
from connectors.http import HttpStream
from connectors.licences.apple_vpp import AppleVpp, _Assets, _Assignments
from connectors.licences.google_workspace import GoogleWorkspaceLicences
from connectors.licences.jamf_volume_purchasing import JamfVolumePurchasing, _Location
from connectors.licences.microsoft import MicrosoftLicences, _SubscribedSkus, _Users
from connectors.privacy import keyed_hmac
from schemas.entities import SourceRef
from schemas.licences import LicenceAssignment, LicencePool, ProductKind
from schemas.mdm import AssignedUserId, UserIdKind
from tests.unit.connectors._mdm import intune_entry, source_settings

DATA = Path(__file__).parent / "data" / "licences"
M365 = SourceRef(system="microsoft_licences", instance="m365")
VPP = SourceRef(system="apple_vpp", instance="vpp")
A1 = "94763226-9b3c-4e75-a931-5c89701abe66"
A3 = "4b590615-0888-425a-a965-b3bf7789848d"


def microsoft() -> MicrosoftLicences:
    """A Microsoft 365 licence connector that is never asked to connect."""
    entry = {**intune_entry(), "type": "microsoft_licences", "id": "m365"}
    return MicrosoftLicences(source_settings(entry), tenant="t", secret="unused")


def vpp() -> AppleVpp:
    """An Apple Apps and Books connector that is never asked to connect."""
    entry = {
        "type": "apple_vpp",
        "id": "vpp",
        "auth": {"kind": "bearer", "secret": {"env": "UNUSED"}},
        "location": "Lillevik kommune",
    }
    return AppleVpp(source_settings(entry), tenant="t", secret="unused")


def parse(stream: HttpStream[Any, Any], name: str, key: str) -> list[Item]:
    """Every record under `key` of an example file, parsed by a stream."""
    body = json.loads((DATA / name).read_text(encoding="utf-8"))
    return [item for n, record in enumerate(body[key]) for item in stream.parse(record, n)]


def test_a_subscribed_sku_becomes_a_pool_of_enabled_and_consumed_units():
    """`prepaidUnits.enabled` is bought, `consumedUnits` assigned, the rest available."""
    assert (
        LicencePool(
            tenant="t",
            source=M365,
            key=A1,
            product_id=A1,
            product_name="STANDARDWOFFPACK_FACULTY",
            vendor="microsoft",
            kind=ProductKind.SUBSCRIPTION,
            total=900,
            assigned=812,
            available=88,
        )
        == parse(_SubscribedSkus(microsoft()), "graph_subscribed_skus.json", "value")[0]
    )


def test_an_over_consumed_sku_has_none_available_not_a_negative_count():
    """More consumed than enabled (units in warning) leaves 0 available."""
    pool = parse(_SubscribedSkus(microsoft()), "graph_subscribed_skus.json", "value")[1]
    assert isinstance(pool, LicencePool)
    assert (40, 45, 0) == (pool.total, pool.assigned, pool.available)


def test_a_negative_count_is_a_dead_letter_naming_the_field_and_the_sku():
    """`consumedUnits: -3` is rejected with the field named, keyed by the skuId."""
    rejected = parse(_SubscribedSkus(microsoft()), "graph_subscribed_skus.json", "value")[2]
    assert isinstance(rejected, Rejected)
    assert "consumedUnits" in rejected.reason
    assert "314c4481-f395-4525-be8b-2ec4bb1e9d91" == rejected.key


def test_a_sku_whose_id_is_no_key_is_a_dead_letter_without_a_key():
    """A blank or invisible `skuId` names no key (found by the licence fuzz harness)."""
    for sku_id in ("\u200b", " ", "\ud800"):
        (rejected,) = _SubscribedSkus(microsoft()).parse({"skuId": sku_id, "consumedUnits": 1}, 0)
        assert isinstance(rejected, Rejected)
        assert (None, "skuId") == (rejected.key, rejected.reason.split(":")[1].strip())


def test_a_user_becomes_one_assignment_per_licence_keyed_by_object_id_not_address():
    """Each assigned SKU is an assignment `<user id>|<skuId>`, the holder named by UPN and id."""
    items = parse(_Users(microsoft()), "graph_users_licences.json", "value")
    holder = (
        AssignedUserId(kind=UserIdKind.UPN, value="kari.nordmann@lillevik.kommune.no"),
        AssignedUserId(kind=UserIdKind.DIRECTORY_ID, value="8a6e2f4c-1b3d-4f5e-8a7b-9c0d1e2f3a4b"),
    )
    assert [
        LicenceAssignment(
            tenant="t",
            source=M365,
            key=f"8a6e2f4c-1b3d-4f5e-8a7b-9c0d1e2f3a4b|{sku}",
            pool_key=sku,
            assigned_users=holder,
        )
        for sku in (A1, A3)
    ] == items[:2]
    assert all("@" not in item.key for item in items if isinstance(item, LicenceAssignment))


def test_a_user_with_a_bad_sku_is_a_dead_letter_without_the_address():
    """An assignedLicenses entry that is no GUID rejects the user, keyed by id, no UPN kept."""
    items = parse(_Users(microsoft()), "graph_users_licences.json", "value")
    (rejected,) = [i for i in items if isinstance(i, Rejected)]
    assert "skuId" in rejected.reason
    assert "5f4e3d2c-1b0a-4998-8776-655443322110" == rejected.key
    assert "userPrincipalName" not in rejected.payload
    assert 3 == len(items)  # two licences of the first user, none of the second


USER = "8a6e2f4c-1b3d-4f5e-8a7b-9c0d1e2f3a4b"


def _delta_users(full: bool) -> _Users:
    source = microsoft()
    source.full_snapshot = full
    source.sku_ids = frozenset({A1, A3})
    return _Users(source)


def test_a_full_round_removes_nothing_itself():
    """A full round: a `@removed` entry yields nothing, a user only what they hold."""
    users = _delta_users(full=True)
    assert [] == users.parse({"id": USER, "@removed": {"reason": "deleted"}}, 0)
    items = users.parse({"id": USER, "assignedLicenses": [{"skuId": A1}]}, 1)
    assert [f"{USER}|{A1}"] == [i.key for i in items if isinstance(i, LicenceAssignment)]
    assert [] == [i for i in items if isinstance(i, Removed)]


def test_an_incremental_entry_without_its_licences_removes_nothing():
    """A changed user whose entry leaves `assignedLicenses` out says nothing of them."""
    assert [] == _delta_users(full=False).parse({"id": USER, "userPrincipalName": "a@b.c"}, 0)


def test_an_incremental_entry_with_no_licences_removes_every_subscribed_sku():
    """An empty `assignedLicenses` is the whole list: each subscribed SKU is removed."""
    items = _delta_users(full=False).parse({"id": USER, "assignedLicenses": []}, 0)
    assert {Removed(LicenceAssignment, f"{USER}|{sku}") for sku in (A1, A3)} == set(items)


def test_a_null_licence_list_is_a_dead_letter_keyed_by_the_user():
    """Graph's list is not nullable: null rejects the user, whose licences then stay."""
    (rejected,) = _delta_users(full=False).parse({"id": USER, "assignedLicenses": None}, 0)
    assert isinstance(rejected, Rejected) and USER == rejected.key


def test_subscribed_sku_ids_are_kept_for_the_users_round_dead_letters_too():
    """Every well-formed `skuId` of a page is remembered, the SKU mapped or not."""
    source = microsoft()
    stream = _SubscribedSkus(source)
    stream.records_in({"value": [{"skuId": A1.upper(), "consumedUnits": -1}, {"skuId": "x"}, 7]})
    assert frozenset({A1}) == source.sku_ids


def test_a_vpp_asset_becomes_a_pool_per_edition():
    """An app's counts are kept; a book's PLUS edition is its own pool `<adamId>|PLUS`."""
    items = parse(_Assets(vpp()), "vpp_assets.json", "assets")
    assert (
        LicencePool(
            tenant="t",
            source=VPP,
            key="408709785|STDQ",
            product_id="408709785",
            vendor="apple",
            kind=ProductKind.APP,
            total=15000,
            assigned=5000,
            available=10000,
            location="Lillevik kommune",
        )
        == items[0]
    )
    assert ("1058120411|PLUS", ProductKind.BOOK) == (items[1].key, items[1].kind)  # type: ignore[union-attr]


def test_a_vpp_asset_without_its_assigned_count_is_a_dead_letter():
    """A record missing `assignedCount` is rejected naming the field, keyed by its pool."""
    rejected = parse(_Assets(vpp()), "vpp_assets.json", "assets")[2]
    assert isinstance(rejected, Rejected)
    assert "assignedCount" in rejected.reason
    assert "377298193|STDQ" == rejected.key


def test_vpp_assignments_name_the_device_or_the_mdm_user():
    """A device assignment carries the serial and physical key; a user one the MDM's user id."""
    items = parse(_Assignments(vpp()), "vpp_assignments.json", "assignments")
    assert (
        LicenceAssignment(
            tenant="t",
            source=VPP,
            key="408709785|STDQ|DMPXL0QJHP8C",
            pool_key="408709785|STDQ",
            device_serial="DMPXL0QJHP8C",
            device_physical_key="apple:DMPXL0QJHP8C",
        )
        == items[0]
    )
    user = items[1]
    assert isinstance(user, LicenceAssignment)
    assert (
        "1058120411|PLUS|2a1f6b0e-7f3c-5c1d-9a2b-3c4d5e6f7a8b",
        (
            AssignedUserId(
                kind=UserIdKind.DIRECTORY_ID, value="2a1f6b0e-7f3c-5c1d-9a2b-3c4d5e6f7a8b"
            ),
        ),
    ) == (user.key, user.assigned_users)


def test_a_vpp_assignment_held_by_nobody_is_a_dead_letter():
    """Neither serialNumber nor clientUserId: rejected, saying so."""
    rejected = parse(_Assignments(vpp()), "vpp_assignments.json", "assignments")[2]
    assert isinstance(rejected, Rejected)
    assert "serialNumber and clientUserId" in rejected.reason


def workspace() -> GoogleWorkspaceLicences:
    """A Google Workspace licence connector that is never asked to connect."""
    entry = {
        "type": "google_workspace_licences",
        "id": "workspace",
        "customer_id": "skola.solberga.se",
        "products": [{"product_id": "101031"}],
        "auth": {
            "kind": "google_service_account",
            "secret": {"env": "UNUSED"},
            "subject": "admin@skola.solberga.se",
        },
    }
    return GoogleWorkspaceLicences(
        source_settings(entry), tenant="t", secret="unused", hmac_key=b"k" * 32
    )


def google_items() -> list[Item]:
    """The example assignments, read by the connector's one product stream."""
    source = workspace()
    source.prepare()
    (stream,) = source.streams_to_read()
    return parse(stream(source), "google_license_assignments.json", "items")


def test_a_google_assignment_is_keyed_by_an_hmac_of_the_address_never_the_address():
    """The first assignment of a SKU brings its pool; the key holds a keyed HMAC, not the e-mail."""
    pool, first = google_items()[:2]
    assert isinstance(pool, LicencePool) and isinstance(first, LicenceAssignment)
    digest = keyed_hmac(b"k" * 32, "emma.svensson@skola.solberga.se")
    assert (pool.key, f"{pool.key}|{digest}") == (first.pool_key, first.key)
    assert ("Google Workspace for Education Plus", "google", None) == (
        pool.product_name,
        pool.vendor,
        pool.total,
    )
    assert (
        AssignedUserId(kind=UserIdKind.EMAIL, value="emma.svensson@skola.solberga.se"),
    ) == first.assigned_users
    assert "@" not in first.key


def test_a_sku_id_shaped_like_a_cpr_number_is_hashed_in_keys_and_still_joins():
    """`1010310008` is a valid-date CPR shape: keys hold its HMAC, `product_id` hides it."""
    pool, first = google_items()[:2]
    assert pool.key.startswith("101031/") and "1010310008" not in pool.key
    assert "101031/[redacted]" == pool.product_id  # type: ignore[union-attr]
    assert pool.key == first.pool_key  # type: ignore[union-attr]


def test_the_same_address_in_other_case_gives_the_same_key():
    """Addresses are compared case-blind and trimmed: `Olle.Berg@… ` is keyed as `olle.berg@…`."""
    items = google_items()
    digest = keyed_hmac(b"k" * 32, "olle.berg@skola.solberga.se")
    assert items[2].key == f"{items[0].key}|{digest}"  # type: ignore[union-attr]


def test_a_google_dead_letter_carries_the_hmac_not_the_address():
    """A `userId` that is no address is rejected naming the field; the payload holds its HMAC."""
    rejected = google_items()[3]
    assert isinstance(rejected, Rejected)
    assert "userId" in rejected.reason
    assert "not an address" not in json.dumps(rejected.payload)
    assert str(rejected.payload["userId"]).startswith("hmac:")


def jamf_source() -> JamfVolumePurchasing:
    """A Jamf Pro volume-purchasing source, not connected."""
    entry = {
        "type": "jamf_volume_purchasing",
        "id": "jamf-vpp",
        "base_url": "https://skole.jamfcloud.com",
        "auth": {
            "kind": "oauth_client_credentials",
            "token_url": "https://skole.jamfcloud.com/api/oauth/token",
            "client_id": "hub",
            "secret": {"env": "UNUSED"},
        },
    }
    return JamfVolumePurchasing(source_settings(entry), tenant="t", secret="unused")


def jamf_content() -> list[Item]:
    """The example content of the Jamf Pro location `3` (`Grundskolor`)."""
    source = jamf_source()
    source.locations = [_Location(id="3", name="Grundskolor")]
    (stream,) = source.streams_to_read()
    return parse(stream(source), "jamf_vpp_content.json", "results")


def test_jamf_content_becomes_a_pool_per_location_app_and_edition():
    """Jamf's counts and the location's name; the key `<location>|<adamId>|<edition>`."""
    assert (
        LicencePool(
            tenant="t",
            source=SourceRef(system="jamf_volume_purchasing", instance="jamf-vpp"),
            key="3|661166101|STDQ",
            product_id="661166101",
            product_name="Book Creator for iPad",
            vendor="apple",
            kind=ProductKind.APP,
            total=120,
            assigned=97,
            available=23,
            location="Grundskolor",
        )
        == jamf_content()[0]
    )


def test_jamf_content_in_use_beyond_the_total_leaves_none_available():
    """12 in use of 10 (licences Jamf reports beyond those bought): 0 available, not -2."""
    book = jamf_content()[1]
    assert ("3|1058120411|PLUS", ProductKind.BOOK, 0) == (book.key, book.kind, book.available)  # type: ignore[union-attr]


def test_jamf_content_with_a_count_that_is_no_number_is_a_dead_letter():
    """`licenseCountTotal: "many"` is rejected naming the field, keyed by its pool."""
    rejected = jamf_content()[2]
    assert isinstance(rejected, Rejected)
    assert "licenseCountTotal" in rejected.reason
    assert "3|895485086|STDQ" == rejected.key
