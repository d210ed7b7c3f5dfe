"""The connector registry: each module's declaration, gathered once, and nothing of hub below it."""

import ast
from pathlib import Path

import pytest

import connectors
import hub.logging
from connectors import _redact, registry
from hub.settings import SettingsError, parse_settings
from hub.sources import entity_types_of, source_domain

CONNECTORS = Path(connectors.__file__).parent


def imported_modules(path: Path) -> set[str]:
    """Every module a Python file imports, at any depth of the file."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize(
    "path", sorted(CONNECTORS.rglob("*.py")), ids=lambda p: str(p.relative_to(CONNECTORS))
)
def test_no_connector_module_imports_hub(path: Path):
    """`connectors` sits below `hub`: no module of it imports `hub` or a module inside it."""
    assert [] == sorted(m for m in imported_modules(path) if m == "hub" or m.startswith("hub."))


def test_every_connector_module_declares_itself():
    """The connectors are found with the domains and pools the DAGs used before."""
    declared = {s.type: (s.domain, s.pool.name if s.pool else None) for s in registry.specs()}
    assert {
        "feide_ldap": ("identity", None),
        "ss12000": ("identity", None),
        "os2skoledata": ("identity", None),
        "oneroster": ("lms", "hub_lms_oneroster"),
        "graph_education": ("lms", "hub_lms_graph_education"),
        "google_classroom": ("lms", "hub_lms_google_classroom"),
        "itslearning": ("lms", "hub_lms_itslearning"),
        "canvas": ("lms", "hub_lms_canvas"),
        "moodle": ("lms", "hub_lms_moodle"),
        "intune": ("mdm", "hub_mdm_intune"),
        "jamf_pro": ("mdm", "hub_mdm_jamf_pro"),
        "apple_school_manager": ("mdm", "hub_mdm_apple_school_manager"),
        "topdesk_assets": ("equipment", "hub_equipment_topdesk"),
        "snipeit": ("equipment", "hub_equipment_snipeit"),
        "topdesk_incidents": ("support", "hub_support_topdesk"),
        "google_chromeos": ("mdm", "hub_mdm_google_chromeos"),
        "microsoft_licences": ("licences", "hub_licences_microsoft"),
        "apple_vpp": ("licences", "hub_licences_apple_vpp"),
        "google_workspace_licences": ("licences", "hub_licences_google_workspace"),
        "jamf_volume_purchasing": ("licences", "hub_licences_jamf_volume_purchasing"),
    } == declared


def test_the_hubs_source_functions_read_the_registry():
    """`source_domain` and `entity_types_of` answer from each connector's declaration."""
    settings = parse_settings(
        {
            "tenants": [
                {
                    "id": "t",
                    "name": "T",
                    "sources": [
                        {
                            "type": "jamf_pro",
                            "id": "jamf",
                            "base_url": "https://jamf.example",
                            "auth": {"kind": "basic", "username": "u", "secret": {"env": "X"}},
                        }
                    ],
                }
            ]
        }
    )
    (source,) = settings.tenants[0].sources
    assert ("mdm", registry.spec_for("jamf_pro").connector.entity_types) == (
        source_domain(source),
        entity_types_of(source),
    )


def test_an_unknown_source_type_fails_at_load_naming_the_known_ones():
    """The settings union is the registry's: a type no connector declares is a config error."""
    with pytest.raises(SettingsError) as raised:
        parse_settings({"tenants": [{"id": "t", "name": "T", "sources": [{"type": "blackboard"}]}]})
    assert "tenants.0.sources.0" in str(raised.value)
    assert all(spec.type in str(raised.value) for spec in registry.specs())


def test_the_docs_table_of_sources_is_current():
    """docs/sources.md is what `python -m connectors.registry` generates today."""
    assert registry.sources_table() == registry.DOCS_TABLE.read_text(encoding="utf-8")


def test_the_check_fails_on_a_stale_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """`python -m connectors.registry --check` exits 1 when the table is not current."""
    stale = tmp_path / "sources.md"
    stale.write_text("# Sources\n", encoding="utf-8")
    monkeypatch.setattr(registry, "DOCS_TABLE", stale)
    assert 1 == registry.main(["--check"])
    assert 0 == registry.main([])
    assert 0 == registry.main(["--check"])


def test_hub_logging_scrubs_with_the_connectors_detector():
    """`hub.logging.scrub` is the one detector that connectors use too."""
    assert _redact.scrub is hub.logging.scrub


def test_no_http_connector_overrides_the_reading_loop():
    """HTTP connectors use hooks and declarations, never their own reading loop.

    Paging, fetching ahead and partial reads are then handled in one place.
    """
    from connectors.http import HttpSource

    loop = ("read", "read_stream", "fetch_page", "pages")
    http = [s.connector for s in registry.specs() if issubclass(s.connector, HttpSource)]
    assert {
        "SS12000",
        "OneRoster",
        "Itslearning",
        "Canvas",
        "Moodle",
        "GoogleChromeOS",
        "Intune",
        "JamfPro",
        "OS2skoledata",
        "TopdeskAssets",
        "TopdeskIncidents",
        "SnipeIt",
        "AppleSchoolManager",
        "GraphEducation",
        "GoogleClassroom",
        "MicrosoftLicences",
        "AppleVpp",
        "GoogleWorkspaceLicences",
        "JamfVolumePurchasing",
    } == {c.__name__ for c in http}
    overridden = {
        (c.__name__, name)
        for c in http
        for name in loop
        if getattr(c, name) is not getattr(HttpSource, name)
    }
    # OS2skoledata does not page: it reads whole lists per institution, decides between the
    # change log and a full read before reading, and fetches changes by POSTed ids.
    assert {("OS2skoledata", "read")} == overridden
