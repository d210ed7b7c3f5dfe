"""The identity DAG covers SS 12000 sources: planned as identity, run with dag.test()."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hub.sync_tasks import sync_plan
from tests.fixtures.ss12000 import SS12000SandboxFactory
from tests.support import consume_all, unique_prefix


def test_the_identity_plan_includes_ss12000_sources_and_not_lms_ones(
    hub_config: Callable[[dict[str, Any]], Path],
):
    """`sync_plan("identity")` maps the Swedish tenant's SS 12000 source, not its OneRoster one."""
    base = "http://127.0.0.1:9/solberga"
    auth = {"kind": "bearer", "secret": {"env": "UNUSED"}}
    hub_config(
        {
            "tenants": [
                {
                    "id": "solberga",
                    "name": "Solberga kommun",
                    "country": "SE",
                    "sources": [
                        {
                            "type": "ss12000",
                            "id": "sis",
                            "base_url": f"{base}/ss12000",
                            "auth": auth,
                        },
                        {"type": "oneroster", "id": "lms", "base_url": f"{base}/or", "auth": auth},
                    ],
                }
            ]
        }
    )
    assert [{"tenant": "solberga", "source": "sis"}] == sync_plan("identity")


@pytest.mark.integration
def test_the_identity_dag_syncs_a_swedish_tenant_over_ss12000(
    dagbag: Any,
    hub_config: Callable[[dict[str, Any]], Path],
    ss12000_sandbox_factory: SS12000SandboxFactory,
    kafka_bootstrap: str,
    tmp_path: Path,
):
    """dag.test() over a config holding an SS 12000 source publishes the tenant's people."""
    sandbox = ss12000_sandbox_factory(60)
    prefix = unique_prefix()
    hub_config(
        {
            "kafka": {"bootstrap": kafka_bootstrap, "topic_prefix": prefix, "partitions": 1},
            "database_url": f"sqlite:///{tmp_path / 'hub.db'}",
            "tenants": [sandbox.tenant_entry()],
        }
    )
    dag = dagbag.get_dag("hub_identity_sync")
    for task in dag.tasks:  # a failure should fail the test now, not wait out retry delays
        task.retries = 0

    run = dag.test()

    assert "success" == run.state
    mapped = [ti for ti in run.get_task_instances() if ti.task_id == "sync"]
    assert ["success"] == [ti.state for ti in mapped]
    people = consume_all(kafka_bootstrap, [f"{prefix}.identity.person.v2"])
    placements = consume_all(kafka_bootstrap, [f"{prefix}.identity.placement.v2"])
    assert {sandbox.tenant} == {json.loads(r.value)["after"]["tenant"] for r in people}
    assert (sandbox.data.count("persons"), sandbox.data.count("placements")) == (
        len(people),
        len(placements),
    )
