"""The sandbox's Jamf Pro volume purchasing: locations and their content.

Mounted as vendor `jamfvpp`: the Jamf Pro server of the sandbox (`JamfApp`: the same API
clients, users, tokens, keep-alive and `repeat_pages`), serving

- `GET /api/v1/volume-purchasing-locations`: `page` (from 0), `page-size` (1-2000),
  `sort` (`id`), `totalCount`; two locations per tenant, the apps' and the books';
- `GET /api/v1/volume-purchasing-locations/{id}/content`: the location's apps or books
  from the tenant's `LicenceBook` (`sort` by `name`), with Jamf's counts
  (`licenseCountTotal`, `licenseCountInUse`, `licenseCountReported`); an unknown location
  is Jamf's 404.
"""

from __future__ import annotations

import re
from typing import Any

from hub.dev.sandbox.licences.book import (
    BOOK,
    BOOK_CREATOR,
    CATALOGUE,
    KEYNOTE,
    SCRATCHJR,
    AppleAsset,
    HoldsLicences,
)
from hub.dev.sandbox.mdm.jamf import JamfApp, jamf_error
from hub.dev.sandbox.webserver import Request, Response

__all__ = ["JamfVppApp"]

LOCATIONS = "/api/v1/volume-purchasing-locations"
CONTENT = re.compile(r"^/api/v1/volume-purchasing-locations/(\d+)/content$")
NAMES = {
    BOOK_CREATOR: "Book Creator for iPad",
    SCRATCHJR: "ScratchJr",
    KEYNOTE: "Keynote",
    BOOK: "Digital medborgare",
    **dict(CATALOGUE),
}
#: Location id → (name, product type it holds).
PLACES = {1: ("Appar", "App"), 2: ("Böcker", "Book")}


class JamfVppApp(HoldsLicences, JamfApp):
    """Jamf Pro's volume purchasing for every sandbox tenant, mounted as `jamfvpp`."""

    def _answer(self, request: Request) -> Response:
        path = request.path
        content = CONTENT.match(path)
        if request.method != "GET" or (path != LOCATIONS and content is None):
            return super()._answer(request)
        if self.tokens.valid(request.tenant, request.headers) is None:
            return jamf_error(401, "INVALID_TOKEN", "Unauthorized")
        if content is None:
            return self._page(
                request, list(PLACES), "id", frozenset(), lambda n, _: _location(n), devices=True
            )
        place = int(content.group(1))
        if place not in PLACES:
            return jamf_error(404, "NOT_FOUND", f"no volume purchasing location {place}")
        assets = [
            a for a in self.books[request.tenant].assets if a.product_type == PLACES[place][1]
        ]
        assets.sort(key=lambda a: (NAMES.get(a.adam_id, a.adam_id), a.pricing))
        return self._page(
            request,
            range(len(assets)),
            "name",
            frozenset(),
            lambda i, _: _content(assets[i]),
            devices=True,
        )


def _location(place: int) -> dict[str, Any]:
    name, _kind = PLACES[place]
    return {
        "id": str(place),
        "name": name,
        "appleId": "vpp@skolehub.example",
        "organizationName": "Skolehub",
        "tokenExpiration": "2027-08-01T00:00:00Z",
        "countryCode": "SE",
        "locationName": name,
        "automaticallyPopulatePurchasedContent": True,
        "sendNotificationWhenNoLongerAssigned": False,
        "autoRegisterManagedUsers": False,
        "siteId": "-1",
        "lastSyncTime": "2026-12-01T06:00:00Z",
    }


def _content(asset: AppleAsset) -> dict[str, Any]:
    book = asset.product_type == "Book"
    return {
        "name": NAMES.get(asset.adam_id, asset.adam_id),
        "licenseCountTotal": asset.total,
        "licenseCountInUse": asset.assigned,
        "licenseCountReported": asset.assigned,
        "iconUrl": f"https://is1-ssl.mzstatic.com/image/{asset.adam_id}.png",
        "deviceTypes": ["IOS", "MAC"] if book else ["IOS"],
        "contentType": "BOOK" if book else "IOS_APP",
        "pricingParam": asset.pricing,
        "adamId": asset.adam_id,
    }
