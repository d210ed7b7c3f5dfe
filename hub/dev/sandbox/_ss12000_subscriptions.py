"""The sandbox SS 12000 API's `/subscriptions`: webhooks that a change notifies.

As SS 12000:2020's OpenAPI (`paths/subscriptions.yaml`, `Subscription.yaml`) has it:

    POST   /subscriptions        `{"name", "target", "resourceTypes": [{"resource": "Person"}]}`
                                 → 201 with `id` and `expires` added
    GET    /subscriptions        `{"data": [...], "pageToken": null}`
    GET    /subscriptions/<id>   one subscription
    PATCH  /subscriptions/<id>   renews it: `expires` moves to now + the lifetime
    DELETE /subscriptions/<id>   204

A change of an object (`SS12000App.change`) POSTs the callback body the standard
describes, `{"modifiedEntites": ["Person"], "deletedEntities": false}` (the standard's own
spelling), to the `target` of every current subscription of the object's resource type;
a delete sends `{"modifiedEntites": [], "deletedEntities": true}`. Notifications go out
from one thread per app, oldest first, several pending ones for one subscription merged
into one (the standard lets the owner of the data do so). An expired subscription gets
nothing and is forgotten, so renewing it answers 404 and the client must create a new one.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import structlog

from connectors.identity._ss12000_subscriptions import ENDPOINT_TYPES, RESOURCE_STREAMS
from hub.dev.sandbox._rest import iso

log = structlog.get_logger(__name__)

#: The sandbox's collections by the resource type (`EndPointsEnum`) that names them: the
#: connector's stream names, which are the API's collection names.
RESOURCE_COLLECTIONS = RESOURCE_STREAMS
COLLECTION_RESOURCES = {c: r for r, c in RESOURCE_COLLECTIONS.items()}
#: Every value of the standard's `EndPointsEnum` (a subscription may name any of them).
ENDPOINTS = ENDPOINT_TYPES


@dataclass
class Subscription:
    """One registered webhook of a tenant."""

    id: str
    tenant: str
    name: str
    target: str
    resources: tuple[str, ...]
    expires: float

    def to_json(self) -> dict[str, Any]:
        """As the API renders it (`Subscription.yaml#/Subscription`)."""
        return {
            "id": self.id,
            "expires": iso(self.expires),
            "name": self.name,
            "target": self.target,
            "resourceTypes": [{"resource": r} for r in self.resources],
        }


@dataclass(frozen=True)
class Delivery:
    """One notification sent: where, what, and the receiver's status (0: no answer)."""

    subscription: str
    target: str
    body: dict[str, Any]
    status: int
    changed_at: float
    sent_at: float


@dataclass
class _Pending:
    subscription: Subscription
    modified: set[str] = field(default_factory=set)
    deleted: bool = False
    changed_at: float = 0.0


