"""The sandbox's TOPdesk: asset management (equipment) and incidents (support tickets).

Mounted as vendor `topdesk`: a tenant's TOPdesk is `<server>/<tenant>/topdesk`, the API
below `/tas/api`. Authentication is HTTP basic with an operator's login name and an
application password (`APP_USER`; the password is the tenant's `secret`).

- `GET /tas/api/version`: `{"version": "3.7.2"}` (the connection check).
- `GET /tas/api/assetmgmt/assets`: `templateName` (optional), `pageStart` (from 0),
  `pageSize` (1-1000, default 50), `fields` (comma-separated; `@assignments`, `@type`,
  `@@summary`, `@status` and the custom fields are returned only when asked for),
  `archived` (`true`: archived assets too); answers `{"dataSet": [...]}`, 200 whether or
  not more pages exist (a short page is the last). Dates are the server's local time,
  without an offset (`2025-08-19T13:49:58.187`): the sandbox's server runs in UTC+1.
- `GET /tas/api/assetmgmt/assets/{unid}`: one asset; 404 once it is gone.
- `GET /tas/api/incidents`: `pageStart`, `pageSize` (1-10000, default 10), `query`
  (FIQL; `modificationDate=gt=<ISO time>` is understood), `sort`; answers a bare JSON
  array, **206 Partial Content** while more incidents follow, 200 on the last page and
  **204 No Content** (no body) when nothing matches.
- `GET /tas/api/incidents/id/{id}`: one incident; 404 once it is gone.

Controls (`POST /_sandbox/topdesk/<tenant>/<action>`): `archive` (`unid`: the asset is
archived, so it leaves the default listing), `delete_incident` (`id`), `close_incident`
(`id`), `repeat_pages` (`times`: ignore `pageStart`, the loop a client must catch),
`password` (`secret`: a new application password).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hub.dev.sandbox._oauth import basic
from hub.dev.sandbox.equipment.register import (
    MODELS,
    Item,
    Register,
    RegisterApp,
    Ticket,
    hash_name,
)
from hub.dev.sandbox.webserver import Request, Response, error_response, json_response

__all__ = ["APP_USER", "TopdeskApp"]

APP_USER = "skolehub"
#: The sandbox server's local time zone: asset dates are written in it, without an offset.
SERVER_TIME = timezone(timedelta(hours=1))
_FIQL = re.compile(r"^modificationDate=gt=(?P<since>[0-9T:.+\-Z]+)$")
_ASSET = re.compile(r"^/tas/api/assetmgmt/assets/(?P<unid>[0-9a-f-]{36})$")
_INCIDENT = re.compile(r"^/tas/api/incidents/id/(?P<id>[0-9a-f-]{36})$")
_STATUS = {"in_use": "OPERATIONAL", "broken": "IMPACTED", "in_stock": "OPERATIONAL"}


def _id(tenant: str, kind: str, number: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"topdesk:{tenant}:{kind}:{number}"))


def _local(moment: datetime) -> str:
    return moment.astimezone(SERVER_TIME).replace(tzinfo=None).isoformat(timespec="milliseconds")


def _topdesk_time(moment: datetime | None) -> str | None:
    """TOPdesk's incident time: `2024-01-03T09:12:00.000+0000`."""
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + "000+0000"


