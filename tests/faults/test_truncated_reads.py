"""Scenario 5: sources that truncate. No delete is published, and the run says why.

A real `hub sync` process reads a OneRoster provider (the sandbox, in this process) that
misbehaves on its second read: an empty page that still carries a next link, a page cut
short against the declared total, a 404 on page three, a record that turns malformed.
What reached the topics is read back with a plain consumer.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.faults.conftest import EXIT_FAILED, EXIT_OK, HUB, RUN_TIMEOUT_S
from tests.faults.convergence import read_events
from tests.fixtures.lms import LmsSandbox
from tests.support import unique_prefix

pytestmark = pytest.mark.faults

USERS = "/ims/oneroster/rostering/v1p2/users"


class LmsRun:
    """`hub sync lillevik oneroster --json` as a subprocess against the sandbox provider."""

    def __init__(self, sandbox: LmsSandbox, bootstrap: str, home: Path) -> None:
        self.bootstrap = bootstrap
        self.prefix = unique_prefix()
        self.var = home / "var"
        self.var.mkdir(parents=True)
        self.config = self.var / "hub.yaml"
        settings: dict[str, Any] = {
            "kafka": {"bootstrap": bootstrap, "topic_prefix": self.prefix, "partitions": 1},
            "database_url": f"sqlite:///{self.var / 'hub.db'}",
            "tenants": [
                {
                    **sandbox.tenant_entry(page_size=20),
                    "deletion_guard": {"max_deletes": 10_000, "max_share": 1.0},
                }
            ],
        }
        self.config.write_text(json.dumps(settings), encoding="utf-8")  # JSON is YAML
        self.source = settings["tenants"][0]["sources"][0]["id"]

    def sync(self) -> tuple[int, dict[str, Any]]:
        """Run one full sync (the only kind that deletes); its exit code and summary."""
        env = {
            **os.environ,
            "HUB_CONFIG": str(self.config),
            "HUB_VAR_DIR": str(self.var),
            "HUB_KAFKA_BOOTSTRAP": self.bootstrap,
        }
        for name in ("HUB_FAULT_POINT", "HUB_ENV_FILE", "HUB_DATABASE_URL"):
            env.pop(name, None)
        done = subprocess.run(
            [str(HUB), "sync", "lillevik", self.source, "--full", "--json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_S,
            check=False,
        )
        assert "Traceback" not in done.stderr, done.stderr[-3000:]
        (summary,) = json.loads(done.stdout.strip().splitlines()[-1])["syncs"]
        return done.returncode, summary


@pytest.mark.parametrize(
    ("fault", "code", "says"),
    [
        ({"kind": "empty_page", "path": USERS, "after": 1}, EXIT_OK, None),
        ({"kind": "truncate", "path": USERS, "after": 1}, EXIT_FAILED, "declared"),
        ({"kind": "status", "status": 404, "path": USERS, "after": 2}, EXIT_FAILED, "page"),
        ({"kind": "malformed", "path": USERS, "after": 1, "index": 3}, EXIT_OK, None),
    ],
    ids=["empty-page-with-a-next-link", "short-read", "404-on-page-three", "malformed-record"],
)
def test_a_truncated_read_publishes_no_delete_and_says_why(
    lms_sandbox: LmsSandbox,
    kafka_bootstrap: str,
    tmp_path: Path,
    fault: dict[str, Any],
    code: int,
    says: str | None,
) -> None:
    """Whatever the provider leaves out, the next run deletes nothing; a failed one says why."""
    hub = LmsRun(lms_sandbox, kafka_bootstrap, tmp_path)
    first_code, first = hub.sync()
    assert (EXIT_OK, "success") == (first_code, first["status"]), first
    before = {r.position for r in read_events(kafka_bootstrap, hub.prefix)}

    lms_sandbox.server.add_fault(**fault)
    second_code, second = hub.sync()

    new = [r for r in read_events(kafka_bootstrap, hub.prefix) if r.position not in before]
    deletes = [r.key for r in new if r.value is not None and json.loads(r.value)["op"] == "d"]
    assert ([], code) == (deletes, second_code), second
    assert 0 == second["deleted"]
    if says is not None:
        assert "failed" == second["status"]
        assert says in second["error"], second["error"]
    if fault["kind"] == "malformed":
        assert 1 <= second["dead_lettered"]