def parse_create(data: Any) -> tuple[str, str, tuple[str, ...]]:
    """`name`, `target` and resource types of a CreateSubscription body; ValueError if bad."""
    if not isinstance(data, Mapping):
        raise ValueError("the body must be a JSON object with name, target and resourceTypes")
    missing = [n for n in ("name", "target", "resourceTypes") if n not in data]
    if missing:
        raise ValueError(f"missing required field(s): {', '.join(missing)}")
    name, target, types = data["name"], data["target"], data["resourceTypes"]
    if not isinstance(name, str) or not name:
        raise ValueError("name must be a non-empty string")
    parts = urlsplit(target) if isinstance(target, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("target must be an http(s) URL")
    if not isinstance(types, list) or not types:
        raise ValueError("resourceTypes must be a non-empty list")
    resources: list[str] = []
    for item in types:
        # The schema's shape is {"resource": ...}; the standard's own example sends bare names.
        value = item.get("resource") if isinstance(item, Mapping) else item
        if value not in ENDPOINTS:
            raise ValueError(f"resourceTypes: {value!r} is not an EndPointsEnum value")
        resources.append(value)
    return name, target, tuple(dict.fromkeys(resources))


class Subscriptions:
    """Every tenant's subscriptions of one app, and the thread that notifies them."""

    def __init__(self, ttl: float = 3600.0) -> None:
        #: How long a subscription lasts from its creation or renewal, in seconds.
        self.ttl = ttl
        self._by_id: dict[str, Subscription] = {}
        self._lock = threading.Lock()
        self._queue: queue.Queue[tuple[str, str, str, float]] = queue.Queue()
        self._thread: threading.Thread | None = None
        #: Every notification sent, oldest first.
        self.deliveries: deque[Delivery] = deque(maxlen=10_000)

    # -- the API ------------------------------------------------------------------------

    def create(self, tenant: str, data: Any) -> Subscription:
        """Register a webhook; ValueError for a body the standard does not allow."""
        name, target, resources = parse_create(data)
        subscription = Subscription(
            str(uuid.uuid4()), tenant, name, target, resources, time.time() + self.ttl
        )
        with self._lock:
            self._by_id[subscription.id] = subscription
        return subscription

    def of(self, tenant: str) -> list[Subscription]:
        """A tenant's current subscriptions (expired ones are forgotten)."""
        with self._lock:
            self._forget_expired()
            return [s for s in self._by_id.values() if s.tenant == tenant]

    def get(self, tenant: str, subscription_id: str) -> Subscription | None:
        """One current subscription of the tenant, or None."""
        return next((s for s in self.of(tenant) if s.id == subscription_id), None)

    def renew(self, tenant: str, subscription_id: str) -> Subscription | None:
        """Move a current subscription's expiry to now + `ttl`; None if there is none."""
        subscription = self.get(tenant, subscription_id)
        if subscription is not None:
            subscription.expires = time.time() + self.ttl
        return subscription

    def delete(self, tenant: str, subscription_id: str) -> bool:
        """Remove a subscription; False if the tenant has none of that id."""
        with self._lock:
            found = self._by_id.get(subscription_id)
            if found is None or found.tenant != tenant:
                return False
            del self._by_id[subscription_id]
            return True

    def expire(self, tenant: str) -> int:
        """Let every subscription of a tenant expire now (a test's shortcut); how many."""
        with self._lock:
            mine = [s for s in self._by_id.values() if s.tenant == tenant]
            for subscription in mine:
                subscription.expires = time.time() - 1
            return len(mine)

    def _forget_expired(self) -> None:
        moment = time.time()
        for key in [k for k, s in self._by_id.items() if s.expires <= moment]:
            del self._by_id[key]

    # -- notifying ------------------------------------------------------------------------

    def changed(self, tenant: str, collection: str, *, deleted: bool = False) -> None:
        """Queue the notifications of one change of a tenant's collection."""
        self._queue.put((tenant, collection, "deleted" if deleted else "modified", time.time()))
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._notify_forever, name="ss12000-webhooks", daemon=True
                )
                self._thread.start()

    def _notify_forever(self) -> None:
        while True:
            batch = [self._queue.get()]
            while True:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            for pending in self._merge(batch).values():
                self._send(pending)

    def _merge(self, batch: list[tuple[str, str, str, float]]) -> dict[str, _Pending]:
        pending: dict[str, _Pending] = {}
        for tenant, collection, kind, changed_at in batch:
            resource = COLLECTION_RESOURCES[collection]
            for subscription in self.of(tenant):
                if resource not in subscription.resources:
                    continue
                entry = pending.setdefault(
                    subscription.id, _Pending(subscription, changed_at=changed_at)
                )
                entry.changed_at = min(entry.changed_at, changed_at)
                if kind == "deleted":
                    entry.deleted = True
                else:
                    entry.modified.add(resource)
        return pending

    def _send(self, pending: _Pending) -> None:
        body = {"modifiedEntites": sorted(pending.modified), "deletedEntities": pending.deleted}
        target = pending.subscription.target
        request = urllib.request.Request(
            target,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        status = 0
        for attempt in range(3):
            try:
                with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
                    status = answer.status
                break
            except urllib.error.HTTPError as exc:
                status = exc.code
                if status < 500:
                    break
            except (OSError, ValueError):
                status = 0
            time.sleep(0.2 * 2**attempt)
        self.deliveries.append(
            Delivery(pending.subscription.id, target, body, status, pending.changed_at, time.time())
        )
        log.info("sandbox_notification_sent", status=status, resources=body["modifiedEntites"])

    def delivered_since(self, moment: float) -> list[Delivery]:
        """The notifications sent at or after `moment` (epoch seconds), oldest first."""
        return [d for d in list(self.deliveries) if d.sent_at >= moment]
