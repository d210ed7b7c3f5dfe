"""Pushed changes through Airflow 3's data-aware scheduling, end to end.

The sandbox SS 12000 API notifies the receiver (`hub listen --airflow` mode), which creates
an asset event through a real Airflow's REST API; the scheduler runs `hub_identity_push`
on it, whose task syncs the changed persons to a real Kafka broker. A real Airflow: the
four components of `hub airflow up` on a local PostgreSQL, with the repository's DAGs.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from hub.dev.airflow_local import HOST
from hub.push import ensure_subscriptions
from hub.push_receiver import AirflowAssetEvents, Dispatcher, Listener, Receiver
from hub.settings import load_settings
from hub.sync import sync_targets
from tests.conftest import REPO_ROOT, TEST_HMAC_KEY
from tests.fixtures.airflow import repo_airflow, require_airflow
from tests.fixtures.postgres import require_postgres
from tests.fixtures.ss12000 import SS12000Sandbox
from tests.support import consume_all, unique_prefix

pytestmark = pytest.mark.integration

SECRET = "push-secret-0123456789abcdef"  # noqa: S105 - a test value


def wait_for(found: Callable[[], Any], within: float, what: str) -> Any:
    deadline = time.monotonic() + within
    while not (result := found()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)
    return result


@pytest.mark.timeout(600)
def test_a_notification_schedules_the_push_dag_which_publishes_the_change(
    ss12000_sandbox: SS12000Sandbox,
    kafka_bootstrap: str,
    monkeypatch: pytest.MonkeyPatch,
):
    """Receiver → asset event → hub_identity_push run → the renamed person's `u` on Kafka."""
    require_airflow()
    require_postgres()
    # Not under pytest's tmp folder (private to root): PostgreSQL runs as `postgres`.
    home = Path(tempfile.mkdtemp(prefix="skolehub-airflow-push-"))
    home.chmod(0o755)
    var_dir = home / "var"
    var_dir.mkdir()
    prefix = unique_prefix()
    config = {
        "kafka": {"bootstrap": kafka_bootstrap, "topic_prefix": prefix, "partitions": 1},
        "database_url": f"sqlite:///{var_dir / 'hub.db'}",
        "tenants": [ss12000_sandbox.tenant_entry(subscribe=True)],
    }
    (var_dir / "hub.yaml").write_text(yaml.safe_dump(config, allow_unicode=True))
    monkeypatch.setenv("HUB_CONFIG", str(var_dir / "hub.yaml"))
    settings = load_settings()
    (first,) = sync_targets(settings, [(ss12000_sandbox.tenant, "ss12000")])
    assert "success" == first.status
    # Only the push DAG: no hourly sync to publish the change first, and less load.
    dags = home / "dags"
    dags.mkdir()
    shutil.copy(REPO_ROOT / "dags" / "hub_identity_push.py", dags)
    airflow = repo_airflow(
        home / "airflow",
        HUB_VAR_DIR=str(var_dir),
        HUB_CONFIG=str(var_dir / "hub.yaml"),
        HUB_HMAC_KEY=TEST_HMAC_KEY,
        HUB_PUSH_SECRET=SECRET,
        HUB_PUSH_URL=f"http://{HOST}:9/unused",
        **{ss12000_sandbox.secret_env: ss12000_sandbox.secret},
    )
    airflow.dags_folder = dags
    listener = None
    try:
        airflow.up()
        events = AirflowAssetEvents(airflow.url, "admin", airflow.passwords()["admin"])
        wait_for(lambda: _asset_known(events), 180, "the dag-processor to register the asset")
        token = airflow.token("admin")

        def runs(dag_id: str) -> list[dict[str, Any]]:
            answer = requests.get(
                f"{airflow.url}/api/v2/dags/{dag_id}/dagRuns",
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            )
            answer.raise_for_status()
            found: list[dict[str, Any]] = answer.json()["dag_runs"]
            return found

        dispatcher = Dispatcher(events, retry_seconds=1.0)
        listener = Listener(Receiver.for_settings(settings, SECRET, dispatcher)).start()
        assert ["created"] == [
            s.action for s in ensure_subscriptions(settings, listener.url, SECRET)
        ]
        data = ss12000_sandbox.data
        person = data.id_of("persons", 6)
        changed_at = time.monotonic()
        ss12000_sandbox.app.control(
            ss12000_sandbox.tenant,
            "modify",
            {"collection": "persons", "id": person, "changes": {"familyName": "Luftflöde"}},
        )

        def updates() -> list[str]:
            return [
                json.loads(r.value)["after"]["family_name"]
                for r in consume_all(kafka_bootstrap, [f"{prefix}.identity.person.v2"])
                if r.value is not None and json.loads(r.value)["op"] == "u"
            ]

        assert ["Luftflöde"] == wait_for(updates, 240, "the push DAG to publish the change")
        seconds = time.monotonic() - changed_at
        print(f"change -> Kafka through Airflow's asset scheduling: {seconds:.1f} s")
        # A slow api-server may refuse the first POST; the dispatcher then tries again.
        assert (ss12000_sandbox.tenant, "ss12000", "success") == dispatcher.handled[-1]
        pushed = wait_for(
            lambda: [r for r in runs("hub_identity_push") if r["state"] == "success"],
            60,
            "the push run to be marked successful",
        )
        assert {"asset_triggered"} == {r["run_type"] for r in pushed}
    finally:
        if listener is not None:
            listener.stop()
        airflow.down()
        shutil.rmtree(home, ignore_errors=True)


def _asset_known(events: AirflowAssetEvents) -> bool:
    try:
        events.asset_id()
    except LookupError:
        return False
    return True
