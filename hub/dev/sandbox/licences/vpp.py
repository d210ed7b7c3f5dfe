"""The sandbox's Apple Apps and Books for Organizations (App and Book Management API v2).

Mounted as vendor `vpp`: a tenant's API is `<server>/<tenant>/vpp/mdm/v2`, authenticated
by the location's content token (`Authorization: Bearer <sToken>`).

- `GET /mdm/v2/assets` and `GET /mdm/v2/assignments`: pages of `page_size` records,
  numbered from 0 by `pageIndex`, each saying `currentPageIndex`, `size`, `totalPages`,
  `versionId`, `tokenExpirationDate` and `uId`, as Apple's do; `nextPageIndex` only when a
  page follows. A page index past the last is a 400 (`errorNumber` 9700).
- Versions: each tenant's library has a `versionId` (an opaque UUID) that moves with every
  change (`assign`, `revoke`). `assignments` takes `sinceVersionId`: the current
  assignments changed after that version, possibly none (an empty page, not an error).
  A revoked assignment is no longer current, so a since-version answer does not list it,
  as Apple's documents nothing that would mark one removed. A version the library never
  gave is a 400 with `errorNumber` 9602 (Apple's "Invalid argument"; Apple documents a 400
  for Get Assignments but no error of its own for an unknown version).
  `assignments` also takes the filters `adamId` and `serialNumber`.
- `assign(tenant, assignment)` and `revoke(tenant, adam_id, holder)` (controls `assign`,
  `revoke`) change the library as an MDM's Associate and Disassociate Assets would, the
  asset's counts with it.
- A wrong or revoked token is a 401 with `errorNumber` 9622; `revoke_token` (control)
  revokes the tenant's current token, as renewing it in Apple School Manager does.
- `repeat_pages(tenant, times)`: the server ignores `pageIndex` and serves the first page
  again, the loop a client must detect on a page-numbered API.
"""

from __future__ import annotations

import dataclasses
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from hub.dev.sandbox._oauth import bearer
from hub.dev.sandbox.licences.book import HoldsLicences, VppAssignment
from hub.dev.sandbox.mdm.fleet import Fleet
from hub.dev.sandbox.webserver import Request, Response, json_response

__all__ = ["VppApp"]

API = "/mdm/v2"
ASSETS = f"{API}/assets"
ASSIGNMENTS = f"{API}/assignments"


