"""The `hub` command end to end: sandbox up, run twice, sync with approval, check."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

HUB = [sys.executable, "-m", "hub.cli"]


def hub(var: Path, *args: str, bootstrap: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "HUB_VAR_DIR": str(var),
        "HUB_ENV_FILE": str(var / "sandbox" / "secrets.env"),
        "HUB_KAFKA_BOOTSTRAP": bootstrap,
    }
    env.pop("HUB_HMAC_KEY", None)  # the sandbox's secrets.env provides it, as for a user
    result = subprocess.run([*HUB, *args], env=env, capture_output=True, text=True, timeout=300)
    if check and result.returncode not in (0, 3):
        raise AssertionError(f"hub {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def test_sandbox_then_run_twice_publishes_then_nothing(tmp_path: Path, kafka_bootstrap: str):
    """`hub run` publishes the sandbox on the first run and nothing on the second."""
    var = tmp_path / "var"
    try:
        up = hub(
            var,
            "sandbox",
            "up",
            "--scale",
            "150",
            "--tenants",
            "nordby,sorby",
            "--web-port",
            "0",
            bootstrap=kafka_bootstrap,
        )
        assert "nordby" in up.stdout and (var / "hub.yaml").exists()
        assert 0o600 == (var / "sandbox" / "secrets.env").stat().st_mode & 0o777
        first = hub(var, "run", "--json", bootstrap=kafka_bootstrap)
        summary = json.loads(first.stdout.strip().splitlines()[-1])
        syncs = {(s["tenant"], s["source"]): s for s in summary["syncs"]}
        sources = ("feide", "oneroster", "intune", "jamf", "chromebooks")
        expected = {(t, s) for t in ("nordby", "sorby") for s in sources}
        assert expected == set(syncs)
        assert all(s["status"] == "success" and s["created"] > 0 for s in syncs.values())
        assert "Published" in first.stdout
        second = hub(var, "run", "--json", bootstrap=kafka_bootstrap)
        again = json.loads(second.stdout.strip().splitlines()[-1])
        assert [0] * 10 == [s["created"] + s["updated"] + s["deleted"] for s in again["syncs"]]
        assert "No changes: nothing was published." in second.stdout
        check = hub(var, "check", bootstrap=kafka_bootstrap)
        assert "0 failed" in check.stdout
    finally:
        hub(var, "sandbox", "down", bootstrap=kafka_bootstrap, check=False)


def test_bad_config_exits_2_naming_the_field(tmp_path: Path, kafka_bootstrap: str):
    """A hub.yaml with a wrong field makes every command exit 2 with the field's path."""
    var = tmp_path / "var"
    var.mkdir()
    (var / "hub.yaml").write_text("tenants:\n  - id: Bad Id\n    name: x\n")
    result = hub(var, "run", bootstrap=kafka_bootstrap, check=False)
    assert 2 == result.returncode
    assert "tenants.0.id" in result.stderr


def test_unknown_tenant_is_a_clear_error(tmp_path: Path, kafka_bootstrap: str):
    """Syncing a tenant that is not configured names the known ones."""
    var = tmp_path / "var"
    var.mkdir()
    (var / "hub.yaml").write_text("tenants:\n  - id: nordby\n    name: Nordby\n")
    result = hub(var, "sync", "nope", "feide", bootstrap=kafka_bootstrap, check=False)
    assert 2 == result.returncode
    assert "no tenant 'nope'" in result.stderr and "nordby" in result.stderr
