"""The sandbox's Microsoft Graph for Microsoft 365 licences: subscribed SKUs and users' licences.

Mounted as vendor `m365`: a tenant's Graph is `<server>/<tenant>/m365/v1.0` and its token
endpoint `<server>/<tenant>/m365/<directory id>/oauth2/v2.0/token`, served exactly as the
Intune Graph serves them (`hub.dev.sandbox.mdm.graph.GraphApp`: the same app registration,
client secret and AADSTS errors).

- `GET /v1.0/subscribedSkus`: every SKU in one page (Graph does not page it; `$top` is a
  400 there, as on the real endpoint).
- `GET /v1.0/users`: `$select` (an unknown property is a 400), `$top` (1-999, default
  100) and an `@odata.nextLink` carrying an opaque `$skiptoken`. Users without licences
  are listed too (`assignedLicenses: []`), as Graph lists every account.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hub.dev.sandbox.licences.book import HoldsLicences
from hub.dev.sandbox.mdm.credentials import intune_directory_id
from hub.dev.sandbox.mdm.graph import GraphApp, GraphCollection, graph_collection, graph_error
from hub.dev.sandbox.webserver import Request, Response, json_response

__all__ = ["M365App", "USER_PROPERTIES"]

API = "/v1.0"
SKUS = f"{API}/subscribedSkus"
USERS = f"{API}/users"
MAX_TOP = 999
#: The user properties `$select` accepts here (a subset of Graph's `user`).
USER_PROPERTIES = frozenset(
    {"id", "userPrincipalName", "assignedLicenses", "displayName", "mail", "accountEnabled"}
)
USER_COLLECTION = GraphCollection(
    USERS, "users", "user", USER_PROPERTIES, "Request_BadRequest", 100, MAX_TOP
)


class M365App(HoldsLicences, GraphApp):
    """Microsoft 365's licences in Microsoft Graph for every sandbox tenant, mounted as `m365`."""

    def routes(self) -> dict[str, Callable[[Request], Response]]:
        """The subscribed SKUs and the users, behind Graph's token check (`GraphApp`)."""
        return {SKUS: self._skus, USERS: self._users}

    def _skus(self, request: Request) -> Response:
        if "$top" in request.query:
            return graph_error(
                400, "Request_BadRequest", "The query specified in the URI is not valid."
            )
        tenant = request.tenant
        directory = intune_directory_id(tenant)
        value = [
            {
                "accountName": tenant,
                "accountId": directory,
                "appliesTo": sku.applies_to,
                "capabilityStatus": "Enabled",
                "consumedUnits": sku.consumed,
                "id": f"{directory}_{sku.sku_id}",
                "prepaidUnits": {
                    "enabled": sku.enabled,
                    "lockedOut": 0,
                    "suspended": 0,
                    "warning": 0,
                },
                "servicePlans": [],
                "skuId": sku.sku_id,
                "skuPartNumber": sku.part_number,
                "subscriptionIds": [],
            }
            for sku in self.books[tenant].skus
        ]
        context = f"{request.base_url}{API}/$metadata#subscribedSkus"
        return json_response({"@odata.context": context, "value": value})

    def _users(self, request: Request) -> Response:
        users = self.books[request.tenant].users

        def render(n: int) -> dict[str, Any]:
            user = users[n]
            return {
                "id": user.object_id,
                "userPrincipalName": user.upn,
                "displayName": "",
                "mail": user.upn,
                "accountEnabled": True,
                "assignedLicenses": [{"disabledPlans": [], "skuId": s} for s in user.sku_ids],
            }

        return graph_collection(request, USER_COLLECTION, len(users), render)
