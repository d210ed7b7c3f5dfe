"""The hub as an Airflow provider: a connection type per connector, found by its entry point."""

from typing import Any

import pytest
import structlog

from connectors import provider, registry
from connectors.airflow import IntuneHook, JamfProHook, hook_class  # type: ignore[attr-defined]
from connectors.errors import ConnectorError

TYPES = {
    "feide_ldap",
    "ss12000",
    "os2skoledata",
    "oneroster",
    "itslearning",
    "canvas",
    "moodle",
    "intune",
    "jamf_pro",
    "google_chromeos",
    "apple_school_manager",
    "topdesk_assets",
    "topdesk_incidents",
    "snipeit",
    "graph_education",
    "google_classroom",
    "microsoft_licences",
    "apple_vpp",
    "google_workspace_licences",
    "jamf_volume_purchasing",
}


def test_providers_manager_lists_a_connection_type_per_connector():
    """After `pip install -e .`, Airflow's ProvidersManager finds every connection type and hook."""
    from airflow.providers_manager import ProvidersManager
    from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

    manager = ProvidersManager()
    assert "skolehub" in manager.providers
    ui = {m.connection_type: m.hook_name for m in manager.iter_connection_type_hook_ui_metadata()}
    hooks = ProvidersManagerTaskRuntime().hooks
    found = {t: (ui[t], hooks[t].hook_class_name, hooks[t].connection_testable) for t in TYPES}
    assert {
        s.type: (s.title, f"connectors.airflow.{s.connector.__name__}Hook", True)
        for s in registry.specs()
    } == found
    assert {"extra__intune__token_url", "extra__intune__scope"} <= set(
        manager.connection_form_widgets
    )
    assert "Base URL" == manager.field_behaviours["intune"]["relabeling"]["host"]


def test_the_provider_info_names_each_types_hook_class():
    """Each connection type's hook class is importable by the name the provider info gives."""
    info = provider.get_provider_info()
    names = {c["connection-type"]: c["hook-class-name"] for c in info["connection-types"]}
    assert "connectors.airflow.IntuneHook" == names["intune"]
    assert (IntuneHook, "intune", "Jamf Pro") == (
        hook_class(registry.spec_for("intune")),
        IntuneHook.conn_type,
        JamfProHook.hook_name,
    )


def test_a_connection_becomes_the_sources_settings():
    """Host, login, form fields and dotted extras fill the settings; the password is the secret."""
    settings: Any = provider.connection_settings(
        registry.spec_for("jamf_pro"),
        "jamf_lillevik",
        host="https://jamf.example/",
        login="reader",
        extra={"extra__jamf_pro__kind": "basic", "page_size": 50},
    )
    assert ("basic", "reader", "jamf_lillevik", 50) == (
        settings.auth.kind,
        settings.auth.username,
        settings.auth.secret.airflow_conn_id,
        settings.page_size,
    )
    ldap: Any = provider.connection_settings(
        registry.spec_for("feide_ldap"),
        "feide",
        host="ldap://127.0.0.1:389",
        login="cn=reader,dc=x",
        extra={"base_dn": "o=x"},
    )
    assert ("ldap://127.0.0.1:389", "cn=reader,dc=x", "o=x") == (
        ldap.uri,
        ldap.bind_dn,
        ldap.base_dn,
    )


def test_hub_check_and_the_hook_share_one_check(monkeypatch: pytest.MonkeyPatch):
    """The hook's test_connection reports what `registry.check_source` raises, scrubbed."""
    calls: list[str] = []

    def failing_check(settings: Any, context: registry.SourceContext) -> None:
        calls.append(settings.type)
        raise ConnectorError("token endpoint refused client Bearer abc.def", connector="mdm.jamf")

    monkeypatch.setattr(registry, "check_source", failing_check)
    hook = JamfProHook("jamf_x")
    monkeypatch.setattr(
        hook,
        "source_settings",
        lambda: provider.connection_settings(
            registry.spec_for("jamf_pro"),
            "jamf_x",
            host="https://j.example",
            login="c",
            extra={"token_url": "https://j.example/api/oauth/token"},
        ),
    )
    monkeypatch.setattr(
        hook, "get_connection", lambda conn_id: type("C", (), {"extra_dejson": {}})()
    )
    with structlog.testing.capture_logs():
        ok, message = hook.test_connection()
    assert (False, ["jamf_pro"]) == (ok, calls)
    assert "abc.def" not in message and message.startswith("Jamf Pro: ")
