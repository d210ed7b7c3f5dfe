"""Pushed changes end to end: the sandbox SS 12000 API notifies, the receiver syncs, Kafka has it.

Real sandbox server (subscriptions and notifications over HTTP), the real receiver
(uvicorn in a thread), the real runner and a real Kafka broker; no scheduled sync runs
after the first one.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hub.push import ensure_subscriptions, subscription_name, webhook_url
from hub.push_receiver import Dispatcher, Listener, LocalSync, Receiver
from tests.fixtures.ss12000 import SS12000Sandbox
from tests.integration.test_ss12000_sync import SwedishHub

pytestmark = pytest.mark.integration

SECRET = "push-secret-0123456789abcdef"  # noqa: S105 - a test value


class PushedHub(SwedishHub):
    """A Swedish hub whose SS 12000 source subscribes, with a running webhook receiver."""

    def __init__(self, sandbox: SS12000Sandbox, bootstrap: str, tmp_path: Path) -> None:
        super().__init__(sandbox, bootstrap, tmp_path)
        self.settings = self.configure(subscribe=True)
        self.changes = LocalSync(self.settings)
        dispatcher = Dispatcher(self.changes, retry_seconds=0.5)
        self.listener = Listener(Receiver.for_settings(self.settings, SECRET, dispatcher)).start()

    def ensure(self, now: datetime | None = None) -> list[tuple[str, str | None]]:
        statuses = ensure_subscriptions(self.settings, self.listener.url, SECRET, now=now)
        return [(s.action, s.error) for s in statuses]

    def close(self) -> None:
        self.listener.stop()
        self.changes.close()
        super().close()


@pytest.fixture
def hub(
    ss12000_sandbox: SS12000Sandbox, kafka_bootstrap: str, tmp_path: Path
) -> Iterator[PushedHub]:
    h = PushedHub(ss12000_sandbox, kafka_bootstrap, tmp_path)
    yield h
    h.close()


def wait_for(found: Callable[[], list[object]], timeout: float = 60.0) -> list[object]:
    deadline = time.monotonic() + timeout
    while not (result := found()):
        assert time.monotonic() < deadline, "the change did not reach Kafka in time"
        time.sleep(0.2)
    return result


def person_updates(hub: PushedHub, key: str) -> Callable[[], list[object]]:
    def found() -> list[object]:
        return [
            json.loads(r.value)
            for r in hub.records()
            if r.value is not None and r.key == key and json.loads(r.value)["op"] == "u"
        ]

    return found


def test_a_pushed_change_reaches_kafka_without_a_scheduled_sync(hub: PushedHub):
    """Subscribe, rename a person in the register: its update is on Kafka, only persons read."""
    assert "success" == hub.sync().status
    assert [("created", None)] == hub.ensure()
    data, app = hub.sandbox.data, hub.sandbox.app
    (subscription,) = app.subscriptions.of(hub.tenant)
    assert (
        subscription_name(hub.tenant, "ss12000"),
        webhook_url(hub.listener.url, SECRET, hub.tenant, "ss12000"),
    ) == (subscription.name, subscription.target)
    person = data.id_of("persons", 7)
    requests_before = len(hub.sandbox.server.requests)

    app.control(
        hub.tenant,
        "modify",
        {"collection": "persons", "id": person, "changes": {"familyName": "Öberg-Lind"}},
    )

    (update,) = wait_for(person_updates(hub, f"{hub.tenant}:ss12000:person:{person}"))
    assert ("Öberg-Lind", ["display_name", "family_name"]) == (
        update["after"]["family_name"],  # type: ignore[index]
        update["changed"],  # type: ignore[index]
    )
    read = {r.path.split("/", 3)[-1] for r in list(hub.sandbox.server.requests)[requests_before:]}
    assert {"persons", "deletedEntities"} == read - {"oauth/token"}
    assert [(hub.tenant, "ss12000", "success")] == list(hub.listener.receiver.dispatcher.handled)


def test_a_pushed_delete_reaches_kafka_as_a_delete_and_a_tombstone(hub: PushedHub):
    """A deleted duty notifies `deletedEntities`; the sync publishes its delete and tombstone."""
    hub.sync()
    hub.ensure()
    duty = hub.sandbox.data.id_of("duties", 2)
    hub.sandbox.app.control(hub.tenant, "delete", {"collection": "duties", "id": duty})
    key = f"{hub.tenant}:ss12000:duty:{duty}"
    records = wait_for(
        lambda: [r for r in hub.records() if r.key == key and r.value is None], timeout=60
    )
    assert 1 == len(records)


def test_the_subscription_is_kept_renewed_and_recreated_once_expired(hub: PushedHub):
    """Far from expiry it is kept; near it, renewed (PATCH); once forgotten, created anew."""
    hub.sync()
    assert [("created", None)] == hub.ensure()
    assert [("kept", None)] == hub.ensure()
    (first,) = hub.sandbox.app.subscriptions.of(hub.tenant)
    expires = first.expires
    later = datetime.now(UTC) + timedelta(minutes=45)  # within 30 minutes of a 1 h expiry
    hub.sandbox.app.subscriptions.ttl = 7200
    assert [("renewed", None)] == hub.ensure(now=later)
    (renewed,) = hub.sandbox.app.subscriptions.of(hub.tenant)
    assert (first.id, True) == (renewed.id, renewed.expires > expires + 3000)

    hub.sandbox.app.control(hub.tenant, "expire_subscriptions", {})
    assert [("created", None)] == hub.ensure()
    (again,) = hub.sandbox.app.subscriptions.of(hub.tenant)
    assert again.id != first.id
    person = hub.sandbox.data.id_of("persons", 9)
    hub.sandbox.app.control(hub.tenant, "modify", {"collection": "persons", "id": person})
    wait_for(lambda: hub.listener.receiver.dispatcher.handled)
