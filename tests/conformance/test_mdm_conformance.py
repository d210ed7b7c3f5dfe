"""Devices shaped as Microsoft Graph, Jamf Pro and Google's Directory API publish them.

Held to (see SOURCES.md): Microsoft Graph v1.0 `managedDevice` (as the msgraph-sdk
generates it from Graph's metadata), Jamf Pro's `/api/v2/mobile-devices/detail` and
`/api/v1/computers-inventory` records (Jamf Pro 11.7.1's own OpenAPI schema) and the Admin SDK
Directory API discovery document (`admin:directory_v1`, `ChromeOsDevice`). Records are
generated from those schemas; each vendor's form of paging is run through the paging loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import BaseModel

from connectors._http_paging import HttpPage, HttpPaginator
from connectors.base import paged
from connectors.errors import PartialReadError
from connectors.http import HttpStream
from connectors.mdm import google_chromeos, intune, jamf
from schemas.mdm import Device
from tests.conformance.raw_fields import mismatches, raw_fields
from tests.conformance.schema_records import VendorSchema, without
from tests.conformance.support import entities, vendor_json
from tests.unit.connectors._mdm import intune as intune_source
from tests.unit.connectors.test_google_parsing import source as google_source
from tests.unit.connectors.test_jamf_parsing import source as jamf_source

GRAPH = vendor_json("graph", "managedDevice.json")
JAMF = vendor_json("jamf", "inventory.json")
GOOGLE = vendor_json("google", "admin-directory_v1.json")


@dataclass
class Vendor:
    """One record type of one vendor: its schema, the connector's raw model and stream."""

    schema: VendorSchema
    raw: type[BaseModel]
    stream: type[HttpStream[Any, Any]]
    build: Any
    #: Raw fields the connector reads that the published schema lacks (read when present).
    extensions: dict[str, str]


def _jamf(name: str, hints: dict[str, Any] | None = None) -> VendorSchema:
    schema = JAMF["schemas"][name]
    return VendorSchema(schema, refs=schema.get("$defs", {}), hints=hints or {})


@pytest.mark.parametrize("stream", [jamf._MobileDevices, jamf._Computers])
def test_jamf_query_parameters_and_sections_are_the_published_ones(stream: Any):
    """Every query parameter and section the inventory reads send is one Jamf publishes."""
    published = JAMF["paths"][stream.path.removeprefix("/api")]
    instance = stream(jamf_source())
    _, params = instance.paginator.request(stream.path, instance.params(), 100, "1")
    assert set(params) <= set(published["query"])
    assert set(stream.sections) <= set(published["section"])


VENDORS = {
    "graph-managedDevice": Vendor(
        VendorSchema(
            GRAPH["definitions"]["managedDevice"],
            refs=GRAPH["definitions"],
            hints={"serialNumber": "C02ZK1XYJ1GJ", "manufacturer": "Apple", "model": "iPad"},
        ),
        intune._ManagedDevice,
        intune._ManagedDevices,
        intune_source,
        {},
    ),
    "jamf-mobileDevice": Vendor(
        # `deviceType` is the discriminator of Jamf's iOS/tvOS/watchOS inventory branches.
        _jamf("MobileDevice", {"deviceType": "iOS"}),
        jamf._MobileDevice,
        jamf._MobileDevices,
        jamf_source,
        {
            "general.site": "site object some Jamf versions embed (siteId is the published one)",
            "general.site.id": "as above",
            "general.site.name": "as above",
            "general.initialEntryTimestamp": "first inventory time, newer servers",
            "general.initialEntryDate": "first inventory day, older servers",
            "userAndLocation.email": "older servers' name for emailAddress",
            "hardware.make": "published for computers only; Apple when absent",
        },
    ),
    "jamf-computer": Vendor(
        _jamf("Computer"),
        jamf._Computer,
        jamf._Computers,
        jamf_source,
        {
            "userAndLocation.emailAddress": "mobile devices' name for email, some servers use it",
            "userAndLocation.building": "a building name some servers embed beside buildingId",
        },
    ),
    "google-chromeOsDevice": Vendor(
        VendorSchema(
            GOOGLE["schemas"]["ChromeOsDevice"],
            refs=GOOGLE["schemas"],
            hints={
                "serialNumber": "5CD0123XYZ",
                "status": "ACTIVE",
                "firstEnrollmentTime": "2024-08-12T07:30:00.000Z",
                "autoUpdateThrough": "2031-06-30T00:00:00Z",
                "model": "Lenovo 300e Chromebook",
            },
        ),
        google_chromeos._ChromeOsDevice,
        google_chromeos._ChromeOsDevices,
        google_source,
        {},
    ),
}
NAMES = list(VENDORS)


