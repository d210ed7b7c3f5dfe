"""Licences shaped as Microsoft Graph, Google's License Manager and Apple publish them.

Held to (see SOURCES.md): Graph v1.0 `subscribedSku`, `licenseUnitsDetail`,
`assignedLicense` and `user` (as the msgraph-sdk generates them from Graph's metadata),
the users' delta query (its query parameters, `@removed` reasons and a round's pages),
the License Manager discovery document (`licensing:v1`: `LicenseAssignment` and the two
list methods the connector calls), the `Get Assets` example of Apple's App and Book
Management API v2 ("Managing assets") and its `Get Assignments` (query parameters, the
`Assignment` object's properties, the paged and versioned example of "Using paginated
endpoints"); Jamf Pro 11.7.1's own OpenAPI schema for the
volume-purchasing locations and their content.
"""

from __future__ import annotations

from typing import Any

import pytest

from connectors._graph import DELTA_BOOKMARK, DELTA_REFUSED
from connectors.base import Removed
from connectors.http import HttpPage
from connectors.licences import apple_vpp, google_workspace, jamf_volume_purchasing, microsoft
from schemas.licences import LicencePool, ProductKind
from tests.conformance.raw_fields import mismatches, raw_fields
from tests.conformance.schema_records import VendorSchema, without
from tests.conformance.support import entities, judged, vendor_json
from tests.unit.connectors.test_licence_parsing import jamf_source, vpp
from tests.unit.connectors.test_licence_parsing import microsoft as microsoft_source

GRAPH = vendor_json("graph", "licences.json")
LICENSING = vendor_json("google", "licensing_v1.json")
APPLE_ASSETS = vendor_json("apple", "vpp-v2-get-assets.json")
APPLE_ASSIGNMENTS = vendor_json("apple", "vpp-v2-get-assignments.json")


def _graph(model: str, nested: dict[str, str] | None = None) -> dict[str, str]:
    published = dict(GRAPH[model])
    for prefix, other in (nested or {}).items():
        published.update({f"{prefix}.{k}": v for k, v in GRAPH[other].items()})
    return published


def test_every_field_read_of_a_subscribed_sku_is_published_by_graph():
    """`_SubscribedSku` reads only `subscribedSku` and `licenseUnitsDetail` properties."""
    published = _graph("subscribedSku", {"prepaidUnits": "licenseUnitsDetail"})
    assert {} == mismatches(raw_fields(microsoft._SubscribedSku), published)


def test_every_field_read_of_a_user_is_published_by_graph():
    """`_User` reads `id`, the UPN, `assignedLicenses[].skuId` and the delta's `@removed`."""
    read = raw_fields(microsoft._User)
    read.pop("@removed")  # the delta query's annotation, not a property (reasons: below)
    published = _graph("user", {"assignedLicenses": "assignedLicense"})
    assert {} == mismatches(read, published)
    assert set(microsoft.USER_SELECT) <= set(GRAPH["user"])


USER_DELTA = GRAPH["user-delta"]


def _delta_source(full: bool) -> microsoft.MicrosoftLicences:
    source = microsoft_source()
    source.full_snapshot = full
    source.sku_ids = frozenset({"94763226-9b3c-4e75-a931-5c89701abe66", SECOND_SKU})
    return source


#: A second subscribed SKU, which the documented user does not hold.
SECOND_SKU = "314c4481-f395-4525-be8b-2ec4bb1e9d91"


def test_the_users_delta_sends_only_published_query_parameters():
    """A new round asks `$select` alone (no `$top`, which users' delta refuses); links add none."""
    source = microsoft_source()
    stream = microsoft._Users(source)
    url, query = stream.paginator.request(source.stream_url(stream), stream.params(), 100, None)
    assert url.endswith("/users/delta") and {"$select"} == set(query)
    assert set(query) <= set(USER_DELTA["query_parameters"])
    assert not set(query) & set(USER_DELTA["not_supported_on_users"])
    following = USER_DELTA["first-page-of-a-round"]["@odata.nextLink"]
    assert (following, {}) == stream.paginator.request(url, stream.params(), 100, following)
    source.full_snapshot = False
    source.delta_since = USER_DELTA["last-page-of-a-round"]["@odata.deltaLink"]
    url, query = stream.paginator.request(source.stream_url(stream), stream.params(), 100, None)
    assert (source.delta_since, {}) == (url, query)


