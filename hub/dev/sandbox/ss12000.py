"""The sandbox's SS 12000:2020 API: a Swedish school owner's register, with OAuth 2.0.

Mounted as vendor `ss12000` on the sandbox web server (`/<tenant>/ss12000/...`) for the
Swedish tenants (`hub.dev.sandbox.swedish.SWEDISH_TENANTS`, e.g. `solberga`, "Solberga
kommun"), built from `hub.dev.sandbox.swedish.generate_swedish`. It serves:

    POST /oauth/token                  client credentials (HTTP basic or form)
    GET  /organisations                the huvudman and its skolenheter
    GET  /persons                      `expand=duties`, `expand=placements` embed those
    GET  /duties  /placements  /groups  (with groupMemberships)
    GET  /activities                   `expand=teachers` embeds the teachers' duties
    GET  /<collection>/<id>            one object
    GET  /deletedEntities?after=…      ids deleted since, by collection
    POST /subscriptions                webhooks: also GET, and GET/PATCH/DELETE /subscriptions/<id>

Collections answer `{"data": [...], "pageToken": "…" | null}`. `limit` sets the page size
(at most `max_limit`); the opaque `pageToken` stands for the whole query, so sending it
with a filter (`meta.modified.after`, `meta.created.before`, `expand`, `after`, ...) is
answered with 400, as the standard prescribes. `meta.modified.after/before` and
`meta.created.after/before` are inclusive.

Changes made with `SS12000Tenant.modify`, `delete` and `vanish` (or `POST
/_sandbox/ss12000/<tenant>/<action>` with `{"collection", "id", "changes", "at"}`) are
overlays: a modified object gets a new `meta.modified`, a deleted one is listed by
`/deletedEntities`, a vanished one is simply gone. `revoke_tokens` and `token_ttl` work
as for the OneRoster sandbox. A `modify` or `delete` notifies the tenant's subscriptions of
that resource type (`hub.dev.sandbox._ss12000_subscriptions`); `subscription_ttl`
(`{"seconds"}`) sets how long a subscription lasts and `expire_subscriptions` ends the
tenant's at once. Every request's query is kept in `SS12000App.queries`, so
tests can check what a client sent.

The tenants share the sandbox's OAuth client of each tenant (the `clients` that
`hub.dev.sandbox.webserver.sandbox_apps` receives), under its own secret variable in
secrets.env (`secret_env`).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections import OrderedDict, deque
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from hub.dev.sandbox._oauth import (
    TOKEN_PATH,
    oauth_source_config,
    sandbox_client_id,
    secret_variable,
)
from hub.dev.sandbox._rest import OverlaidTable, OverlaidTenant, RecordApi, control_time, iso
from hub.dev.sandbox._ss12000_subscriptions import Subscriptions
from hub.dev.sandbox.swedish import (
    SWEDISH_TENANTS,
    PersonKind,
    SwedishOwner,
    generate_swedish,
    security_marking,
)
from hub.dev.sandbox.webserver import Request, Response, json_response

__all__ = [
    "COLLECTIONS",
    "TOKEN_PATH",
    "SS12000App",
    "SS12000Tenant",
    "client_id",
    "secret_env",
    "secrets_env",
    "ss12000_source_config",
    "swedish_tenants",
    "tenant_config",
    "tenant_summary",
]

COLLECTIONS = ("organisations", "persons", "duties", "placements", "groups", "activities")
#: Query parameters that may come with a `pageToken`; anything else is a filter.
TOKEN_COMPANIONS = frozenset({"pageToken", "limit", "expandReferenceNames"})
_TIME_FILTERS = {
    "meta.modified.after": ("modified", ">="),
    "meta.modified.before": ("modified", "<="),
    "meta.created.after": ("created", ">="),
    "meta.created.before": ("created", "<="),
}
_EXPANSIONS = {"persons": {"duties", "placements"}, "activities": {"teachers"}}


def _parse_time(text: str) -> float:
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


#: The error code of each error status the API answers.
_ERROR_CODES = {
    400: "invalid_filter",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
}


def _query(request: Request) -> dict[str, list[str]]:
    """Every query parameter with all its values (`expand` may repeat)."""
    values: dict[str, list[str]] = {}
    for name, value in parse_qsl(urlsplit(request.url).query, keep_blank_values=True):
        values.setdefault(name, []).append(value)
    return values


# -- one collection ---------------------------------------------------------------------


class _Table(OverlaidTable):
    """One collection: objects rendered on demand, plus overlays of changes and deletes."""

    def __init__(
        self, name: str, count: int, render: Callable[[int, set[str]], dict[str, Any]]
    ) -> None:
        super().__init__(name, count)
        self.render = render
        self.created = [stamp - 86_400 * (1 + i % 300) for i, stamp in enumerate(self.stamps)]
        #: Objects deleted, as `/deletedEntities` tells.
        self.deleted: set[int] = set()

    def gone(self, index: int) -> bool:
        return index in self.deleted or index in self.vanished


# -- one tenant -------------------------------------------------------------------------


#: Fields the standard leaves optional that a sparse register leaves out (besides `meta`).
SPARSE_OMITS: dict[str, tuple[str, ...]] = {
    "organisations": ("organisationCode", "municipalityCode", "startDate", "endDate"),
    "persons": ("middleName", "emails", "externalIdentifiers"),
    "duties": ("signature", "dutyPercent", "hoursPerYear", "endDate"),
    "placements": ("group", "endDate"),
    "groups": ("groupCode", "schoolType", "schoolTypes", "endDate"),
    "activities": ("endDate",),
}


class SS12000Tenant(OverlaidTenant):
    """One Swedish tenant's register: rendered objects, listings and changes.

    `modify` sets top-level fields of an object; a None value removes the field. A sparse
    register (`sparse=True`) serves only what the standard requires where it can: no
    `meta` but on organisations (whose `meta` has no `modified`), and `SPARSE_OMITS` left
    out, as registers that fill only the mandatory fields do.
    """

    tables: dict[str, _Table]

    def __init__(self, owner: SwedishOwner, *, sparse: bool = False) -> None:
        super().__init__()
        self.sparse = sparse
        self.owner = owner
        self.tenant = owner.tenant
        self._listings: OrderedDict[tuple[str, str, int], list[int]] = OrderedDict()
        counts = {
            "organisations": 1 + len(owner.units),
            "persons": len(owner.people),
            "duties": len(owner.duties),
            "placements": len(owner.placements),
            "groups": len(owner.groups),
            "activities": len(owner.activities),
        }
        self.ids = {kind: [owner.uuid(kind, i) for i in range(n)] for kind, n in counts.items()}
        self._index = {kind: {v: i for i, v in enumerate(ids)} for kind, ids in self.ids.items()}
        renderers = {
            "organisations": self._organisation,
            "persons": self._person,
            "duties": self._duty,
            "placements": self._placement,
            "groups": self._group,
            "activities": self._activity,
        }
        self.tables = {kind: _Table(kind, counts[kind], renderers[kind]) for kind in COLLECTIONS}
        self._duties_of: dict[int, list[int]] = {}
        for duty in owner.duties:
            self._duties_of.setdefault(duty.person, []).append(duty.index)
        self._placements_of: dict[int, list[int]] = {}
        for placement in owner.placements:
            self._placements_of.setdefault(placement.person, []).append(placement.index)
        #: (deletedAt, collection, id) of every delete, oldest first.
        self.deletions: list[tuple[float, str, str]] = []

    # -- identifiers ------------------------------------------------------------------------

    def id_of(self, collection: str, index: int) -> str:
        """The id of object `index` of a collection (organisations: 0 is the huvudman)."""
        return self.ids[collection][index]

    def index_of(self, collection: str, object_id: str) -> int:
        """The index of the object with this id; KeyError if there is none."""
        return self._index[collection][object_id]

    def unit_id(self, unit: int) -> str:
        """The organisation id of a unit of the population."""
        return self.ids["organisations"][unit + 1]

    def count(self, collection: str) -> int:
        """How many objects a collection lists (deleted and vanished ones left out)."""
        table = self.tables[collection]
        return table.count - len(table.deleted | table.vanished)

    # -- rendering ------------------------------------------------------------------------

    def record(self, collection: str, index: int, expand: set[str] | None = None) -> dict[str, Any]:
        """One object as the API renders it, changes applied."""
        table = self.tables[collection]
        record = {
            "id": self.ids[collection][index],
            "meta": {
                "created": iso(table.created[index]),
                "modified": iso(table.stamps[index]),
            },
            **table.render(index, expand or set()),
        }
        if self.sparse:
            if collection == "organisations":
                record["meta"] = {"created": record["meta"]["created"]}
            else:
                del record["meta"]
            for name in SPARSE_OMITS[collection]:
                record.pop(name, None)
        for name, value in table.changes.get(index, {}).items():
            if value is None:
                record.pop(name, None)
            else:
                record[name] = value
        return record

    def _ref(self, collection: str, index: int) -> dict[str, str]:
        return {"id": self.ids[collection][index]}

    def _fault(self, collection: str, index: int) -> str | None:
        return self.owner.faults.get((collection, index))

    def _organisation(self, index: int, _expand: set[str]) -> dict[str, Any]:
        owner = self.owner
        if index == 0:
            return {
                "displayName": owner.name,
                "organisationType": "Huvudman",
                "organisationCode": owner.tenant.upper(),
                "organisationNumber": owner.org_number,
                "municipalityCode": owner.municipality_code,
                "email": f"info@{owner.realm}",
            }
        unit = owner.units[index - 1]
        code = "1234-567" if self._fault("organisations", unit.index) else unit.code
        return {
            "displayName": unit.name,
            "organisationType": "Skolenhet",
            "schoolUnitCode": code,
            "schoolTypes": list(unit.school_types),
            "parentOrganisation": self._ref("organisations", 0),
            "municipalityCode": owner.municipality_code,
            "startDate": "2010-07-01",
        }

    def _person(self, index: int, expand: set[str]) -> dict[str, Any]:
        person = self.owner.people[index]
        fault = self._fault("persons", index)
        civic = person.civic_no_served
        if fault == "civic_no_check_digit":
            civic = civic[:-1] + str((int(civic[-1]) + 1) % 10)
        elif fault == "civic_no_malformed":
            civic = civic[:5]
        record: dict[str, Any] = {
            "givenName": person.given_name,
            "familyName": person.family_name,
            "birthDate": person.birth_date.isoformat(),
            "civicNo": {"value": civic, "nationality": "SE"},
            "securityMarking": security_marking(index),
            "personStatus": "Aktiv",
        }
        if fault == "given_name_missing":
            del record["givenName"]
        if person.eppn:
            record["eduPersonPrincipalNames"] = [person.eppn]
        if person.email:
            kind = "Skola personal" if person.kind is PersonKind.STAFF else "Skola elev"
            record["emails"] = [{"value": person.email, "type": kind}]
        if person.employee_number:
            record["externalIdentifiers"] = [
                {
                    "value": person.employee_number,
                    "context": f"urn:x-{self.tenant}:personalsystem:anstallningsnummer",
                    "globallyUnique": False,
                }
            ]
        if person.kind is PersonKind.PUPIL and person.school_type is not None:
            start, _end = self.owner.school_year
            record["enrolments"] = [
                {
                    "enroledAt": {"id": self.unit_id(person.unit)},
                    "schoolType": person.school_type,
                    "schoolYear": person.grade,
                    "startDate": start.isoformat(),
                    "cancelled": False,
                }
            ]
        embedded: dict[str, list[dict[str, Any]]] = {}
        for name, collection, of in (
            ("duties", "duties", self._duties_of),
            ("placements", "placements", self._placements_of),
        ):
            if name in expand:
                table = self.tables[collection]
                embedded[name] = [
                    self.record(collection, i) for i in of.get(index, []) if not table.gone(i)
                ]
        if embedded:
            record["_embedded"] = embedded
        return record

    def _duty(self, index: int, _expand: set[str]) -> dict[str, Any]:
        duty = self.owner.duties[index]
        person = self.owner.people[duty.person]
        _start, end = self.owner.school_year
        record: dict[str, Any] = {
            "person": self._ref("persons", duty.person),
            "dutyAt": {"id": self.unit_id(duty.unit)},
            "dutyRole": duty.role,
            "signature": (person.given_name[:2] + person.family_name[:1]).upper(),
            "dutyPercent": duty.percent,
            "startDate": duty.start.isoformat(),
        }
        if duty.description:
            record["description"] = duty.description
        if duty.assignments:
            record["assignmentRole"] = [
                {
                    "group": self._ref("groups", group),
                    "assignmentRoleType": role,
                    "startDate": self.owner.groups[group].start.isoformat(),
                    "endDate": end.isoformat(),
                }
                for group, role in duty.assignments
            ]
        if self._fault("duties", index):
            del record["person"]
        return record

    def _placement(self, index: int, _expand: set[str]) -> dict[str, Any]:
        placement = self.owner.placements[index]
        return {
            "placedAt": {"id": self.unit_id(placement.unit)},
            "group": self._ref("groups", placement.group),
            "child": self._ref("persons", placement.person),
            "owners": [],
            "schoolType": "GR" if self._fault("placements", index) else "FS",
            "startDate": placement.start.isoformat(),
            "reason": "Eget behov",
        }

    def _group(self, index: int, _expand: set[str]) -> dict[str, Any]:
        group = self.owner.groups[index]
        people = self.tables["persons"]
        return {
            "displayName": group.name,
            "groupType": group.group_type,
            "schoolTypes": [group.school_type],
            "organisation": {"id": self.unit_id(group.unit)},
            "startDate": group.start.isoformat(),
            "endDate": group.end.isoformat(),
            "groupMemberships": [
                {
                    "person": self._ref("persons", member),
                    "startDate": group.start.isoformat(),
                    "endDate": group.end.isoformat(),
                }
                for member in group.members
                if not people.gone(member)
            ],
        }

    def _activity(self, index: int, expand: set[str]) -> dict[str, Any]:
        activity = self.owner.activities[index]
        record: dict[str, Any] = {
            "displayName": activity.name,
            "activityType": "Undervisning",
            "groups": [self._ref("groups", g) for g in activity.groups],
            "teachers": [
                {"duty": self._ref("duties", d), "startDate": activity.start.isoformat()}
                for d in activity.duties
            ],
            "organisation": {"id": self.unit_id(activity.unit)},
            "startDate": activity.start.isoformat(),
            "endDate": activity.end.isoformat(),
        }
        if "teachers" in expand:
            duties = self.tables["duties"]
            record["_embedded"] = {
                "teachers": [
                    self.record("duties", d) for d in activity.duties if not duties.gone(d)
                ]
            }
        return record

    # -- changes ----------------------------------------------------------------------------

    def delete(self, collection: str, object_id: str, *, at: datetime | None = None) -> str:
        """Delete an object: it is no longer listed, and `/deletedEntities` names it."""
        with self._lock:
            table = self.tables[collection]
            table.deleted.add(self.index_of(collection, object_id))
            table.version += 1
            stamp = (at or datetime.now(UTC)).timestamp()
            self.deletions.append((stamp, collection, object_id))
            return iso(stamp)

    # -- listing ----------------------------------------------------------------------------

    def listing(self, collection: str, filters: Mapping[str, str]) -> list[int] | range:
        """The indexes a collection request returns, in order; ValueError for a bad filter."""
        table = self.tables[collection]
        if not filters and not table.deleted and not table.vanished:
            return range(table.count)
        tests: list[Callable[[int], bool]] = []
        for name, text in sorted(filters.items()):
            field, op = _TIME_FILTERS[name]
            try:
                moment = _parse_time(text)
            except ValueError:
                raise ValueError(f"{name}: {text!r} is not an RFC 3339 date-time") from None
            stamps = table.stamps if field == "modified" else table.created
            tests.append(
                _at_or_after(stamps, moment) if op == ">=" else _at_or_before(stamps, moment)
            )
        key = (collection, json.dumps(filters, sort_keys=True), table.version)
        with self._lock:
            cached = self._listings.get(key)
            if cached is not None:
                return cached
            found = [
                i for i in range(table.count) if not table.gone(i) and all(t(i) for t in tests)
            ]
            self._listings[key] = found
            while len(self._listings) > 16:
                self._listings.popitem(last=False)
            return found

    def deleted_since(self, after: float | None) -> list[tuple[str, str]]:
        """(collection, id) of every delete on or after `after`, oldest first."""
        with self._lock:
            return [(c, i) for stamp, c, i in self.deletions if after is None or stamp >= after]


# -- the app ----------------------------------------------------------------------------


def _at_or_after(stamps: Sequence[float], moment: float) -> Callable[[int], bool]:
    return lambda i: stamps[i] >= moment


def _at_or_before(stamps: Sequence[float], moment: float) -> Callable[[int], bool]:
    return lambda i: stamps[i] <= moment


def _encode_token(state: Mapping[str, Any]) -> str:
    text = json.dumps(state, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode_token(token: str) -> dict[str, Any]:
    try:
        padded = token + "=" * (-len(token) % 4)
        state = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error):
        raise ValueError("pageToken is not one this server issued") from None
    if not isinstance(state, dict) or not {"c", "o", "l"} <= set(state):
        raise ValueError("pageToken is not one this server issued")
    return state


class SS12000App(RecordApi[SS12000Tenant]):
    """The SS 12000 API of every Swedish sandbox tenant, mounted as vendor `ss12000`."""

    realm = "ss12000"

    def __init__(
        self,
        tenants: Mapping[str, SS12000Tenant],
        *,
        clients: Mapping[str, tuple[str, str]],
        token_ttl: float = 3600.0,
        max_limit: int = 1000,
        default_limit: int = 100,
    ) -> None:
        own_clients = {t: clients[t] for t in tenants if t in clients}
        super().__init__(tenants, clients=own_clients, token_ttl=token_ttl, max_limit=max_limit)
        self.default_limit = default_limit
        #: The tenants' webhooks, notified of every change made through `change`.
        self.subscriptions = Subscriptions()
        #: (tenant, path, query parameters) of every API request, oldest first.
        self.queries: deque[tuple[str, str, tuple[tuple[str, str], ...]]] = deque(maxlen=50_000)

    @classmethod
    def generate(
        cls,
        tenants: Sequence[str],
        scale: int,
        seed: int = 1,
        *,
        clients: Mapping[str, tuple[str, str]],
        token_ttl: float = 3600.0,
        faults: bool = False,
        sparse_tenants: Collection[str] = (),
    ) -> SS12000App:
        """The app for Swedish tenants generated at `scale` pupils and staff each.

        Tenants in `sparse_tenants` are served sparse (see `SS12000Tenant`).
        """
        data = {
            t: SS12000Tenant(
                generate_swedish(t, scale, seed, faults=faults), sparse=t in sparse_tenants
            )
            for t in tenants
        }
        return cls(data, clients=clients, token_ttl=token_ttl)

    # -- requests ---------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """`/subscriptions` (any method, for a current token); everything else as usual."""
        parts = [p for p in request.path.split("/") if p]
        if parts[:1] != ["subscriptions"] or len(parts) > 2:
            return super().handle(request)
        if self.tokens.valid(request.tenant, request.headers) is None:
            response = self.error(401, "missing, invalid or expired token")
            response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
            return response
        return self._subscription_request(request, parts[1] if len(parts) == 2 else None)

    def _subscription_request(self, request: Request, subscription_id: str | None) -> Response:
        tenant, subscriptions = request.tenant, self.subscriptions
        if subscription_id is None:
            if request.method == "GET":
                listed = [s.to_json() for s in subscriptions.of(tenant)]
                return json_response({"data": listed, "pageToken": None})
            if request.method != "POST":
                return self.error(405, f"{request.method} is not allowed on /subscriptions")
            try:
                created = subscriptions.create(tenant, request.json())
            except ValueError as exc:
                return self.error(400, str(exc))
            return json_response(created.to_json(), 201)
        if request.method == "DELETE":
            if not subscriptions.delete(tenant, subscription_id):
                return self.error(404, f"no subscription {subscription_id}")
            return Response(204)
        if request.method not in ("GET", "PATCH"):
            return self.error(405, f"{request.method} is not allowed on a subscription")
        found = (
            subscriptions.renew(tenant, subscription_id)
            if request.method == "PATCH"
            else subscriptions.get(tenant, subscription_id)
        )
        if found is None:
            return self.error(404, f"no subscription {subscription_id} (or it expired)")
        return json_response(found.to_json())

    def endpoint(self, request: Request) -> Callable[[SS12000Tenant], Response] | None:
        """A collection, one object of it, or deletedEntities."""
        parts = [p for p in request.path.split("/") if p]
        if not parts or parts[0] not in (*COLLECTIONS, "deletedEntities") or len(parts) > 2:
            return None
        return lambda tenant: self._answer(request, tenant, parts)

    def error(self, status: int, message: str) -> Response:
        """The standard's error body: `{"code", "message"}`."""
        return json_response({"code": _ERROR_CODES[status], "message": message}, status)

    def _answer(self, request: Request, tenant: SS12000Tenant, parts: list[str]) -> Response:
        query = _query(request)
        self.queries.append(
            (request.tenant, request.path, tuple((k, v) for k, vs in query.items() for v in vs))
        )
        if len(parts) == 2:
            return self._one(tenant, parts[0], parts[1], query)
        try:
            state = self._state(parts[0], query)
        except ValueError as exc:
            return self.error(400, str(exc))
        if parts[0] == "deletedEntities":
            return self._deleted(tenant, state)
        return self._collection(tenant, state)

    def _state(self, collection: str, query: dict[str, list[str]]) -> dict[str, Any]:
        """The whole query as a page-token state: from the token, or from the parameters."""
        if "pageToken" in query:
            extra = sorted(set(query) - TOKEN_COMPANIONS)
            if extra:
                raise ValueError(f"pageToken cannot be combined with filters ({', '.join(extra)})")
            issued = _decode_token(query["pageToken"][-1])
            if issued["c"] != collection:
                raise ValueError("pageToken belongs to another endpoint")
            return issued
        try:
            limit = int(query.get("limit", [self.default_limit])[-1])
        except ValueError:
            raise ValueError("limit must be an integer") from None
        if limit < 1:
            raise ValueError("limit must be at least 1")
        state: dict[str, Any] = {"c": collection, "o": 0, "l": min(limit, self.max_limit)}
        if collection == "deletedEntities":
            if "after" in query:
                state["a"] = _parse_time(query["after"][-1])
            return state
        filters = {k: v[-1] for k, v in query.items() if k in _TIME_FILTERS}
        unknown = sorted(set(query) - set(_TIME_FILTERS) - TOKEN_COMPANIONS - {"expand"})
        if unknown:
            raise ValueError(f"unsupported query parameters: {', '.join(unknown)}")
        expand = {e.strip() for value in query.get("expand", []) for e in value.split(",")}
        allowed = _EXPANSIONS.get(collection, set())
        if expand - allowed:
            raise ValueError(f"cannot expand {', '.join(sorted(expand - allowed))} here")
        state["f"] = filters
        state["x"] = sorted(expand)
        return state

    def _collection(self, tenant: SS12000Tenant, state: dict[str, Any]) -> Response:
        collection, offset, limit = state["c"], state["o"], state["l"]
        try:
            indexes = tenant.listing(collection, state.get("f", {}))
        except (KeyError, ValueError) as exc:
            return self.error(400, str(exc))
        expand = set(state.get("x", []))
        window = indexes[offset : offset + limit]
        data = [tenant.record(collection, i, expand) for i in window]
        more = offset + limit < len(indexes)
        token = _encode_token({**state, "o": offset + limit}) if more else None
        return json_response({"data": data, "pageToken": token})

    def _deleted(self, tenant: SS12000Tenant, state: dict[str, Any]) -> Response:
        offset, limit = state["o"], state["l"]
        deletions = tenant.deleted_since(state.get("a"))
        grouped: dict[str, list[str]] = {}
        for collection, object_id in deletions[offset : offset + limit]:
            grouped.setdefault(collection, []).append(object_id)
        more = offset + limit < len(deletions)
        token = _encode_token({**state, "o": offset + limit}) if more else None
        return json_response({"data": grouped, "pageToken": token})

    def _one(
        self, tenant: SS12000Tenant, collection: str, object_id: str, query: dict[str, list[str]]
    ) -> Response:
        if collection == "deletedEntities":
            return self.error(404, "no such endpoint")
        try:
            index = tenant.index_of(collection, object_id)
        except KeyError:
            return self.error(404, f"no object {object_id} in {collection}")
        if tenant.tables[collection].gone(index):
            return self.error(404, f"no object {object_id} in {collection}")
        expand = {e.strip() for value in query.get("expand", []) for e in value.split(",")}
        return json_response(tenant.record(collection, index, expand))

    # -- control ----------------------------------------------------------------------------

    def change(self, target: SS12000Tenant, action: str, data: Mapping[str, Any]) -> Any:
        """Apply `modify`, `delete` or `vanish` to the object `collection` and `id` name.

        A `modify` or `delete` then notifies the tenant's subscriptions of that resource type.
        """
        if action == "subscription_ttl":
            self.subscriptions.ttl = float(data["seconds"])
            return {"subscription_ttl": self.subscriptions.ttl}
        if action == "expire_subscriptions":
            return {"expired": self.subscriptions.expire(target.tenant)}
        collection, object_id = data["collection"], data["id"]
        if collection not in COLLECTIONS:
            raise ValueError(f"unknown collection {collection!r}")
        at = control_time(data)
        if action == "modify":
            stamp = target.modify(collection, object_id, data.get("changes"), at=at)
            self.subscriptions.changed(target.tenant, collection)
            return {"modified": stamp}
        if action == "delete":
            stamp = target.delete(collection, object_id, at=at)
            self.subscriptions.changed(target.tenant, collection, deleted=True)
            return {"deleted": stamp}
        if action == "vanish":
            target.vanish(collection, object_id)
            return {"vanished": object_id}
        raise ValueError(f"unknown action {action!r}")