def holder(assignment: VppAssignment) -> str:
    """Who holds an assignment: the serial number, else the `clientUserId`."""
    return assignment.serial or assignment.client_user_id or ""


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
        #: Per tenant: the library's version number, and the number each assignment
        #: (adamId, pricingParam, holder) last changed at; every one starts at 1.
        self.versions: dict[str, int] = {t: 1 for t in self.tenants}
        self._changed: dict[str, dict[tuple[str, str, str], int]] = {t: {} for t in self.tenants}
        self._repeats: dict[str, int] = {}
        self._lock = threading.Lock()

    def version_id(self, tenant: str, number: int | None = None) -> str:
        """The opaque `versionId` of a version of the tenant's library (now: the current)."""
        number = self.versions[tenant] if number is None else number
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"vpp:{tenant}:version:{number}"))

    def _version_number(self, tenant: str, version_id: str) -> int | None:
        for number in range(self.versions[tenant], 0, -1):
            if self.version_id(tenant, number) == version_id:
                return number
        return None

    def assign(self, tenant: str, assignment: VppAssignment) -> str:
        """Assign a licence (Associate Assets); returns the library's new `versionId`."""
        book = self.books[tenant]
        with self._lock:
            book.assignments.append(assignment)
            self._count(tenant, assignment, +1)
            return self._changed_now(tenant, assignment)

    def revoke(self, tenant: str, adam_id: str, holder_id: str) -> str:
        """Take a licence back (Disassociate Assets); returns the new `versionId`."""
        book = self.books[tenant]
        with self._lock:
            (gone,) = [
                a for a in book.assignments if (a.adam_id, holder(a)) == (adam_id, holder_id)
            ]
            book.assignments.remove(gone)
            self._count(tenant, gone, -1)
            return self._changed_now(tenant, gone)

    def _count(self, tenant: str, assignment: VppAssignment, step: int) -> None:
        assets = self.books[tenant].assets
        for n, asset in enumerate(assets):
            if (asset.adam_id, asset.pricing) == (assignment.adam_id, assignment.pricing):
                assets[n] = dataclasses.replace(asset, assigned=max(asset.assigned + step, 0))

    def _changed_now(self, tenant: str, assignment: VppAssignment) -> str:
        self.versions[tenant] += 1
        key = (assignment.adam_id, assignment.pricing, holder(assignment))
        self._changed[tenant][key] = self.versions[tenant]
        return self.version_id(tenant)

    def repeat_pages(self, tenant: str, times: int = 1) -> None:
        """Serve the first page for the next `times` page requests (-1: always)."""
        self._repeats[tenant] = times

    def revoke_token(self, tenant: str) -> None:
        """The tenant's token no longer works (a new one was downloaded)."""
        self._tokens[tenant] = ""

    def control(self, tenant: str, action: str, payload: Any) -> Any:
        """`revoke_token`, `assign` (an assignment's fields) and `revoke` (adamId, holder)."""
        if action == "revoke_token":
            self.revoke_token(tenant)
            return {"revoked": True}
        if action == "assign":
            try:
                assignment = VppAssignment(**payload)
            except TypeError:
                raise ValueError("assign takes adam_id, pricing, serial, client_user_id") from None
            return {"versionId": self.assign(tenant, assignment)}
        if action == "revoke":
            return {"versionId": self.revoke(tenant, payload["adam_id"], payload["holder"])}
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
            return self._page(request, "assets", book.assets, _asset_record)
        if request.path == ASSIGNMENTS:
            query = request.query
            since = query.get("sinceVersionId")
            after = 0
            if since is not None:
                found = self._version_number(request.tenant, since)
                if found is None:
                    return vpp_error(400, 9602, "Invalid argument")
                after = found
            changed = self._changed[request.tenant]
            adam_id, serial = query.get("adamId"), query.get("serialNumber")
            chosen: Sequence[VppAssignment] = book.assignments
            if since is not None or adam_id is not None or serial is not None:
                chosen = [
                    a
                    for a in book.assignments
                    if adam_id in (None, a.adam_id)
                    and serial in (None, a.serial)
                    and changed.get((a.adam_id, a.pricing, holder(a)), 1) > after
                ]
            return self._page(request, "assignments", chosen, _assignment_record)
        return vpp_error(404, 9600, "Resource not found")

    def _page(
        self,
        request: Request,
        key: str,
        records: Sequence[Any],
        shape: Callable[[Any], dict[str, Any]],
    ) -> Response:
        """One page of `records`, each shaped as Apple's JSON only when it is on the page.

        Shaping only the page's records keeps a page's cost independent of the library's
        size (shaping all of them for every page made a full read quadratic).
        """
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
        following = {"nextPageIndex": index + 1} if index + 1 < pages else {}
        return json_response(
            {
                key: [shape(r) for r in window],
                "currentPageIndex": index,
                **following,
                "size": len(window),
                "totalPages": pages,
                "versionId": self.version_id(request.tenant),
                "tokenExpirationDate": "2027-08-01T00:00:00+0000",
                "uId": f"{request.tenant}-library",
            }
        )


def _asset_record(a: Any) -> dict[str, Any]:
    """An asset as Get Assets lists it."""
    return {
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


def _assignment_record(a: VppAssignment) -> dict[str, Any]:
    """An assignment as Get Assignments lists it: a device's serial or a user's client id."""
    return {
        "adamId": a.adam_id,
        "pricingParam": a.pricing,
        **({"serialNumber": a.serial} if a.serial else {}),
        **({"clientUserId": a.client_user_id} if a.client_user_id else {}),
    }