def test_the_documented_last_page_keeps_its_delta_link_and_maps():
    """The round's last page: the user's licence maps, its `deltaLink` is kept whole."""
    source = _delta_source(full=True)
    stream = microsoft._Users(source)
    page = USER_DELTA["last-page-of-a-round"]
    records = stream.records_in(page)
    (assignment,) = entities([i for n, r in enumerate(records) for i in stream.parse(r, n)])
    assert "25dcffff-959e-4ece-9973-e5d9b800e8cc|94763226-9b3c-4e75-a931-5c89701abe66" == (
        assignment.key
    )
    assert {DELTA_BOOKMARK: page["@odata.deltaLink"]} == source.bookmarks
    assert stream.paginator.next(HttpPage(page["@odata.deltaLink"], {}, {}, page, records)) is None


@pytest.mark.parametrize("reason", USER_DELTA["removed_reasons"])
def test_each_documented_removal_reason_removes_the_users_licences(reason: str):
    """On an incremental round, a user `@removed` for either reason loses every subscribed SKU."""
    user = "86462606-fde0-4fc4-9e0c-a20eb73e54c6"
    items = microsoft._Users(_delta_source(full=False)).parse(
        {"id": user, "@removed": {"reason": reason}}, 0
    )
    assert {f"{user}|{sku}" for sku in _delta_source(full=False).sku_ids} == {
        i.key for i in items if isinstance(i, Removed)
    }


def test_the_documented_changed_user_removes_only_what_it_no_longer_holds():
    """A changed user's whole `assignedLicenses`: held SKUs re-read, the other one removed."""
    stream = microsoft._Users(_delta_source(full=False))
    (record, _removed) = USER_DELTA["last-page-of-a-round"]["value"]
    items = stream.parse(record, 0)
    assert [f"{record['id']}|{SECOND_SKU}"] == [i.key for i in items if isinstance(i, Removed)]
    assert 1 == len(entities(items))


@pytest.mark.parametrize("status", USER_DELTA["refused_link_statuses"])
def test_graphs_refusals_of_a_delta_link_turn_the_read_full(status: int):
    """Graph's 400 (expired token) and 410 (reset) on a stored link are the fallback's statuses."""
    assert status in DELTA_REFUSED


def test_every_field_read_of_a_license_assignment_is_published_by_google():
    """`_Assignment` reads `LicenseAssignment` properties, each a string as Google has them."""
    properties = LICENSING["schemas"]["LicenseAssignment"]["properties"]
    published = {name: spec["type"] for name, spec in properties.items()}
    assert {} == mismatches(raw_fields(google_workspace._Assignment), published)


def test_the_list_methods_page_as_the_connector_asks():
    """Both list methods take `customerId`, `maxResults` (at most 1000) and `pageToken`."""
    for method in ("listForProduct", "listForProductAndSku"):
        parameters: dict[str, Any] = LICENSING["methods"][method]["parameters"]
        assert {"customerId", "maxResults", "pageToken"} <= set(parameters), method
        assert (True, "1000") == (
            parameters["customerId"]["required"],
            parameters["maxResults"]["maximum"],
        )
        assert method.startswith("list") and "users" in LICENSING["methods"][method]["flatPath"]
    list_schema = LICENSING["schemas"]["LicenseAssignmentList"]["properties"]
    assert {"items", "nextPageToken"} <= set(list_schema)


def test_apples_documented_asset_becomes_a_pool():
    """The asset of Apple's `Get Assets` example is a pool with its three counts."""
    stream = apple_vpp._Assets(vpp())
    (pool,) = entities(stream.parse(APPLE_ASSETS["assets"][0], 0))
    assert isinstance(pool, LicencePool)
    assert ("408709785|STDQ", 15000, 5000, 10000) == (
        pool.key,
        pool.total,
        pool.assigned,
        pool.available,
    )


# -- Jamf Pro volume purchasing, held to Jamf Pro 11.7.1's own schema -------------------------

JAMF_VPP = vendor_json("jamf", "volume-purchasing.json")
#: What the hub needs of a content record that Jamf's schema leaves optional (it requires
#: nothing): without one, the record is a dead letter naming it.
CONTENT_NEEDS = {"adamId", "licenseCountTotal", "licenseCountInUse"}


def _content_schema() -> VendorSchema:
    schemas = JAMF_VPP["schemas"]
    return VendorSchema(schemas["VolumePurchasingContent"], schemas, {"adamId": "661166101"})


def _jamf_stream() -> Any:
    source = jamf_source()
    source.locations = [jamf_volume_purchasing._Location(id="3", name="Grundskolor")]
    (stream,) = source.streams_to_read()
    return stream(source)