# -- wiring for `hub sandbox up` --------------------------------------------------------


def swedish_tenants(tenants: Sequence[str]) -> list[str]:
    """The tenants among `tenants` that are Swedish (served over SS 12000)."""
    return [t for t in tenants if t in SWEDISH_TENANTS]


def client_id(tenant: str) -> str:
    """The sandbox OAuth client id of a tenant's API."""
    return sandbox_client_id(tenant)


def secret_env(tenant: str) -> str:
    """The environment variable that holds a tenant's SS 12000 client secret."""
    return secret_variable("SS12000", tenant)


def secrets_env(home: Path, tenants: Sequence[str]) -> dict[str, str]:
    """`secrets.env` lines for the Swedish tenants' SS 12000 clients: variable → secret.

    The secret is the tenant's sandbox client secret kept in `home` (the one the web
    server's apps are given), so hub.yaml and the running server agree.
    """
    from hub.dev.sandbox.oneroster import client_credentials

    swedish = swedish_tenants(tenants)
    return {secret_env(t): secret for t, (_, secret) in client_credentials(home, swedish).items()}


def ss12000_source_config(
    tenant: str, base_url: str, *, source_id: str = "ss12000", page_size: int = 500
) -> dict[str, Any]:
    """A hub.yaml source entry for a tenant's sandbox SS 12000 API at `base_url`."""
    return oauth_source_config(
        "ss12000",
        tenant,
        base_url,
        source_id=source_id,
        secret_env=secret_env(tenant),
        page_size=page_size,
    )


def tenant_summary(tenant: str, scale: int, seed: int = 1) -> str:
    """One line for `hub sandbox up`'s summary: the Swedish tenant's units and people."""
    owner = generate_swedish(tenant, scale, seed)
    people = owner.count(PersonKind.PUPIL) + owner.count(PersonKind.STAFF)
    return (
        f"  {tenant:<12} {owner.name:<22} {len(owner.schools)} schools, "
        f"{len(owner.preschools)} preschools, {people:,} people, "
        f"{owner.count(PersonKind.CHILD):,} preschool children (SS 12000)"
    )


def tenant_config(
    tenant: str, base_url: str, *, source_id: str = "ss12000", page_size: int = 500
) -> dict[str, Any]:
    """A hub.yaml tenant entry (country SE) whose one source is its sandbox SS 12000 API."""
    return {
        "id": tenant,
        "name": SWEDISH_TENANTS.get(tenant, f"{tenant.title()} kommun"),
        "country": "SE",
        "sources": [
            ss12000_source_config(tenant, base_url, source_id=source_id, page_size=page_size)
        ],
    }
