"""`hub sandbox up --lms solberga=teams|classroom|canvas|moodle`: a tenant's native LMS."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from connectors.lms.canvas import Canvas
from connectors.lms.moodle import Moodle
from hub.dev.local_services import NATIVE_LMS, _sandbox_config, native_lms_choice
from hub.dev.sandbox import canvas, moodle
from hub.dev.sandbox.population import generate
from hub.dev.sandbox.roster import roster
from hub.dev.sandbox.webserver import sandbox_apps
from hub.settings import SettingsError, parse_settings
from schemas.entities import Person
from tests.fixtures._web import sandbox_servers
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
    [
        ("teams", "teams", "graph_education"),
        ("classroom", "classroom", "google_classroom"),
        ("canvas", "canvas", "canvas"),
        ("moodle", "moodle", "moodle"),
    ],
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
    for text in ("ekby=teams", "solberga=blackboard", "solberga"):
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


def test_the_web_server_serves_canvas_and_moodle_from_the_oneroster_data():
    """Canvas and Moodle answer with the tenant's token and read its OneRoster platform."""
    clients = {"solberga": ("c-solberga", "s" * 32)}
    tokens = {"canvas": {"solberga": "canvas-token"}, "moodle": {"solberga": "moodle-token"}}
    apps = sandbox_apps(
        ["solberga"],
        20,
        clients=clients,
        mdm={"solberga": credentials_for("solberga")},
        lms_tokens=tokens,
    )
    platform = apps["oneroster"].data["solberga"]  # type: ignore[attr-defined]
    assert platform is apps["canvas"].data["solberga"].lms  # type: ignore[attr-defined]
    assert platform is apps["moodle"].data["solberga"].lms  # type: ignore[attr-defined]
    assert {"solberga": "canvas-token"} == apps["canvas"].tokens  # type: ignore[attr-defined]
    assert {"solberga": "moodle-token"} == apps["moodle"].tokens  # type: ignore[attr-defined]


def test_without_tokens_the_web_server_serves_no_canvas_or_moodle():
    """Canvas and Moodle are mounted only for tenants with a token."""
    clients = {"solberga": ("c-solberga", "s" * 32)}
    apps = sandbox_apps(
        ["solberga"], 20, clients=clients, mdm={"solberga": credentials_for("solberga")}
    )
    assert "canvas" not in apps and "moodle" not in apps


def test_the_tokens_are_kept_and_written_as_the_source_entries_name_them(tmp_path: Path):
    """A tenant's token is made once, kept 0600, and goes to the variable hub.yaml names."""
    first = canvas.access_tokens(tmp_path, ["solberga"])["solberga"]
    both = canvas.access_tokens(tmp_path, ["solberga", "lillevik"])
    assert first == both["solberga"] != both["lillevik"]
    for module, vendor in ((canvas, "canvas"), (moodle, "moodle")):
        lines = module.secrets_env(tmp_path, ["solberga"])
        entry = NATIVE_LMS[vendor]("solberga", "http://127.0.0.1:1")
        token = module.access_tokens(tmp_path, ["solberga"])["solberga"]
        assert {entry["auth"]["secret"]["env"]: token} == lines
        assert 0o600 == (tmp_path / f"{vendor}-tokens.json").stat().st_mode & 0o777


@pytest.mark.parametrize(("platform", "connector"), [("canvas", Canvas), ("moodle", Moodle)])
def test_the_sandbox_source_entry_reads_the_served_platform(
    tmp_path: Path, platform: str, connector: type[Canvas] | type[Moodle]
):
    """The hub.yaml entry `--lms` writes reaches the served platform with the kept token."""
    tokens = {"canvas": canvas.access_tokens(tmp_path, ["solberga"]),
              "moodle": moodle.access_tokens(tmp_path, ["solberga"])}  # fmt: skip
    apps = sandbox_apps(
        ["solberga"],
        20,
        clients={"solberga": ("c-solberga", "s" * 32)},
        mdm={"solberga": credentials_for("solberga")},
        lms_tokens=tokens,
    )
    with sandbox_servers() as serve:
        server = serve(apps)
        entry = NATIVE_LMS[platform]("solberga", server.url)
        settings = parse_settings(
            {"tenants": [{"id": "solberga", "name": "S", "sources": [entry]}]}
        )
        source = connector(
            settings.tenant("solberga").sources[0],  # type: ignore[arg-type]
            tenant="solberga",
            secret=tokens[platform]["solberga"],
        )
        with source:
            people = [i for i in source.read() if isinstance(i, Person)]
    assert len(people) >= len(apps["oneroster"].data["solberga"].owner.everyone) // 2  # type: ignore[attr-defined]