def parse(name: str, record: dict[str, Any]) -> list[Any]:
    vendor = VENDORS[name]
    return vendor.stream(vendor.build()).parse(record, 0)


@pytest.mark.parametrize("name", NAMES)
def test_every_field_read_is_published_with_its_type(name: str):
    """Each raw field is in the vendor's schema with a compatible type, or a listed extension."""
    vendor = VENDORS[name]
    found = mismatches(raw_fields(vendor.raw), vendor.schema.fields())
    assert set(vendor.extensions) == set(found), found


@pytest.mark.parametrize("name", NAMES)
def test_hints_name_only_published_fields(name: str):
    """The generator's value hints never add a field the vendor does not publish."""
    assert [] == VENDORS[name].schema.check_hints()


@pytest.mark.parametrize("name", NAMES)
def test_a_maximal_record_maps_to_a_device(name: str):
    """Every property the schema defines, each with a valid value, maps to one device."""
    (device,) = entities(parse(name, VENDORS[name].schema.maximal()))
    assert isinstance(device, Device)


@pytest.mark.parametrize("name", NAMES)
def test_a_minimal_record_maps_or_names_its_id(name: str):
    """These schemas do not require the id: a minimal record is a dead letter naming it."""
    minimal = VENDORS[name].schema.minimal()
    assert set(minimal) <= {"deviceType"}
    (rejected,) = parse(name, minimal)
    assert any(key in rejected.reason for key in ("id", "deviceId", "mobileDeviceId"))


def _optional_cases() -> list[tuple[str, str]]:
    ids = {"id", "deviceId", "mobileDeviceId"}
    return [
        (name, path)
        for name, vendor in VENDORS.items()
        for path in vendor.schema.optional_paths()
        if path not in ids
    ]


@pytest.mark.parametrize(("name", "path"), _optional_cases())
def test_any_field_but_the_id_may_be_absent(name: str, path: str):
    """Leaving out any one published field other than the id keeps the device."""
    record = without(VENDORS[name].schema.maximal(), path)
    (device,) = entities(parse(name, record))
    assert isinstance(device, Device)


def test_google_fields_name_only_chromeosdevice_properties():
    """`fields=` selects only properties of the current discovery document (else 400)."""
    published = set(GOOGLE["schemas"]["ChromeOsDevice"]["properties"])
    assert set(google_chromeos.DEVICE_FIELDS) <= published
    assert google_chromeos.FIELDS.startswith("nextPageToken,chromeosdevices(")
    assert {"nextPageToken", "chromeosdevices"} <= set(
        GOOGLE["schemas"]["ChromeOsDevices"]["properties"]
    )


def test_google_query_parameters_are_the_list_methods():
    """Every parameter the connector sends is a parameter of chromeosdevices.list or global."""
    method = GOOGLE["methods"]["chromeosdevices.list"]
    allowed = set(method["parameters"]) | set(GOOGLE["parameters"])
    stream = google_chromeos._ChromeOsDevices(google_source())
    assert set(stream.params()) | {"maxResults", "pageToken"} <= allowed


# -- each vendor's paging, through the one paging loop ------------------------------------


def _page(url: str, params: dict[str, Any], body: dict[str, Any], key: str) -> HttpPage:
    return HttpPage(url=url, params=params, headers={}, body=body, records=body.get(key, []))


def _read(paginator: HttpPaginator, script: dict[str | None, HttpPage]) -> list[Any]:
    asked: list[str | None] = []

    def fetch(token: str | None) -> HttpPage:
        asked.append(token)
        return script[token]

    records = [
        r
        for page in paged(
            fetch, paginator, connector="test", stream="s", count=lambda p: len(p.records)
        )
        for r in page.records
    ]
    return [records, asked]


