"""The sandbox's Google Workspace License Manager API (`licensing/v1`).

Mounted as vendor `licensing`: a tenant's token endpoint is `<server>/<tenant>/licensing/
token`, served as the Google Admin sandbox serves it (`GoogleAdminApp`: the same service
account, delegated administrator and JWT grant checks) for the scope
`https://www.googleapis.com/auth/apps.licensing`, and the API
`<server>/<tenant>/licensing/apps/licensing/v1/...`:

- `GET /product/{productId}/sku/{skuId}/users` and `GET /product/{productId}/users`:
  `customerId` (required: the tenant's domain or customer id, else a 400),
  `maxResults` (1-1000, default 100) and an opaque, tamper-checked `pageToken` /
  `nextPageToken`; an unknown product is a 400 `invalid` (as Google answers it), a page
  of a product without licences `{"kind": ..., "etag": ...}` without `items`.
"""

from __future__ import annotations

import re
from typing import Any

from hub.dev.sandbox.licences.book import HoldsLicences
from hub.dev.sandbox.mdm.credentials import LICENSING_SCOPE, google_customer_id
from hub.dev.sandbox.mdm.google import GoogleAdminApp, google_error
from hub.dev.sandbox.webserver import Request, Response, json_response

__all__ = ["LICENSING_SCOPE", "LicensingApp"]

USERS = re.compile(r"^/apps/licensing/v1/product/([^/]+)(?:/sku/([^/]+))?/users$")
MAX_RESULTS = 1000


class LicensingApp(HoldsLicences, GoogleAdminApp):
    """Google's License Manager for every sandbox tenant, mounted as `licensing`."""

    scope = LICENSING_SCOPE

    def handle(self, request: Request) -> Response:
        """The token endpoint and the licence assignments."""
        if request.path == "/token":
            return super().handle(request)
        match = USERS.match(request.path)
        if request.method != "GET" or match is None:
            return google_error(404, "notFound", f"Method not found: {request.path}")
        refused = self.refuse(request)
        if refused is not None:
            return refused
        tenant = request.tenant
        customer = request.query.get("customerId", "")
        domain = self.fleets[tenant].owner.workspace_domain
        if customer not in (domain, google_customer_id(tenant)):
            return google_error(400, "invalid", "Invalid customerId")
        product, sku = match.group(1), match.group(2)
        book = self.books[tenant]
        known = {g.product_id for g in book.google}
        if product not in known:
            return google_error(400, "invalid", f"Invalid productId: {product}")
        items = [
            g for g in book.google if g.product_id == product and (sku is None or g.sku_id == sku)
        ]
        try:
            limit = int(request.query.get("maxResults", 100))
            offset = self.page_offset(tenant, request.query.get("pageToken"))
        except ValueError:
            return google_error(400, "invalid", "Invalid pageToken or maxResults")
        if not 1 <= limit <= MAX_RESULTS:
            return google_error(400, "invalid", f"maxResults must be 1-{MAX_RESULTS}")
        window = items[offset : offset + limit]
        body: dict[str, Any] = {"kind": "licensing#licenseAssignmentList", "etag": '"e1"'}
        if window:
            body["items"] = [
                {
                    "kind": "licensing#licenseAssignment",
                    "etags": '"e2"',
                    "selfLink": f"{request.base_url}/apps/licensing/v1/product/{g.product_id}"
                    f"/sku/{g.sku_id}/user/{g.user_id}",
                    "userId": g.user_id,
                    "productId": g.product_id,
                    "skuId": g.sku_id,
                    "skuName": g.sku_name,
                    "productName": g.product_name,
                }
                for g in window
            ]
        if offset + limit < len(items):
            body["nextPageToken"] = self.page_token(tenant, offset + limit)
        return json_response(body)
