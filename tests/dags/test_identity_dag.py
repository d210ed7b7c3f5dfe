"""The identity sync DAG run with dag.test() against the sandbox slapd and a real Kafka."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support import consume_all, ldap_source, unique_prefix

pytestmark = pytest.mark.integration


def test_identity_dag_syncs_every_tenant(
    dagbag: Any,
    hub_config: Any,
    directory_factory: Any,
    kafka_bootstrap: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
):
    """One mapped task per tenant × identity source publishes each tenant's people."""
    first, second = directory_factory(), directory_factory()
    monkeypatch.setenv("TEST_LDAP_PASSWORD", first.server.reader_password)
    prefix = unique_prefix()
    hub_config(
        {
            "kafka": {"bootstrap": kafka_bootstrap, "topic_prefix": prefix, "partitions": 1},
            "database_url": f"sqlite:///{tmp_path / 'hub.db'}",
            "tenants": [
                {
                    "id": loaded.owner.tenant,
                    "name": loaded.owner.name,
                    "sources": [ldap_source(loaded)],
                }
                for loaded in (first, second)
            ],
        }
    )
    dag = dagbag.get_dag("hub_identity_sync")
    for task in dag.tasks:  # a failure should fail the test now, not wait out retry delays
        task.retries = 0
    run = dag.test()
    assert "success" == run.state
    mapped = [ti for ti in run.get_task_instances() if ti.task_id == "sync"]
    assert 2 == len(mapped)
    records = consume_all(kafka_bootstrap, [f"{prefix}.identity.person.v2"])
    tenants = {json.loads(r.value)["after"]["tenant"] for r in records}
    assert {first.owner.tenant, second.owner.tenant} == tenants
    expected = first.owner.person_count + second.owner.person_count
    assert expected == len(records)
