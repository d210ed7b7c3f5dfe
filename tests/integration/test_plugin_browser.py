"""A browser signs in to Airflow and reads a sandbox tenant's follow-up page.

Debian's Chromium and chromium-driver (installed by `make system-deps`), driven by
Selenium; nothing is downloaded at run time. The screenshot is kept as a test artifact
in `var/test-artifacts/` (or `$HUB_TEST_ARTIFACTS`).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from hub.followup.snapshots import SnapshotStore
from hub.settings import load_settings
from schemas.followup import DeviceCoverage, Population
from tests.conftest import REPO_ROOT, in_ci

pytestmark = pytest.mark.integration

TENANT = "nordby"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def artifacts_dir() -> Path:
    folder = Path(os.environ.get("HUB_TEST_ARTIFACTS") or REPO_ROOT / "var" / "test-artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def hub(var: Path, *args: str, bootstrap: str) -> str:
    env = {
        **os.environ,
        "HUB_VAR_DIR": str(var),
        "HUB_CONFIG": str(var / "hub.yaml"),
        "HUB_ENV_FILE": str(var / "sandbox" / "secrets.env"),
        "HUB_KAFKA_BOOTSTRAP": bootstrap,
    }
    result = subprocess.run(
        [sys.executable, "-m", "hub.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, f"hub {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture
def sandbox_followup(airflow_api: Any, kafka_bootstrap: str) -> Iterator[Path]:
    """A small sandbox tenant synced and compiled into the API server's var folder."""
    var = airflow_api.var_dir
    hub(var, "sandbox", "up", "--scale", "150", "--tenants", TENANT, "--web-port", "0",
        bootstrap=kafka_bootstrap)  # fmt: skip
    try:
        hub(var, "run", bootstrap=kafka_bootstrap)
        yield var
    finally:
        hub(var, "sandbox", "down", bootstrap=kafka_bootstrap)


@pytest.fixture
def browser() -> Iterator[Any]:
    """Headless Chromium through chromedriver, both from Debian's packages."""
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        if in_ci():
            pytest.fail(
                "chromium and chromium-driver are missing: `make system-deps` installs them"
            )
        pytest.skip("chromium and chromium-driver are missing (skipped outside CI only)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-default-apps",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1280,2200",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def schools_in_snapshot(var: Path, monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """The tenant's schools as the compiled snapshot has them: the bars the page must draw."""
    monkeypatch.setenv("HUB_VAR_DIR", str(var))  # the store the server reads
    settings = load_settings(var / "hub.yaml")
    engine = sa.create_engine(settings.store_url)
    try:
        snapshots = SnapshotStore(engine)
        snapshot = snapshots.load(TENANT, snapshots.days(TENANT)[-1])
        assert snapshot is not None
        return {
            row.unit_key
            for row in snapshot.rows("device_coverage")
            if isinstance(row, DeviceCoverage) and row.population is Population.PUPILS
        }
    finally:
        engine.dispose()


def test_a_signed_in_user_sees_a_bar_per_school(
    airflow_api: Any, sandbox_followup: Path, browser: Any, monkeypatch: pytest.MonkeyPatch
):
    """Sign in through Airflow's login page, open the follow-up page, count the bars."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 60)
    browser.get(f"{airflow_api.url}/skolehub/followup/{TENANT}")
    assert "Not authenticated" in browser.page_source  # no session yet: refused

    browser.get(f"{airflow_api.url}/auth/login")
    password = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "input[type=password]")))
    username = browser.find_element(By.CSS_SELECTOR, "input:not([type=password])")
    username.send_keys("viewer")
    password.send_keys(airflow_api.password("viewer"), Keys.ENTER)
    wait.until(lambda d: d.get_cookie("_token") is not None)

    browser.get(f"{airflow_api.url}/skolehub/followup/{TENANT}")
    chart = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "svg.coverage-pupils")))
    bars = chart.find_elements(By.CSS_SELECTOR, "rect.bar")
    expected = schools_in_snapshot(sandbox_followup, monkeypatch)
    assert expected and expected == {bar.get_attribute("data-key") for bar in bars}
    assert len(expected) == len(bars)
    assert chart.find_elements(By.CSS_SELECTOR, "line.target")
    assert "signed in as viewer" in browser.page_source

    shot = artifacts_dir() / f"followup-{TENANT}.png"
    browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
