"""The sandbox's Apple Apps and Books for Organizations (App and Book Management API v2).

Mounted as vendor `vpp`: a tenant's API is `<server>/<tenant>/vpp/mdm/v2`, authenticated
by the location's content token (`Authorization: Bearer <sToken>`).

- `GET /mdm/v2/assets` and `GET /mdm/v2/assignments`: pages of `page_size` records,
  numbered from 0 by `pageIndex`, each saying `currentPageIndex`, `size`, `totalPages`,
  `versionId`, `tokenExpirationDate` and `uId`, as Apple's do. `assignments` takes
  `sinceVersionId` (only records changed since that version) and the filters `adamId`
  and `serialNumber`; a page index past the last is a 400 (`errorNumber` 9700).
- A wrong or revoked token is a 401 with `errorNumber` 9622; `revoke_token` (control)
  revokes the tenant's current token, as renewing it in Apple School Manager does.
- `repeat_pages(tenant, times)`: the server ignores `pageIndex` and serves the first page
  again, the loop a client must detect on a page-numbered API.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from hub.dev.sandbox._oauth import bearer
from hub.dev.sandbox.licences.book import HoldsLicences
from hub.dev.sandbox.mdm.fleet import Fleet
from hub.dev.sandbox.webserver import Request, Response, json_response

__all__ = ["VppApp"]

API = "/mdm/v2"
ASSETS = f"{API}/assets"
ASSIGNMENTS = f"{API}/assignments"


def vpp_error(status: int, number: int, message: str) -> Response:
    """An App and Book Management API error body."""
    return json_response({"errorNumber": number, "errorMessage": message}, status)


class VppApp(HoldsLicences):
    """Apple's volume purchasing for every sandbox tenant, mounted as `vpp`."""

    def __init__(
        self, fleets: Mapping[str, Fleet], *, tokens: Mapping[str, str], page_size: int = 50
    ) -> None:
        self.fleets = dict(fleets)
        self.tenants = tuple(self.fleets)
        self._tokens = dict(tokens)
        self.page_size = page_size
        self.version = 1
        self._repeats: dict[str, int] = {}
        self._lock = threading.Lock()

    def repeat_pages(self, tenant: str, times: int = 1) -> None:
        """Serve the first page for the next `times` page requests (-1: always)."""
        self._repeats[tenant] = times

    def revoke_token(self, tenant: str) -> None:
        """The tenant's token no longer works (a new one was downloaded)."""
        self._tokens[tenant] = ""

    def control(self, tenant: str, action: str, payload: Any) -> Any:
        """`revoke_token` only."""
        if action == "revoke_token":
            self.revoke_token(tenant)
            return {"revoked": True}
        raise ValueError(f"unknown action {action!r}")

    def handle(self, request: Request) -> Response:
        """Assets and assignments, after the token check."""
        token = bearer(request.headers)
        if not token or token != self._tokens.get(request.tenant):
            return vpp_error(401, 9622, "Invalid authentication token")
        if request.method != "GET":
            return vpp_error(405, 9601, "Method not allowed")
        book = self.books[request.tenant]
        if request.path == ASSETS:
            records = [
                {
                    "adamId": a.adam_id,
                    "pricingParam": a.pricing,
                    "productType": a.product_type,
                    "totalCount": a.total,
                    "assignedCount": a.assigned,
                    "availableCount": a.available,
                    "retiredCount": a.retired,
                    "deviceAssignable": a.product_type == "App",
                    "revocable": a.product_type == "App",
                    "supportedPlatforms": ["iOS", "iPadOS"],
                }
                for a in book.assets
            ]
            return self._page(request, "assets", records)
        if request.path == ASSIGNMENTS:
            query = request.query
            if query.get("sinceVersionId") == str(self.version):
                return self._page(request, "assignments", [])
            records = [
                {
                    "adamId": a.adam_id,
                    "pricingParam": a.pricing,
                    **({"serialNumber": a.serial} if a.serial else {}),
                    **({"clientUserId": a.client_user_id} if a.client_user_id else {}),
                }
                for a in book.assignments
                if query.get("adamId") in (None, a.adam_id)
                and query.get("serialNumber") in (None, a.serial)
            ]
            return self._page(request, "assignments", records)
        return vpp_error(404, 9600, "Resource not found")

    def _page(self, request: Request, key: str, records: list[dict[str, Any]]) -> Response:
        try:
            index = int(request.query.get("pageIndex", "0"))
        except ValueError:
            return vpp_error(400, 9700, "Invalid pageIndex")
        with self._lock:
            repeats = self._repeats.get(request.tenant, 0)
            if repeats and index > 0:
                index = 0
                self._repeats[request.tenant] = repeats - 1 if repeats > 0 else -1
        pages = max(1, -(-len(records) // self.page_size))
        if not 0 <= index < pages:
            return vpp_error(400, 9700, "Invalid pageIndex")
        window = records[index * self.page_size : (index + 1) * self.page_size]
        return json_response(
            {
                key: window,
                "currentPageIndex": index,
                "size": len(window),
                "totalPages": pages,
                "versionId": str(self.version),
                "tokenExpirationDate": "2027-08-01T00:00:00+0000",
                "uId": f"{request.tenant}-library",
            }
        )
