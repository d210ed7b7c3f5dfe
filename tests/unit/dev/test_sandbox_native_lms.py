"""`hub sandbox up --lms solberga=teams|classroom`: a tenant on a native learning platform."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import yaml

from hub.dev.local_services import _sandbox_config, native_lms_choice
from hub.dev.sandbox.population import generate
from hub.dev.sandbox.roster import roster
from hub.dev.sandbox.webserver import sandbox_apps
from hub.settings import SettingsError, parse_settings
from tests.fixtures.mdm import credentials_for


def _sources(native: dict[str, str]) -> dict[str, dict[str, str]]:
    server = SimpleNamespace(
        uri="ldap://127.0.0.1:1", suffix="dc=skolehub,dc=test", reader_dn="cn=hub-reader,dc=x"
    )
    text = _sandbox_config(
        server,  # type: ignore[arg-type]
        "http://127.0.0.1:1",
        [generate("lillevik", 30, 1)],
        [roster("solberga", 30, 1)],
        native=native,
    )
    config = yaml.safe_load(text)
    parse_settings(config)
    return {t["id"]: {s["id"]: s["type"] for s in t["sources"]} for t in config["tenants"]}


@pytest.mark.parametrize(
    ("platform", "source", "kind"),
    [("teams", "teams", "graph_education"), ("classroom", "classroom", "google_classroom")],
)
def test_a_tenant_reads_its_native_platform_instead_of_oneroster(
    platform: str, source: str, kind: str
):
    """The chosen tenant's LMS source is the native one; the other tenants keep OneRoster."""
    sources = _sources(native_lms_choice(f"solberga={platform}", ["lillevik", "solberga"]))
    assert kind == sources["solberga"][source] and "oneroster" not in sources["solberga"]
    assert "oneroster" == sources["lillevik"]["oneroster"]


def test_without_the_option_every_tenant_runs_oneroster():
    """The default sandbox is as before (the golden figures stay)."""
    sources = _sources({})
    assert all(s.get("oneroster") == "oneroster" for s in sources.values())


def test_an_unknown_tenant_or_platform_is_refused():
    """`--lms` names a tenant of the sandbox and a platform it offers."""
    for text in ("ekby=teams", "solberga=moodle", "solberga"):
        with pytest.raises(SettingsError):
            native_lms_choice(text, ["solberga"])


def test_the_web_server_serves_the_native_platforms_from_the_oneroster_data():
    """Teams classes and Classroom share the tenant's OneRoster platform, not a copy."""
    clients = {"solberga": ("c-solberga", "s" * 32)}
    apps = sandbox_apps(
        ["solberga"], 20, clients=clients, mdm={"solberga": credentials_for("solberga")}
    )
    platform = apps["oneroster"].data["solberga"]  # type: ignore[attr-defined]
    assert platform is apps["graph_education"].data["solberga"].view.data  # type: ignore[attr-defined]
    assert platform is apps["classroom"].data["solberga"].data  # type: ignore[attr-defined]