class TopdeskApp(RegisterApp):
    """TOPdesk's asset management and incident APIs for generated tenants."""

    def __init__(self, registers: Mapping[str, Register], secrets: Mapping[str, str]) -> None:
        super().__init__(registers)
        self.secrets = dict(secrets)
        self.archived: dict[str, set[int]] = {t: set() for t in registers}
        self.deleted: dict[str, set[int]] = {t: set() for t in registers}
        self.closed: dict[str, dict[int, datetime]] = {t: {} for t in registers}
        #: The query of every incidents request, in order (what the tests check).
        self.incident_queries: list[dict[str, str]] = []

    def handle(self, request: Request) -> Response:
        """Answer one request below `/<tenant>/topdesk`."""
        tenant = request.tenant
        if tenant not in self.registers:
            return error_response(404, "no such TOPdesk")
        if basic(request.headers) != (APP_USER, self.secrets.get(tenant)):
            return json_response([{"message": "Login failed, invalid credentials."}], 401)
        path = request.path.rstrip("/")
        if path == "/tas/api/version":
            return json_response({"version": "3.7.2"})
        if path == "/tas/api/assetmgmt/assets":
            return self._assets(request)
        if path == "/tas/api/incidents":
            return self._incidents(request)
        if found := _ASSET.match(path):
            item = self._item(tenant, found["unid"])
            if item is None:
                return json_response({"errors": [{"errorCode": "notFound"}]}, 404)
            return json_response(self._asset(tenant, item, None))
        if found := _INCIDENT.match(path):
            ticket = self._ticket(tenant, found["id"])
            if ticket is None:
                return json_response([{"message": "No incident found."}], 404)
            return json_response(self._incident(tenant, ticket))
        return json_response([{"message": "Not found"}], 404)

    # -- assets ---------------------------------------------------------------------------

    def _window(self, request: Request, default: int, maximum: int) -> tuple[int, int] | None:
        try:
            start = int(request.query.get("pageStart", 0))
            size = int(request.query.get("pageSize", default))
        except ValueError:
            return None
        if start < 0 or not 1 <= size <= maximum:
            return None
        if self.repeating(request.tenant):
            start = 0
        return start, size

    def _assets(self, request: Request) -> Response:
        window = self._window(request, 50, 1000)
        if window is None:
            return json_response({"errors": [{"errorCode": "invalidParameter"}]}, 400)
        start, size = window
        tenant = request.tenant
        register = self.registers[tenant]
        template = request.query.get("templateName")
        archived = request.query.get("archived") == "true"
        fields = {f.strip() for f in request.query.get("fields", "").split(",") if f.strip()}
        chosen = [
            item
            for item in register.items
            if (template is None or register.template(item.kind) == template)
            and (archived or item.number not in self.archived[tenant])
        ]
        page = chosen[start : start + size]
        return json_response({"dataSet": [self._asset(tenant, i, fields) for i in page]})

    def _item(self, tenant: str, unid: str) -> Item | None:
        for item in self.registers[tenant].items:
            if _id(tenant, "asset", item.number) == unid:
                return None if item.number in self.archived[tenant] else item
        return None

    def _asset(self, tenant: str, item: Item, fields: set[str] | None) -> dict[str, Any]:
        register = self.registers[tenant]
        manufacturer, model = MODELS[item.kind]
        archived = item.number in self.archived[tenant]
        record: dict[str, Any] = {
            "unid": _id(tenant, "asset", item.number),
            "name": f"{register.template(item.kind)[:3].upper()}-{item.number:05d}",
            "archived": archived,
            "modificationDate": _local(item.modified),
            "type_id": _id(tenant, "template", len(item.kind)),
        }
        extra: dict[str, Any] = {
            "@type": {"name": register.template(item.kind), "icon": "beamer"},
            "@assignments": {
                "locations": [
                    {
                        "branch": {"id": _id(tenant, "branch", hash_name(item.school)),
                                   "name": item.school},
                        "location": {"id": _id(tenant, "room", item.number),
                                     "name": f"Rom {item.room}" if item.room.isdigit()
                                     else item.room},
                    }
                ],
                "persons": [],
            },
            "@@summary": f"{manufacturer} {model}",
            "@status": _STATUS[item.status],
            "serial-number": item.serial,
            "purchase-date": item.purchased_on.isoformat(),
            "purchase-price": item.cost,
            "broken": item.status == "broken",
        }  # fmt: skip
        if fields is None:
            return {**record, **extra}
        return {**record, **{k: v for k, v in extra.items() if k in fields}}

    # -- incidents ------------------------------------------------------------------------

    def _incidents(self, request: Request) -> Response:
        self.incident_queries.append(dict(request.query))
        window = self._window(request, 10, 10_000)
        if window is None:
            return json_response([{"message": "Invalid pageStart or pageSize"}], 400)
        start, size = window
        tenant = request.tenant
        since: datetime | None = None
        if "query" in request.query:
            found = _FIQL.match(request.query["query"])
            if found is None:
                return json_response([{"message": "Invalid FIQL query"}], 400)
            since = datetime.fromisoformat(found["since"].replace("Z", "+00:00"))
        chosen = [
            t
            for t in self.registers[tenant].tickets
            if t.number not in self.deleted[tenant]
            and (since is None or self._modified(tenant, t) > since)
        ]
        page = chosen[start : start + size]
        if not page:
            return Response(204)
        more = start + size < len(chosen)
        return json_response([self._incident(tenant, t) for t in page], 206 if more else 200)

    def _ticket(self, tenant: str, incident_id: str) -> Ticket | None:
        for ticket in self.registers[tenant].tickets:
            if _id(tenant, "incident", ticket.number) == incident_id:
                return None if ticket.number in self.deleted[tenant] else ticket
        return None

    def _modified(self, tenant: str, ticket: Ticket) -> datetime:
        return self.closed[tenant].get(ticket.number, ticket.modified)

    def _incident(self, tenant: str, ticket: Ticket) -> dict[str, Any]:
        closed_at = self.closed[tenant].get(ticket.number) or ticket.closed
        completed_at = ticket.completed or (closed_at if closed_at else None)
        year = ticket.called.strftime("%y%m")
        return {
            "id": _id(tenant, "incident", ticket.number),
            "status": "firstLine",
            "number": f"I {year} {ticket.number:03d}",
            "request": "Projektoren i rommet virker ikke.",
            "briefDescription": "Projektor",
            "caller": {
                "id": _id(tenant, "person", ticket.caller),
                "dynamicName": "Elev Eksempel",
                "email": f"user{ticket.caller}@example.invalid",
                "branch": {
                    "id": _id(tenant, "branch", hash_name(ticket.school)),
                    "name": ticket.school,
                },
            },  # fmt: skip
            "branch": {
                "id": _id(tenant, "branch", hash_name(ticket.school)),
                "name": ticket.school,
            },
            "location": None,
            "category": {
                "id": _id(tenant, "category", len(ticket.category)),
                "name": ticket.category,
            },  # fmt: skip
            "subcategory": None,
            "callDate": _topdesk_time(ticket.called),
            "creationDate": _topdesk_time(ticket.called),
            "modificationDate": _topdesk_time(self._modified(tenant, ticket)),
            "completed": completed_at is not None,
            "completedDate": _topdesk_time(completed_at),
            "closed": closed_at is not None,
            "closedDate": _topdesk_time(closed_at),
            "processingStatus": {"id": "x", "name": "Closed" if closed_at else "In progress"},
        }

    # -- controls -------------------------------------------------------------------------

    def control(self, tenant: str, action: str, payload: Any) -> Any:
        """Archive an asset, delete or close an incident, repeat pages, change the password."""
        data = payload or {}
        if action == "archive":
            item = self._item(tenant, data["unid"])
            if item is None:
                raise KeyError(data["unid"])
            self.archived[tenant].add(item.number)
        elif action in ("delete_incident", "close_incident"):
            ticket = self._ticket(tenant, data["id"])
            if ticket is None:
                raise KeyError(data["id"])
            if action == "delete_incident":
                self.deleted[tenant].add(ticket.number)
            else:
                self.closed[tenant][ticket.number] = datetime.now(UTC).replace(microsecond=0)
        elif action == "repeat_pages":
            self.repeat_pages(tenant, int(data.get("times", 1)))
        elif action == "password":
            self.secrets[tenant] = str(data["secret"])
        else:
            raise KeyError(action)
        return {"ok": True}
