"""Fixtures shared by the whole suite; real services come from the plugins in tests/fixtures."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

REPO_ROOT = Path(__file__).resolve().parents[1]

# Airflow reads its configuration when first imported, so the suite's Airflow home (a
# throw-away folder with a SQLite metadata database) is set before any test imports it.
_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="skolehub-test-airflow-"))
os.environ.update(
    {
        "AIRFLOW_HOME": str(_AIRFLOW_HOME),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_AIRFLOW_HOME / 'airflow.db'}",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "plugins"),
    }
)

pytest_plugins = [
    "tests.fixtures.kafka",
    "tests.fixtures.slapd",
    "tests.fixtures.postgres",
    "tests.fixtures.lms",
    "tests.fixtures.ss12000",
    "tests.fixtures.os2skoledata",
    "tests.fixtures.mdm",
    "tests.fixtures.equipment",
    "tests.fixtures.asm",
    "tests.fixtures.lms_native",
    "tests.fixtures.lms_vendors",
    "tests.fixtures.licences",
    "tests.fixtures.airflow",
]

#: The HMAC key every test uses; the privacy tests look for it and for NINs in outputs.
TEST_HMAC_KEY = "test-hmac-key-0123456789abcdef"


@pytest.fixture(autouse=True)
def _hub_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Give every test its own var folder and the test HMAC key, and no stray config."""
    monkeypatch.setenv("HUB_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("HUB_HMAC_KEY", TEST_HMAC_KEY)
    for name in ("HUB_CONFIG", "HUB_DATABASE_URL", "HUB_ENV_FILE"):
        monkeypatch.delenv(name, raising=False)
    yield
    # A test that runs the CLI in-process configures structlog (level warning by default);
    # later tests that capture info-level logs need the defaults back.
    structlog.reset_defaults()


def in_ci() -> bool:
    """True when running under CI, where a missing service fails instead of skipping."""
    return os.environ.get("CI") == "true"
