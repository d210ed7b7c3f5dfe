"""The sandbox's Microsoft Graph for Microsoft 365 licences: subscribed SKUs and users' licences.

Mounted as vendor `m365`: a tenant's Graph is `<server>/<tenant>/m365/v1.0` and its token
endpoint `<server>/<tenant>/m365/<directory id>/oauth2/v2.0/token`, served exactly as the
Intune Graph serves them (`hub.dev.sandbox.mdm.graph.GraphApp`: the same app registration,
client secret and AADSTS errors).

- `GET /v1.0/subscribedSkus`: every SKU in one page (Graph does not page it; `$top` is a
  400 there, as on the real endpoint).
- `GET /v1.0/users`: `$select` (an unknown property is a 400), `$top` (1-999, default
  100) and an `@odata.nextLink` carrying an opaque `$skiptoken`.
- `GET /v1.0/users/delta`: a delta round. Without a token, every user in pages of
  `delta_page_size` (`@odata.nextLink` with a `$skiptoken`), the last page carrying an
  `@odata.deltaLink` with a `$deltatoken`; with that token, the users changed since, each
  with every selected property (Graph's default answer), and `{"id": …, "@removed":
  {"reason": "changed"|"deleted"}}` for a user deleted since. The `$select` of the first
  request is sealed into the tokens, as Graph encodes it: a request that sends `$select`
  beside a token, or `$top` at all (Graph's users' delta takes neither), is a 400. A
  forged or expired token is a 400 `syncStateNotFound`; after a reset, a 410 whose
  `Location` is the round's start with an empty `$deltatoken`.

Changes (`POST /_sandbox/m365/<tenant>/<action>`, or the methods of the same name):
`assign {user, sku}` and `unassign {user, sku}` (the user's object id and a `skuId`; the
SKU's `consumedUnits` follows), `remove_user {user, permanently}` (`@removed` with reason
`changed`, or `deleted` when permanently), `expire_delta_tokens` (every token given so far
answers 400) and `reset_delta` (every token given so far answers 410); plus the Intune
app's `revoke_tokens` and `token_ttl`.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from hub.dev.sandbox._rest import signed_token, signed_value
from hub.dev.sandbox.licences.book import HoldsLicences, MicrosoftUser
from hub.dev.sandbox.mdm.credentials import intune_directory_id
from hub.dev.sandbox.mdm.graph import GraphApp, GraphCollection, graph_collection, graph_error
from hub.dev.sandbox.webserver import Request, Response, json_response

__all__ = ["M365App", "USER_PROPERTIES"]

API = "/v1.0"
SKUS = f"{API}/subscribedSkus"
USERS = f"{API}/users"
USERS_DELTA = f"{API}/users/delta"
MAX_TOP = 999
#: The user properties `$select` accepts here (a subset of Graph's `user`).
USER_PROPERTIES = frozenset(
    {"id", "userPrincipalName", "assignedLicenses", "displayName", "mail", "accountEnabled"}
)
USER_COLLECTION = GraphCollection(
    USERS, "users", "user", USER_PROPERTIES, "Request_BadRequest", 100, MAX_TOP
)
#: The selectable properties in a fixed order: a `$select` is sealed into tokens as a mask.
_SELECTABLE = tuple(sorted(USER_PROPERTIES))
_MASKS = 1 << len(_SELECTABLE)
#: Room for an offset in a `$skiptoken`.
_OFFSETS = 10**8


@dataclass
class _DeltaLog:
    """One tenant's user changes, numbered, and the tokens Graph no longer honours."""

    #: Raised by every change; a delta token names the sequence it was given at.
    sequence: int = 0
    #: Object id → sequence of its last change (licences assigned or taken back).
    changed: dict[str, int] = field(default_factory=dict)
    #: Object id → (sequence, `@removed` reason) of a deleted user.
    removed: dict[str, tuple[int, str]] = field(default_factory=dict)
    #: Tokens given before these sequences answer 400 (expired) and 410 (reset).
    expired_before: int = 0
    reset_before: int = 0

    def bump(self) -> int:
        """The next sequence number."""
        self.sequence += 1
        return self.sequence


