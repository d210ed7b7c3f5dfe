"""The sandbox SS 12000 API's `/subscriptions`: create, list, renew, delete, expire, validate."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
import requests

from connectors.errors import FatalError
from hub.dev.sandbox._ss12000_subscriptions import parse_create
from tests.fixtures.ss12000 import SS12000Sandbox


def test_a_subscription_is_created_listed_renewed_and_deleted(ss12000_sandbox: SS12000Sandbox):
    """The client's calls follow the standard's shapes; renewing moves `expires` on."""
    connector = ss12000_sandbox.connector()
    ss12000_sandbox.app.subscriptions.ttl = 60
    created = connector.subscribe("skolehub", "http://127.0.0.1:9/hook", ["Person", "Group"])
    assert ("skolehub", ("Person", "Group")) == (created.name, created.resources)
    assert [created.id] == [s.id for s in connector.subscriptions()]
    ss12000_sandbox.app.subscriptions.ttl = 3600
    renewed = connector.renew_subscription(created.id)
    assert (renewed.expires - datetime.now(UTC)).total_seconds() > 3000
    connector.unsubscribe(created.id)
    assert [] == connector.subscriptions()


def test_an_expired_subscription_is_gone_and_cannot_be_renewed(ss12000_sandbox: SS12000Sandbox):
    """After it expires the API forgets it: renewing answers 404, a fatal error to the client."""
    connector = ss12000_sandbox.connector()
    created = connector.subscribe("skolehub", "http://127.0.0.1:9/hook", ["Person"])
    ss12000_sandbox.app.control(ss12000_sandbox.tenant, "expire_subscriptions", {})
    with pytest.raises(FatalError) as caught:
        connector.renew_subscription(created.id)
    assert (404, []) == (caught.value.status, connector.subscriptions())


def test_a_subscription_needs_a_token_and_a_valid_body(ss12000_sandbox: SS12000Sandbox):
    """No bearer token is 401; a body without resourceTypes is 400 with the reason."""
    url = ss12000_sandbox.base_url + "/subscriptions"
    assert 401 == requests.post(url, json={}, timeout=10).status_code
    connector = ss12000_sandbox.connector()
    with pytest.raises(FatalError) as caught:
        connector.post(url, {"name": "x", "target": "http://127.0.0.1:9/"})
    assert 400 == caught.value.status


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"name": "x", "target": "http://h/"}, "missing required field(s): resourceTypes"),
        ({"name": "x", "target": "ftp://h/", "resourceTypes": ["Person"]}, "http(s) URL"),
        ({"name": "x", "target": "http://h/", "resourceTypes": [{"resource": "Pupil"}]}, "Pupil"),
        ({"name": "", "target": "http://h/", "resourceTypes": ["Person"]}, "name"),
    ],
)
def test_a_bad_create_body_is_refused(data: dict[str, object], reason: str):
    """The sandbox holds clients to the CreateSubscription schema."""
    with pytest.raises(ValueError) as caught:
        parse_create(data)
    assert reason in str(caught.value)


def test_a_change_notifies_the_subscriptions_of_its_resource_type(
    ss12000_sandbox: SS12000Sandbox,
):
    """A modified person posts `modifiedEntites: [Person]`; a deleted group `deletedEntities`."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from threading import Thread

    received: list[bytes] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            received.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    Thread(target=server.serve_forever, daemon=True).start()
    try:
        target = f"http://127.0.0.1:{server.server_address[1]}/hook"
        connector = ss12000_sandbox.connector()
        connector.subscribe("people", target, ["Person"])
        app, tenant, data = ss12000_sandbox.app, ss12000_sandbox.tenant, ss12000_sandbox.data
        app.control(tenant, "modify", {"collection": "persons", "id": data.id_of("persons", 3)})
        app.control(tenant, "modify", {"collection": "groups", "id": data.id_of("groups", 1)})
        deadline = time.monotonic() + 10
        while not received and time.monotonic() < deadline:
            time.sleep(0.05)
        app.control(tenant, "delete", {"collection": "persons", "id": data.id_of("persons", 4)})
        while len(received) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        server.shutdown()
        server.server_close()
    assert [
        b'{"modifiedEntites": ["Person"], "deletedEntities": false}',
        b'{"modifiedEntites": [], "deletedEntities": true}',
    ] == received
