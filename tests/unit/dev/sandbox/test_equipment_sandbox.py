"""The sandbox equipment register, its credentials and its wiring into `hub sandbox up`."""

from __future__ import annotations

import stat
from pathlib import Path

from hub.dev.sandbox.equipment import (
    Register,
    equipment_credentials,
    equipment_source_configs,
    secrets_env,
)
from hub.dev.sandbox.roster import roster
from hub.dev.sandbox.webserver import sandbox_apps
from hub.settings import parse_settings


def test_the_register_has_rooms_that_meet_and_miss_the_minimum() -> None:
    """Some classrooms have picture and sound, some lack one; every school has tickets."""
    register = Register.build(roster("lillevik", 600), 1)
    kinds: dict[tuple[str, str], set[str]] = {}
    for item in register.items:
        if item.status == "in_use" and item.room != "Lager":
            kinds.setdefault((item.school, item.room), set()).add(item.kind)
    meets = [
        k
        for k, v in kinds.items()
        if v & {"projector", "interactive_board"} and "sound_system" in v
    ]
    assert 0 < len(meets) < len(kinds)
    assert {i.school for i in register.items} == {t.school for t in register.tickets}
    assert any(t.completed is None for t in register.tickets)
    assert all(t.completed is None or t.completed > t.called for t in register.tickets)


def test_credentials_are_made_once_and_private(tmp_path: Path) -> None:
    """Each tenant's secrets are kept in a 0600 file and read back the same."""
    first = equipment_credentials(tmp_path, ["lillevik", "solberga"])
    assert first == equipment_credentials(tmp_path, ["lillevik", "solberga"])
    mode = stat.S_IMODE((tmp_path / "equipment-credentials.json").stat().st_mode)
    assert 0o600 == mode
    assert first["lillevik"]["topdesk"] in secrets_env(tmp_path, ["lillevik"]).values()


def test_sandbox_apps_serve_topdesk_and_snipeit(tmp_path: Path) -> None:
    """`sandbox_apps(..., equipment=...)` mounts TOPdesk, Snipe-IT and ASM for those tenants."""
    tenants = ["lillevik", "solberga"]
    clients = {t: (f"{t}-client", "secret") for t in tenants}
    apps = sandbox_apps(
        tenants, 20, clients=clients, equipment=equipment_credentials(tmp_path, tenants)
    )
    assert {"topdesk", "snipeit", "asm"} <= set(apps)
    assert ("lillevik", "solberga") == tuple(apps["topdesk"].tenants)


def test_the_source_entries_are_valid_hub_settings() -> None:
    """The entries load as TOPdesk assets, incidents, Snipe-IT and Apple School Manager."""
    entries = equipment_source_configs("lillevik", "http://127.0.0.1:1")
    hub = parse_settings({"tenants": [{"id": "lillevik", "name": "L", "sources": entries}]})
    assert ["topdesk_assets", "topdesk_incidents", "snipeit", "apple_school_manager"] == [
        s.type for s in hub.tenants[0].sources
    ]
