"""The sandbox's Snipe-IT: the open-source asset register's hardware API.

Mounted as vendor `snipeit`: a tenant's Snipe-IT is `<server>/<tenant>/snipeit`, the API
below `/api/v1`, authenticated with a personal access token (`Authorization: Bearer`).

- `GET /api/v1/hardware`: `limit`, `offset`, `sort`, `order`; answers
  `{"total": N, "rows": [...]}`. A `limit` above the server's `max_results` (500, as
  Snipe-IT's `API_MAX_RESULTS` defaults) silently returns only that many rows.
- `GET /api/v1/hardware/{id}`: one asset. A missing one answers **HTTP 200** with
  `{"status": "error", "messages": "Asset does not exist.", "payload": null}`, as Snipe-IT
  does for most errors (a bad parameter too); only a missing or wrong token is a 401.
- Names come HTML-escaped (`Rom 104 &amp; 105`, `Promethean ActivPanel 75&quot;`), prices are
  formatted strings (`"1,234.56"`, sometimes with a currency symbol: `"kr 6 500,00"`),
  dates are objects (`{"date": "2024-02-01", "formatted": "01.02.2024"}`).

Controls (`POST /_sandbox/snipeit/<tenant>/<action>`): `delete` (`id`: soft-deleted, it
leaves the listing), `error_200` (`times`: the next listing requests answer an error with
HTTP 200), `repeat_pages` (`times`: ignore `offset`), `max_results` (`value`).
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from typing import Any

from hub.dev.sandbox._oauth import bearer
from hub.dev.sandbox.equipment.register import MODELS, Item, Register, RegisterApp, hash_name
from hub.dev.sandbox.webserver import Request, Response, json_response

__all__ = ["SnipeItApp"]

_BY_ID = re.compile(r"^/api/v1/hardware/(?P<id>\d+)$")
_STATUS = {
    "in_use": ("Deployed", "deployable", "deployed"),
    "in_stock": ("Ready to Deploy", "deployable", "deployable"),
    "broken": ("Out for Repair", "undeployable", "undeployable"),
}


def _error(messages: Any) -> Response:
    """Snipe-IT's error, with HTTP 200."""
    return json_response({"status": "error", "messages": messages, "payload": None})


def _price(item: Item) -> str:
    """A price as Snipe-IT formats it: thousands separated, sometimes with a currency."""
    text = f"{item.cost:,.2f}"
    if item.number % 5 == 0:
        return "kr " + text.replace(",", " ").replace(".", ",")
    return text


class SnipeItApp(RegisterApp):
    """Snipe-IT's hardware API for generated tenants."""

    def __init__(self, registers: Mapping[str, Register], tokens: Mapping[str, str]) -> None:
        super().__init__(registers)
        self.tokens = dict(tokens)
        self.max_results = 500
        self.deleted: dict[str, set[int]] = {t: set() for t in registers}
        self._errors: dict[str, int] = {}

    def handle(self, request: Request) -> Response:
        """Answer one request below `/<tenant>/snipeit`."""
        tenant = request.tenant
        if tenant not in self.registers:
            return json_response({"status": "error", "messages": "Not found"}, 404)
        if bearer(request.headers) != self.tokens.get(tenant):
            return json_response({"status": "error", "messages": "Unauthorized."}, 401)
        path = request.path.rstrip("/")
        if path == "/api/v1/hardware":
            return self._hardware(request)
        if found := _BY_ID.match(path):
            number = int(found["id"])
            items = self.registers[tenant].items
            if not 1 <= number <= len(items) or number in self.deleted[tenant]:
                return _error("Asset does not exist.")
            return json_response(self._row(tenant, items[number - 1]))
        return json_response({"status": "error", "messages": "Not found"}, 404)

    def _hardware(self, request: Request) -> Response:
        tenant = request.tenant
        if self._errors.get(tenant, 0):
            self._errors[tenant] -= 1
            return _error("Too many requests; the database is busy.")
        try:
            limit = int(request.query.get("limit", 50))
            offset = int(request.query.get("offset", 0))
        except ValueError:
            return _error({"limit": ["The limit must be an integer."]})
        if limit < 1 or offset < 0:
            return _error({"offset": ["The offset must be at least 0."]})
        if request.query.get("sort", "id") not in ("id", "created_at", "asset_tag"):
            return _error({"sort": ["The selected sort is invalid."]})
        if self.repeating(tenant):
            offset = 0
        rows = [i for i in self.registers[tenant].items if i.number not in self.deleted[tenant]]
        if request.query.get("order") == "desc":
            rows.reverse()
        page = rows[offset : offset + min(limit, self.max_results)]
        return json_response({"total": len(rows), "rows": [self._row(tenant, i) for i in page]})

    def _row(self, tenant: str, item: Item) -> dict[str, Any]:
        register = self.registers[tenant]
        manufacturer, model = MODELS[item.kind]
        label, status_type, meta = _STATUS[item.status]
        room = f"Rom {item.room}" if item.room.isdigit() else item.room
        return {
            "id": item.number,
            "name": html.escape(f"{register.template(item.kind)} {room}"),
            "asset_tag": f"{tenant[:3].upper()}-{item.number:05d}",
            "serial": item.serial,
            "model": {"id": len(item.kind), "name": html.escape(model)},
            "model_number": None,
            "status_label": {"id": 1, "name": label, "status_type": status_type,
                             "status_meta": meta},
            "category": {"id": len(item.kind), "name": html.escape(register.template(item.kind))},
            "manufacturer": {"id": len(manufacturer), "name": manufacturer},
            "company": None,
            "location": {"id": hash_name(item.school) % 1000, "name": html.escape(item.school)},
            "rtd_location": {"id": hash_name(item.school) % 1000, "name": html.escape(item.school)},
            "notes": "Kj&oslash;pt via rammeavtale",
            "order_number": f"PO-{item.number:06d}",
            "purchase_date": {"date": item.purchased_on.isoformat(),
                              "formatted": item.purchased_on.strftime("%d.%m.%Y")},
            "purchase_cost": _price(item),
            "assigned_to": None,
            "custom_fields": {"Room": {"field": "_snipeit_room_3", "value": html.escape(room),
                                       "field_format": "ANY"}},
            "created_at": {"datetime": "2023-01-01 08:00:00", "formatted": "01.01.2023 08:00"},
            "updated_at": {"datetime": item.modified.strftime("%Y-%m-%d %H:%M:%S"),
                           "formatted": item.modified.strftime("%d.%m.%Y %H:%M")},
            "deleted_at": None,
        }  # fmt: skip

    def control(self, tenant: str, action: str, payload: Any) -> Any:
        """Delete an asset, answer errors with HTTP 200, repeat pages, change the row cap."""
        data = payload or {}
        if action == "delete":
            self.deleted[tenant].add(int(data["id"]))
        elif action == "error_200":
            self._errors[tenant] = int(data.get("times", 1))
        elif action == "repeat_pages":
            self.repeat_pages(tenant, int(data.get("times", 1)))
        elif action == "max_results":
            self.max_results = int(data["value"])
        else:
            raise KeyError(action)
        return {"ok": True}