class M365App(HoldsLicences, GraphApp):
    """Microsoft 365's licences in Microsoft Graph for every sandbox tenant, mounted as `m365`."""

    #: Users per page of a delta round (Graph chooses its own; `$top` is not taken).
    delta_page_size = 100

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deltas = {tenant: _DeltaLog() for tenant in self.tenants}
        self._lock = threading.Lock()

    def routes(self) -> dict[str, Callable[[Request], Response]]:
        """The subscribed SKUs, the users and their delta, behind Graph's token check."""
        return {SKUS: self._skus, USERS: self._users, USERS_DELTA: self._users_delta}

    # -- changes ----------------------------------------------------------------------------

    def assign(self, tenant: str, user_id: str, sku_id: str) -> int:
        """Assign a licence of a subscribed SKU to a user; returns the change's sequence."""
        return self._relicense(tenant, user_id, sku_id, +1)

    def unassign(self, tenant: str, user_id: str, sku_id: str) -> int:
        """Take a user's licence back; returns the change's sequence."""
        return self._relicense(tenant, user_id, sku_id, -1)

    def remove_user(self, tenant: str, user_id: str, *, permanently: bool = False) -> int:
        """Delete a user (restorable, or for good); their licences are freed."""
        book = self.books[tenant]
        with self._lock:
            user = self._user(tenant, user_id)
            book.users.remove(user)
            for sku in user.sku_ids:
                self._count(tenant, sku, -1)
            log = self._deltas[tenant]
            sequence = log.bump()
            log.changed.pop(user_id, None)
            log.removed[user_id] = (sequence, "deleted" if permanently else "changed")
            return sequence

    def expire_delta_tokens(self, tenant: str) -> None:
        """Every delta and skip token given so far answers 400 `syncStateNotFound`."""
        with self._lock:
            log = self._deltas[tenant]
            log.expired_before = log.bump()

    def reset_delta(self, tenant: str) -> None:
        """Every token given so far answers 410 Gone: the client must start a new round."""
        with self._lock:
            log = self._deltas[tenant]
            log.reset_before = log.bump()

    def control(self, tenant: str, action: str, payload: Any) -> Any:
        """`assign`, `unassign`, `remove_user`, `expire_delta_tokens`, `reset_delta`, tokens."""
        data = payload or {}
        answer = self.control_tokens(tenant, action, data)
        if answer is not None:
            return answer
        if action in ("assign", "unassign"):
            change = self.assign if action == "assign" else self.unassign
            return {"sequence": change(tenant, str(data["user"]), str(data["sku"]))}
        if action == "remove_user":
            permanently = bool(data.get("permanently", False))
            return {
                "sequence": self.remove_user(tenant, str(data["user"]), permanently=permanently)
            }
        if action == "expire_delta_tokens":
            self.expire_delta_tokens(tenant)
            return {"expired": True}
        if action == "reset_delta":
            self.reset_delta(tenant)
            return {"reset": True}
        raise ValueError(f"unknown action {action!r}")

    def _relicense(self, tenant: str, user_id: str, sku_id: str, step: int) -> int:
        book = self.books[tenant]
        with self._lock:
            if sku_id not in {s.sku_id for s in book.skus}:
                raise ValueError(f"no subscribed SKU {sku_id}")
            user = self._user(tenant, user_id)
            holds = sku_id in user.sku_ids
            if holds == (step > 0):
                raise ValueError(
                    f"the user {'already holds' if holds else 'does not hold'} {sku_id}"
                )
            skus = (
                (*user.sku_ids, sku_id)
                if step > 0
                else tuple(s for s in user.sku_ids if s != sku_id)
            )
            book.users[book.users.index(user)] = dataclasses.replace(user, sku_ids=skus)
            self._count(tenant, sku_id, step)
            log = self._deltas[tenant]
            sequence = log.changed[user_id] = log.bump()
            return sequence

    def _user(self, tenant: str, user_id: str) -> MicrosoftUser:
        for user in self.books[tenant].users:
            if user.object_id == user_id:
                return user
        raise ValueError(f"no user {user_id}")

    def _count(self, tenant: str, sku_id: str, step: int) -> None:
        skus = self.books[tenant].skus
        for n, sku in enumerate(skus):
            if sku.sku_id == sku_id:
                skus[n] = dataclasses.replace(sku, consumed=max(sku.consumed + step, 0))

    # -- requests ---------------------------------------------------------------------------

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
        return graph_collection(request, USER_COLLECTION, len(users), lambda n: _user(users[n]))

    def _users_delta(self, request: Request) -> Response:
        query = request.query
        token = query.get("$deltatoken") or query.get("$skiptoken")
        if "$top" in query or (token and "$select" in query):
            unsupported = "$top" if "$top" in query else "$select with a state token"
            return graph_error(
                400, "Request_BadRequest", f"{unsupported} is not supported on users' delta."
            )
        with self._lock:
            log = self._deltas[request.tenant]
            try:
                round_ = self._round(request.tenant, query, log)
            except _Refused as refused:
                return refused.response(request)
            users = self.books[request.tenant].users
            since = round_.since
            removed: list[tuple[str, str]] = []
            if since is not None:
                users = [u for u in users if log.changed.get(u.object_id, 0) > since]
                removed = [
                    (user_id, reason)
                    for user_id, (sequence, reason) in sorted(log.removed.items())
                    if sequence > since
                ]
            # Only the page served is shaped: a round of 100,000 users is 1,000 pages.
            offset = round_.offset
            total = len(users) + len(removed)
            window = [
                _user(users[n])
                if n < len(users)
                else {
                    "id": removed[n - len(users)][0],
                    "@removed": {"reason": removed[n - len(users)][1]},
                }
                for n in range(offset, min(offset + self.delta_page_size, total))
            ]
            body: dict[str, Any] = {
                "@odata.context": f"{request.base_url}{API}/$metadata#users",
                "value": [_selected(e, round_.select) for e in window],
            }
            link = f"{request.base_url}{USERS_DELTA}?"
            if offset + len(window) < total:
                following = dataclasses.replace(round_, offset=offset + len(window))
                skip = signed_token(_scope(request.tenant, "skip"), following.packed())
                body["@odata.nextLink"] = link + urlencode({"$skiptoken": skip}, safe="$")
            else:
                # The next round counts from where this one started: a change made while
                # its pages were read is listed again rather than lost.
                after = _Round(round_.select, 0, round_.start, round_.start)
                delta = signed_token(_scope(request.tenant, "delta"), after.packed())
                body["@odata.deltaLink"] = link + urlencode({"$deltatoken": delta}, safe="$")
        return json_response(body)

    def _round(self, tenant: str, query: Any, log: _DeltaLog) -> _Round:
        """Where a delta request stands: the start of a round, or the one its token names."""
        delta, skip = query.get("$deltatoken"), query.get("$skiptoken")
        if not delta and not skip:
            names = {p.strip() for p in query.get("$select", "").split(",") if p.strip()}
            unknown = sorted(names - USER_PROPERTIES)
            if unknown:
                raise _Refused(
                    400,
                    "Request_BadRequest",
                    f"Could not find a property named '{unknown[0]}' on type "
                    "'microsoft.graph.user'.",
                )
            select = sum(1 << _SELECTABLE.index(p) for p in names)
            return _Round(select, 0, log.sequence, None)
        try:
            if delta:
                given = _Round.unpacked(signed_value(_scope(tenant, "delta"), delta))
                found = _Round(given.select, 0, log.sequence, given.start)
            else:
                found = given = _Round.unpacked(signed_value(_scope(tenant, "skip"), skip or ""))
        except ValueError:
            raise _Refused(400, "syncStateNotFound", _EXPIRED) from None
        if given.start < log.reset_before:
            raise _Refused(410, "resyncRequired", "The sync state was reset; start a new round.")
        if given.start < log.expired_before:
            raise _Refused(400, "syncStateNotFound", _EXPIRED)
        return found


