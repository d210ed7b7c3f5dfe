"""SS 12000 subscriptions as the published OpenAPI has them, in `vendor/ss12000/subscriptions.json`.

The client's calls, the sandbox's answers and the notifications are each validated.

Held to: SS 12000:2020 (ss12000v2 at the commit SOURCES.md names): `CreateSubscription`,
`Subscription`, `Subscriptions`, the POST's `subscriptionEvent` callback body and
`EndPointsEnum`. One deliberate difference: the schema lets a notification name nothing
(`{}`); the receiver refuses that as a body that cannot have come from a change.
"""

from __future__ import annotations

import json
import time
from typing import Any

import jsonschema
import pytest

from connectors.identity._ss12000_subscriptions import ENDPOINT_TYPES, RESOURCE_STREAMS
from connectors.identity.ss12000 import NotificationError, parse_notification
from hub.dev.sandbox._ss12000_subscriptions import ENDPOINTS, RESOURCE_COLLECTIONS
from tests.conformance.support import vendor_json
from tests.fixtures.ss12000 import SS12000Sandbox

DOCUMENT = vendor_json("ss12000", "subscriptions.json")
SCHEMAS = DOCUMENT["schemas"]


def json_schema(node: Any) -> Any:
    """OpenAPI 3.0's `nullable: true` as JSON Schema's `type: [..., "null"]`."""
    if isinstance(node, dict):
        converted = {k: json_schema(v) for k, v in node.items() if k != "nullable"}
        if node.get("nullable") and "type" in node:
            converted["type"] = [node["type"], "null"]
        return converted
    return [json_schema(v) for v in node] if isinstance(node, list) else node


def valid(instance: Any, schema: str) -> None:
    checker = jsonschema.FormatChecker()
    jsonschema.validate(instance, json_schema(SCHEMAS[schema]), format_checker=checker)


def test_the_resource_types_are_the_standards_endpoints():
    """The connector's and the sandbox's resource types are exactly `EndPointsEnum`'s values."""
    enum = set(SCHEMAS["EndPointsEnum"]["enum"])
    assert (enum, enum) == (set(ENDPOINT_TYPES), set(ENDPOINTS))
    assert set(RESOURCE_STREAMS) == set(RESOURCE_COLLECTIONS)


def test_the_clients_calls_and_the_sandboxs_answers_follow_the_schemas(
    ss12000_sandbox: SS12000Sandbox, monkeypatch: pytest.MonkeyPatch
):
    """The create body is a CreateSubscription; listed, read and renewed ones are Subscriptions."""
    connector = ss12000_sandbox.connector()
    sent: list[Any] = []
    post = connector.post
    monkeypatch.setattr(connector, "post", lambda url, body: sent.append(body) or post(url, body))
    created = connector.subscribe("skolehub:solberga:ss12000", "http://127.0.0.1:9/hook")
    (body,) = sent
    valid(body, "CreateSubscription")
    assert set(RESOURCE_STREAMS) == {r["resource"] for r in body["resourceTypes"]}
    base = ss12000_sandbox.base_url
    valid(connector.get(f"{base}/subscriptions").json(), "Subscriptions")
    valid(connector.get(f"{base}/subscriptions/{created.id}").json(), "Subscription")
    valid(connector.send("PATCH", f"{base}/subscriptions/{created.id}").json(), "Subscription")
    assert 204 == connector.send("DELETE", f"{base}/subscriptions/{created.id}").status_code


@pytest.mark.parametrize(
    "notification",
    [
        {"modifiedEntites": sorted(SCHEMAS["EndPointsEnum"]["enum"]), "deletedEntities": True},
        {"modifiedEntites": ["Person"]},
        {"deletedEntities": False},
        {"modifiedEntites": []},
    ],
)
def test_every_notification_the_schema_allows_is_read(notification: dict[str, Any]):
    """Schema-valid bodies (all types, one type, only the delete flag) parse."""
    valid(notification, "Notification")
    parsed = parse_notification(json.dumps(notification).encode())
    assert set(parsed.modified) == set(notification.get("modifiedEntites", []))


def test_a_notification_naming_nothing_is_the_one_deliberate_refusal():
    """`{}` is schema-valid but names no change: refused, as the module docstring says."""
    valid({}, "Notification")
    with pytest.raises(NotificationError, match="names neither"):
        parse_notification(b"{}")


def test_the_sandboxs_notifications_follow_the_callback_schema(ss12000_sandbox: SS12000Sandbox):
    """What the sandbox posts on a change and on a delete validates as the callback body."""
    app, tenant, data = ss12000_sandbox.app, ss12000_sandbox.tenant, ss12000_sandbox.data
    ss12000_sandbox.connector().subscribe("s", "http://127.0.0.1:9/hook", ["Person"])
    app.control(tenant, "modify", {"collection": "persons", "id": data.id_of("persons", 1)})
    app.control(tenant, "delete", {"collection": "persons", "id": data.id_of("persons", 2)})
    deadline = time.monotonic() + 20
    while len(app.subscriptions.deliveries) < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    while sum(1 for _ in app.subscriptions.deliveries) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    bodies = [d.body for d in app.subscriptions.deliveries]
    assert bodies
    for body in bodies:
        valid(body, "Notification")
