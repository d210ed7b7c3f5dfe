"""The webhook receiver: which URLs it accepts, what it refuses, and how changes are dispatched."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from structlog.testing import capture_logs

from hub.cli import main
from hub.push import webhook_token, webhook_url
from hub.push_receiver import Dispatcher, Receiver, create_app
from tests.fixtures.ss12000 import SS12000Sandbox

SECRET = "push-secret-0123456789abcdef"  # noqa: S105 - a test value


class Recorder:
    """A change handler that records calls and answers with the statuses it is given."""

    def __init__(self, *statuses: str) -> None:
        self.calls: list[tuple[str, str, frozenset[str], bool]] = []
        self.statuses = list(statuses)

    def __call__(self, tenant: str, source: str, streams: frozenset[str], deleted: bool) -> str:
        self.calls.append((tenant, source, streams, deleted))
        return self.statuses.pop(0) if self.statuses else "success"


def wait_for(condition: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def client(recorder: Recorder) -> Iterator[TestClient]:
    dispatcher = Dispatcher(recorder, retry_seconds=0.05)
    receiver = Receiver({("ekby", "sis"): webhook_token(SECRET, "ekby", "sis")}, dispatcher)
    with TestClient(create_app(receiver)) as test_client:
        yield test_client
    dispatcher.stop()


def path(tenant: str = "ekby", source: str = "sis") -> str:
    return webhook_url("", SECRET, tenant, source)


def test_the_webhook_token_is_a_keyed_hash_of_tenant_and_source():
    """Each source gets its own token, and another key gives another one."""
    tokens = {
        webhook_token(SECRET, "ekby", "sis"),
        webhook_token(SECRET, "ekby", "sis2"),
        webhook_token(SECRET + "x", "ekby", "sis"),
    }
    assert 3 == len(tokens)
    assert "/ss12000/ekby/sis/" + webhook_token(SECRET, "ekby", "sis") == path()


def test_a_valid_notification_is_accepted_and_its_streams_synced(
    client: TestClient, recorder: Recorder
):
    """202 at once, then the dispatcher syncs the persons and groups of that source."""
    answer = client.post(path(), json={"modifiedEntites": ["Person", "Group"]})
    assert (202, {"accepted": True, "streams": ["persons", "groups"], "deleted": False}) == (
        answer.status_code,
        answer.json(),
    )
    wait_for(lambda: recorder.calls)
    assert [("ekby", "sis", frozenset({"persons", "groups"}), False)] == recorder.calls


def test_a_wrong_token_or_an_unknown_source_is_not_found(client: TestClient, recorder: Recorder):
    """A guessed URL gets 404, and nothing is synced; the token is not logged."""
    with capture_logs() as logs:
        wrong = client.post("/ss12000/ekby/sis/" + "0" * 32, json={"deletedEntities": True})
        unknown = client.post(path("ekby", "other"), json={"deletedEntities": True})
    assert (404, 404, []) == (wrong.status_code, unknown.status_code, recorder.calls)
    assert all(webhook_token(SECRET, "ekby", "sis") not in str(entry) for entry in logs)


def test_a_bad_notification_is_refused_with_the_reason(client: TestClient, recorder: Recorder):
    """400 whose detail says what is wrong with the body; nothing is synced."""
    answer = client.post(path(), json={"modifiedEntites": ["Pupil"]})
    assert 400 == answer.status_code
    assert "Pupil not in EndPointsEnum" in answer.json()["detail"]
    assert [] == recorder.calls


def test_a_notification_of_nothing_the_hub_reads_is_acknowledged_without_a_sync(
    client: TestClient, recorder: Recorder
):
    """Grades changed: 202, `accepted: false`, no sync."""
    answer = client.post(path(), json={"modifiedEntites": ["Grade"], "deletedEntities": False})
    assert (202, False) == (answer.status_code, answer.json()["accepted"])
    time.sleep(0.1)
    assert [] == recorder.calls


def test_a_skipped_sync_is_tried_again_with_what_arrived_meanwhile():
    """A sync skipped (lease held) is retried, merged with later changes of the same source."""
    recorder = Recorder("skipped")
    dispatcher = Dispatcher(recorder, retry_seconds=0.3)
    try:
        dispatcher.submit("ekby", "sis", frozenset({"persons"}), False)
        wait_for(lambda: recorder.calls)
        dispatcher.submit("ekby", "sis", frozenset({"duties"}), True)
        wait_for(lambda: len(recorder.calls) == 2 and dispatcher.idle())
    finally:
        dispatcher.stop()
    assert [
        ("ekby", "sis", frozenset({"persons"}), False),
        ("ekby", "sis", frozenset({"persons", "duties"}), True),
    ] == recorder.calls
    assert ["skipped", "success"] == [status for _, _, status in dispatcher.handled]


def write_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: dict[str, Any]) -> None:
    path = tmp_path / "hub.yaml"
    tenant = {"id": "solberga", "name": "Solberga kommun", "sources": [source]}
    path.write_text(yaml.safe_dump({"tenants": [tenant]}, allow_unicode=True))
    monkeypatch.setenv("HUB_CONFIG", str(path))


def test_listen_without_a_push_source_or_a_secret_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    """`hub listen` needs HUB_PUSH_SECRET and a source with `subscribe: true`: exit 2 saying so."""
    auth = {"kind": "bearer", "secret": {"env": "UNUSED"}}
    source = {"type": "ss12000", "id": "sis", "base_url": "http://127.0.0.1:9/x", "auth": auth}
    write_config(tmp_path, monkeypatch, source)
    monkeypatch.delenv("HUB_PUSH_SECRET", raising=False)
    assert 2 == main(["listen", "--port", "0"])
    monkeypatch.setenv("HUB_PUSH_SECRET", SECRET)
    assert 2 == main(["listen", "--port", "0"])
    err = capsys.readouterr().err
    assert "HUB_PUSH_SECRET must hold a secret" in err
    assert "no source has `subscribe: true`" in err


def test_subscribe_creates_then_keeps_the_subscription(
    ss12000_sandbox: SS12000Sandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
):
    """`hub subscribe --url` registers the webhook once; a second call keeps it (exit 0 both)."""
    write_config(tmp_path, monkeypatch, ss12000_sandbox.source_entry(subscribe=True))
    monkeypatch.setenv("HUB_PUSH_SECRET", SECRET)
    assert 0 == main(["subscribe", "--url", "http://127.0.0.1:9/push"])
    assert 0 == main(["subscribe", "--url", "http://127.0.0.1:9/push", "--json"])
    out = capsys.readouterr().out
    (subscription,) = ss12000_sandbox.app.subscriptions.of(ss12000_sandbox.tenant)
    assert "solberga/ss12000" in out and "created" in out
    assert ["kept"] == [s["action"] for s in json.loads(out.splitlines()[-1])["subscriptions"]]
    assert webhook_url("http://127.0.0.1:9/push", SECRET, "solberga", "ss12000") == (
        subscription.target
    )
