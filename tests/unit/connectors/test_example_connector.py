"""The guide's example connector joins the hub from its own files alone."""

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO_ROOT

#: Run in a fresh interpreter: the example registers itself before `hub.settings` builds
#: the settings union, as a module under `connectors/` would be discovered.
SCRIPT = """
import json, os
from connectors import registry
from tests.unit.connectors import example_connector
registry.register(example_connector.CONNECTOR)

from connectors import provider
from connectors.airflow import domain_assets, sync_lanes
from hub.dev.airflow_local import POOLS
from hub.sync_tasks import sync_plan
from hub.settings import parse_settings
from hub.sources import build_source, check_source, source_domain
from hub.dev.sandbox.webserver import start_in_thread

server = start_in_thread({"register": example_connector.RegisterApp("lillevik")})
os.environ["EXAMPLE_REGISTER_TOKEN"] = example_connector.TOKEN
entry = example_connector.source_entry(server.base_url("lillevik", "register"))
settings = parse_settings({"tenants": [{"id": "lillevik", "name": "L", "sources": [entry]}]})
tenant = settings.tenants[0]
(source,) = tenant.sources
check_source(tenant, source)
with build_source(tenant, source) as connector:
    keys = sorted(item.key for item in connector.read() if hasattr(item, "key"))
server.stop()
print(json.dumps({
    "type": type(source).__name__,
    "domain": source_domain(source),
    "keys": keys,
    "pool": POOLS.get("hub_identity_example_register"),
    "lanes": [[l.suffix, l.pool, list(l.types)] for l in sync_lanes("identity")],
    "assets": sorted(a.name for a in domain_assets("identity")),
    "types": [c["connection-type"] for c in provider.get_provider_info()["connection-types"]],
    "table": "`example_register` | Example school register" in registry.sources_table(),
}))
"""


def test_the_example_connector_joins_settings_sources_dags_pools_docs_and_airflow(tmp_path: Path):
    """Registered, the example is configurable, built, checked, planned, pooled and listed."""
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "HUB_VAR_DIR": str(tmp_path)},
        check=False,
    )
    assert 0 == done.returncode, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert {
        "type": "ExampleRegisterSettings",
        "domain": "identity",
        "keys": [f"s{n}" for n in range(7)],
        "pool": [2, "School register syncs"],
        "lanes": [
            ["", None, ["feide_ldap", "os2skoledata", "ss12000"]],
            ["_example_register", "hub_identity_example_register", ["example_register"]],
        ],
        "table": True,
    } == {k: v for k, v in seen.items() if k not in ("assets", "types")}
    assert "example_register" in seen["types"]
    assert "hub.identity.organisation.v2" in seen["assets"]


def test_without_it_the_identity_dag_keeps_its_tasks():
    """The product's registry alone gives the identity DAG its one `plan`/`sync` pair."""
    from connectors.airflow import sync_lanes

    assert [("", None)] == [(lane.suffix, lane.pool) for lane in sync_lanes("identity")]