def test_graph_reads_past_an_empty_page_with_a_next_link():
    """Graph may answer an empty `value` with `@odata.nextLink`: the read goes on."""
    base = "https://graph.microsoft.com/v1.0/deviceManagement/managedDevices"
    script = {
        None: _page(
            base, {}, {"value": [{"id": "a"}], "@odata.nextLink": f"{base}?$skiptoken=1"}, "value"
        ),
        f"{base}?$skiptoken=1": _page(
            base, {}, {"value": [], "@odata.nextLink": f"{base}?$skiptoken=2"}, "value"
        ),
        f"{base}?$skiptoken=2": _page(base, {}, {"value": [{"id": "b"}]}, "value"),
    }
    records, _ = _read(intune._ManagedDevices.paginator, script)
    assert ["a", "b"] == [r["id"] for r in records]


def test_google_reads_past_an_empty_page_with_a_next_page_token():
    """The Directory API may answer a page without devices but with `nextPageToken`."""
    url = "https://admin.googleapis.com/admin/directory/v1/customer/my_customer/devices/chromeos"
    script = {
        None: _page(
            url,
            {},
            {"chromeosdevices": [{"deviceId": "a"}], "nextPageToken": "t1"},
            "chromeosdevices",
        ),
        "t1": _page(
            url,
            {},
            {"kind": "admin#directory#chromeosdevices", "nextPageToken": "t2"},
            "chromeosdevices",
        ),
        "t2": _page(url, {}, {"chromeosdevices": [{"deviceId": "b"}]}, "chromeosdevices"),
    }
    records, _ = _read(google_chromeos._ChromeOsDevices.paginator, script)
    assert ["a", "b"] == [r["deviceId"] for r in records]


def test_jamf_reads_past_an_empty_page_below_total_count_and_fails_short():
    """An empty Jamf page before `totalCount` is reached does not end the read quietly."""
    url = "https://x.jamfcloud.com/api/v2/mobile-devices/detail"

    def page(number: int, ids: list[str]) -> HttpPage:
        body = {"totalCount": 3, "results": [{"mobileDeviceId": i} for i in ids]}
        return _page(url, {"page": str(number), "page-size": "1"}, body, "results")

    script = {None: page(0, ["1"]), "1": page(1, []), "2": page(2, ["3"])}
    with pytest.raises(PartialReadError):
        _read(jamf.JamfPagePaginator(), script)
    asked: list[str | None] = []

    def fetch(token: str | None) -> HttpPage:
        asked.append(token)
        return script[token]

    with pytest.raises(PartialReadError):
        for _ in paged(
            fetch,
            jamf.JamfPagePaginator(),
            connector="t",
            stream="s",
            count=lambda p: len(p.records),
        ):
            pass
    assert [None, "1", "2"] == asked


#: Enumerations the connectors map, with the values that may stay unknown to the hub.
ENUMS = [
    (
        "graph-managedDevice",
        "managedDeviceOwnerType",
        intune.OWNERSHIP,
        {"unknown", "unknownFutureValue"},
    ),
    ("graph-managedDevice", "complianceState", intune.COMPLIANCE, {"unknown", "configManager"}),
    # keyConflict: a registration whose key clashes says nothing about management.
    (
        "graph-managedDevice",
        "deviceRegistrationState",
        intune.REGISTRATION,
        {"unknown", "keyConflict"},
    ),
    ("jamf-mobileDevice", "general.deviceOwnershipType", jamf.OWNERSHIP, set()),
]


def _enum_values(name: str, path: str) -> list[str]:
    schema = VENDORS[name].schema
    node: Any = schema.root
    for part in path.split("."):
        node = schema.resolve(schema.resolve(node)["properties"][part])
    return list(schema.resolve(node)["enum"])


@pytest.mark.parametrize(
    ("name", "path", "mapping", "unknown"), ENUMS, ids=[f"{n}:{p}" for n, p, _, _ in ENUMS]
)
def test_every_published_enum_value_is_mapped(
    name: str, path: str, mapping: dict[str, Any], unknown: set[str]
):
    """Each published value of a field the hub maps has a mapping, or is listed as unknown."""
    values = set(_enum_values(name, path))
    assert set() == values - set(mapping) - unknown
    assert set() == set(mapping) - values, "the connector maps values the vendor does not publish"
