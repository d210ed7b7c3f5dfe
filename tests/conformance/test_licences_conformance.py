"""Licences shaped as Microsoft Graph, Google's License Manager and Apple publish them.

Held to (see SOURCES.md): Graph v1.0 `subscribedSku`, `licenseUnitsDetail`,
`assignedLicense` and `user` (as the msgraph-sdk generates them from Graph's metadata),
the License Manager discovery document (`licensing:v1`: `LicenseAssignment` and the two
list methods the connector calls) and the `Get Assets` example of Apple's App and Book
Management API v2 ("Managing assets").
"""

from __future__ import annotations

from typing import Any

from connectors.licences import apple_vpp, google_workspace, microsoft
from schemas.licences import LicencePool
from tests.conformance.raw_fields import mismatches, raw_fields
from tests.conformance.support import entities, vendor_json
from tests.unit.connectors.test_licence_parsing import vpp

GRAPH = vendor_json("graph", "licences.json")
LICENSING = vendor_json("google", "licensing_v1.json")
APPLE_ASSETS = vendor_json("apple", "vpp-v2-get-assets.json")


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
    """`_User` reads `id`, `userPrincipalName` and `assignedLicenses[].skuId` as Graph has them."""
    published = _graph("user", {"assignedLicenses": "assignedLicense"})
    assert {} == mismatches(raw_fields(microsoft._User), published)
    assert set(microsoft.USER_SELECT) <= set(GRAPH["user"])


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