@dataclass(frozen=True)
class _Round:
    """A delta round's state, sealed into its tokens.

    `select`: the `$select` as a mask; `offset`: the next page's first entry; `start`: the
    sequence the round began at; `since`: list users changed after it (None: every user).
    """

    select: int
    offset: int
    start: int
    since: int | None

    def packed(self) -> int:
        """The state as one number (for `signed_token`)."""
        after = 0 if self.since is None else self.since + 1
        return ((after * _OFFSETS + self.start) * _OFFSETS + self.offset) * _MASKS + self.select

    @classmethod
    def unpacked(cls, value: int) -> _Round:
        """The state `packed` gave."""
        rest, select = divmod(value, _MASKS)
        rest, offset = divmod(rest, _OFFSETS)
        after, start = divmod(rest, _OFFSETS)
        return cls(select, offset, start, after - 1 if after else None)


_EXPIRED = "The delta token has expired or is unknown; synchronize again from the start."


class _Refused(Exception):
    """A delta request Graph refuses: its status, code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def response(self, request: Request) -> Response:
        """The Graph error; a 410 names the start of a new round in `Location`."""
        answer = graph_error(self.status, self.code, self.message)
        if self.status == 410:
            answer.headers["Location"] = f"{request.base_url}{USERS_DELTA}?$deltatoken="
        return answer


def _scope(tenant: str, kind: str) -> str:
    return f"m365-users-{kind}:{tenant}"


def _user(user: MicrosoftUser) -> dict[str, Any]:
    """A user as Graph writes the properties the sandbox serves."""
    return {
        "id": user.object_id,
        "userPrincipalName": user.upn,
        "displayName": "",
        "mail": user.upn,
        "accountEnabled": True,
        "assignedLicenses": [{"disabledPlans": [], "skuId": s} for s in user.sku_ids],
    }


def _selected(entry: dict[str, Any], select: int) -> dict[str, Any]:
    """An entry with only the selected properties (and `id`, `@removed`); all without a mask."""
    if not select or "@removed" in entry:
        return entry
    names = {p for n, p in enumerate(_SELECTABLE) if select & (1 << n)} | {"id"}
    return {k: v for k, v in entry.items() if k in names}
