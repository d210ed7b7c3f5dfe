"""The sandbox's equipment register and service desk: TOPdesk and Snipe-IT.

`equipment_apps(tenants, scale, seed, secrets=...)` mounts the two apps for generated
tenants (both serve the same `Register` of a tenant: its schools' rooms, equipment and
support tickets, `register.py`); `equipment_source_configs(tenant, server_url)` is the
tenant's hub.yaml entries (ids `topdesk_assets`, `topdesk_incidents`, `snipeit`) and
`secret_envs(tenant)` the environment variables that hold their secrets.
`equipment_credentials(home, tenants)` makes each tenant's secrets once (a TOPdesk
application password, a Snipe-IT personal access token) and keeps them in
`home/equipment-credentials.json` (0600); `secrets_env(home, tenants)` gives the
`secrets.env` lines. Tests that start the apps in process use `equipment_secrets(tenant)`,
secrets derived from the tenant's id (they protect nothing).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets as secrets_module
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from hub.dev.sandbox.equipment.register import Register
from hub.dev.sandbox.equipment.snipeit import SnipeItApp
from hub.dev.sandbox.equipment.topdesk import APP_USER, TopdeskApp
from hub.dev.sandbox.roster import roster

__all__ = [
    "APP_USER",
    "Register",
    "SnipeItApp",
    "TopdeskApp",
    "equipment_apps",
    "equipment_credentials",
    "equipment_secrets",
    "equipment_source_configs",
    "secret_envs",
    "secrets_env",
]


def equipment_secrets(tenant: str) -> dict[str, str]:
    """The tenant's sandbox secrets: `topdesk` (application password), `snipeit` (token)."""

    def derive(what: str) -> str:
        return hashlib.sha256(f"skolehub-sandbox:{tenant}:{what}".encode()).hexdigest()[:32]

    return {"topdesk": derive("topdesk"), "snipeit": derive("snipeit")}


def secret_envs(tenant: str) -> dict[str, str]:
    """The environment variable of each vendor's secret, as the hub.yaml entries name them."""
    upper = tenant.upper().replace("-", "_")
    return {
        "topdesk": f"HUB_SANDBOX_TOPDESK_{upper}_SECRET",
        "snipeit": f"HUB_SANDBOX_SNIPEIT_{upper}_TOKEN",
    }


def equipment_credentials(home: Path, tenants: Sequence[str]) -> dict[str, dict[str, str]]:
    """Each tenant's secrets, made once and kept in `home/equipment-credentials.json` (0600)."""
    path = home / "equipment-credentials.json"
    known: dict[str, dict[str, str]] = json.loads(path.read_text()) if path.exists() else {}
    missing = [t for t in tenants if t not in known]
    if missing:
        for tenant in missing:
            known[tenant] = {v: secrets_module.token_urlsafe(24) for v in ("topdesk", "snipeit")}
        home.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as stream:
            json.dump(known, stream, indent=2)
    return {t: known[t] for t in tenants}


def secrets_env(home: Path, tenants: Sequence[str]) -> dict[str, str]:
    """`secrets.env` lines for the tenants' TOPdesk and Snipe-IT: variable name → secret."""
    lines: dict[str, str] = {}
    for tenant, secrets in equipment_credentials(home, tenants).items():
        names = secret_envs(tenant)
        lines.update({names[vendor]: secrets[vendor] for vendor in ("topdesk", "snipeit")})
    return lines


def equipment_apps(
    tenants: Sequence[str],
    scale: int,
    seed: int = 1,
    *,
    credentials: Mapping[str, Mapping[str, str]] | None = None,
    reference: date | None = None,
) -> dict[str, Any]:
    """The TOPdesk and Snipe-IT apps for generated tenants, sharing one register each.

    `credentials`: tenant → {`topdesk`, `snipeit`} secrets (default: `equipment_secrets`).
    """
    registers = {t: Register.build(roster(t, scale, seed), seed, reference) for t in tenants}
    secrets = {t: dict((credentials or {}).get(t) or equipment_secrets(t)) for t in tenants}
    return {
        "topdesk": TopdeskApp(registers, {t: s["topdesk"] for t, s in secrets.items()}),
        "snipeit": SnipeItApp(registers, {t: s["snipeit"] for t, s in secrets.items()}),
    }


def equipment_source_configs(tenant: str, server_url: str) -> list[dict[str, Any]]:
    """The tenant's hub.yaml source entries for its TOPdesk (assets, incidents) and Snipe-IT.

    A real school owner runs one register or the other; the sandbox serves both, so both
    connectors run end to end (the follow-up counts an item once per source).
    """
    envs = secret_envs(tenant)
    topdesk = f"{server_url}/{tenant}/topdesk"
    basic = {"kind": "basic", "username": APP_USER, "secret": {"env": envs["topdesk"]}}
    return [
        {"type": "topdesk_assets", "id": "topdesk_assets", "base_url": topdesk, "auth": basic},
        {"type": "topdesk_incidents", "id": "topdesk_incidents", "base_url": topdesk,
         "auth": basic},
        {"type": "snipeit", "id": "snipeit", "base_url": f"{server_url}/{tenant}/snipeit",
         "auth": {"kind": "bearer", "secret": {"env": envs["snipeit"]}}},
    ]  # fmt: skip


def registers_of(apps: Mapping[str, Any]) -> dict[str, Register]:
    """The registers the apps serve, by tenant."""
    app = apps["topdesk"]
    assert isinstance(app, TopdeskApp)
    return app.registers