def test_every_field_read_of_a_location_and_its_content_is_published_by_jamf():
    """`_Location` and `_Content` read only properties of Jamf's own schemas, as typed there."""
    schemas = JAMF_VPP["schemas"]
    location = VendorSchema(schemas["VolumePurchasingLocationListView"], schemas)
    assert {} == mismatches(raw_fields(jamf_volume_purchasing._Location), location.fields())
    assert {} == mismatches(raw_fields(jamf_volume_purchasing._Content), _content_schema().fields())


def test_a_maximal_content_record_maps_to_a_pool():
    """Every property Jamf defines, each with a valid value, maps to one licence pool."""
    (pool,) = entities(_jamf_stream().parse(_content_schema().maximal(), 0))
    assert isinstance(pool, LicencePool)


@pytest.mark.parametrize("path", list(_content_schema().optional_paths()))
def test_any_content_field_may_be_absent_or_its_absence_is_named(path: str):
    """Jamf requires nothing: a field the hub needs is named when absent, the rest may go."""
    record = without(_content_schema().maximal(), path)
    outcome = judged(_jamf_stream().parse(record, 0), dict.fromkeys(CONTENT_NEEDS, ""))
    assert (path if path in CONTENT_NEEDS else "mapped") == outcome


@pytest.mark.parametrize(
    "content_type",
    JAMF_VPP["schemas"]["VolumePurchasingContent"]["properties"]["contentType"]["enum"],
)
def test_every_published_content_type_maps(content_type: str):
    """Each `contentType` Jamf publishes maps to a product kind (`UNKNOWN`: other)."""
    record = {**_content_schema().maximal(), "contentType": content_type}
    (pool,) = entities(_jamf_stream().parse(record, 0))
    expected = {"BOOK": ProductKind.BOOK, "UNKNOWN": ProductKind.OTHER}.get(
        content_type, ProductKind.APP
    )
    assert expected == pool.kind  # type: ignore[union-attr]


def test_the_volume_purchasing_reads_send_only_published_query_parameters():
    """`page`, `page-size` and `sort`: parameters both GETs publish."""
    source = jamf_source()
    location = jamf_volume_purchasing._Location(id="3")
    source.locations = [location]
    streams = [jamf_volume_purchasing._Locations, *source.streams_to_read()]
    for stream in streams:
        instance = stream(source)
        _, params = instance.paginator.request("/", instance.params(), 100, "1")
        published = JAMF_VPP["paths"][
            "/v1/volume-purchasing-locations"
            if stream is jamf_volume_purchasing._Locations
            else "/v1/volume-purchasing-locations/{id}/content"
        ]["query"]
        assert set(params) <= set(published), stream.__name__


def test_every_field_read_of_an_assignment_is_an_apple_assignment_property():
    """`_Assignment` reads only properties of Apple's `Assignment` object."""
    assert set(raw_fields(apple_vpp._Assignment)) <= set(APPLE_ASSIGNMENTS["assignment_properties"])


def test_apples_documented_page_of_assignments_maps_and_gives_its_version():
    """A device and a user assignment of Apple's example map; the page's version is kept."""
    source = vpp()
    stream = apple_vpp._Assignments(source)
    page = APPLE_ASSIGNMENTS["first_page"]
    records = stream.records_in(page)
    device, user = entities([i for n, r in enumerate(records) for i in stream.parse(r, n)])
    assert (
        "377298193|STDQ|b6817f44-6229-4f1b-ba16-9eef9ebf24c6",
        "b6817f44-6229-4f1b-ba16-9eef9ebf24c6",
    ) == (
        device.key,
        device.device_serial,
    )
    assert "408709785|STDQ|client-1" == user.key
    stream.finished()
    assert {apple_vpp.VERSION_BOOKMARK: page["versionId"]} == source.bookmarks


def test_an_incremental_read_sends_only_published_query_parameters():
    """`sinceVersionId` and `pageIndex` are Get Assignments parameters, as the connector sends."""
    source = vpp()
    source.full_snapshot = False
    source.bookmarks = {apple_vpp.VERSION_BOOKMARK: "658a45d0-5a7b-11eb-b9e4-d782eaed4cfb"}
    stream = apple_vpp._Assignments(source)
    _url, query = stream.paginator.request(source.url(stream.path), stream.params(), 100, "1")
    assert {"sinceVersionId", "pageIndex"} == set(query)
    assert set(query) <= set(APPLE_ASSIGNMENTS["query_parameters"])
