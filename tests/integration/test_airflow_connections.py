"""The sources as Airflow connections, through the real API server: listed, and testable."""

from __future__ import annotations

import json
from typing import Any

import requests

from connectors import registry


def call(api: Any, method: str, path: str, **kwargs: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {api.token('admin')}"}
    return requests.request(method, api.url + path, headers=headers, timeout=60, **kwargs)


def jamf_connection(sandbox: Any, password: str) -> dict[str, Any]:
    """A Jamf Pro connection to the sandbox's API client, as the Connections form sends it."""
    entry = sandbox.source_entry("jamf")
    return {
        "connection_id": "jamf_lillevik",
        "conn_type": "jamf_pro",
        "host": entry["base_url"],
        "login": entry["auth"]["client_id"],
        "password": password,
        "extra": json.dumps({"token_url": entry["auth"]["token_url"]}),
    }


def test_the_api_server_lists_a_connection_type_per_connector(airflow_api: Any):
    """/api/v2/providers lists the hub; the Connections page's hook metadata has every type."""
    providers = call(airflow_api, "GET", "/api/v2/providers").json()["providers"]
    assert "skolehub" in {p["package_name"] for p in providers}
    meta = call(airflow_api, "GET", "/ui/connections/hook_meta").json()
    types = {m["connection_type"]: m["hook_name"] for m in meta}
    assert {s.type: s.title for s in registry.specs()}.items() <= types.items()
    (intune,) = [m for m in meta if m["connection_type"] == "intune"]
    assert {"token_url", "scope"} <= set(intune["extra_fields"])


def test_testing_a_sandbox_connection_succeeds_and_a_wrong_secret_fails(
    airflow_api: Any, mdm_sandbox: Any
):
    """Test on a Jamf Pro connection: the sandbox answers; a wrong secret fails, saying so."""
    good = jamf_connection(mdm_sandbox, mdm_sandbox.secret("jamf"))
    answer = call(airflow_api, "POST", "/api/v2/connections/test", json=good)
    assert (200, True) == (answer.status_code, answer.json()["status"]), answer.text
    assert answer.json()["message"].startswith("Jamf Pro answered")

    wrong = jamf_connection(mdm_sandbox, "wrong-secret-4242")
    answer = call(airflow_api, "POST", "/api/v2/connections/test", json=wrong)
    message = answer.json()["message"]
    assert (200, False) == (answer.status_code, answer.json()["status"]), answer.text
    assert message.startswith("Jamf Pro: ") and "refused" in message, message
    assert "wrong-secret-4242" not in message
