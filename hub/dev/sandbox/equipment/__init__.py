"""The sandbox's equipment register and service desk: TOPdesk and Snipe-IT.

`equipment_apps(tenants, scale, seed, secrets=...)` mounts the two apps for generated
tenants (both serve the same `Register` of a tenant: its schools' rooms, equipment and
support tickets, `register.py`); `equipment_source_configs(tenant, server_url)` is the
tenant's hub.yaml entries (ids `topdesk_assets`, `topdesk_incidents`, `snipeit`) and
`secret_envs(tenant)` the environment variables that hold their secrets.
It also mounts the tenant's purchase register, the Apple School Manager API (`asm`,
`hub.dev.sandbox.mdm.asm`: the tenant's Jamf devices as bought, and some never enrolled),
whose source entry (`asm`) feeds the MDM domain. `equipment_credentials(home, tenants)`
makes each tenant's secrets once (a TOPdesk application password, a Snipe-IT personal
access token, an Apple School Manager API account with its EC P-256 key) and keeps them in
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
from hub.dev.sandbox.mdm.asm import (
    AsmApp,
    AsmCredentials,
    account_ids,
    generate_asm_credentials,
)
from hub.dev.sandbox.mdm.fleet import Fleet
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


def _new_secrets(tenant: str) -> dict[str, str]:
    account = generate_asm_credentials(tenant)
    return {
        "topdesk": secrets_module.token_urlsafe(24),
        "snipeit": secrets_module.token_urlsafe(24),
        "asm": account.private_key,
        "asm_public_key": account.public_key,
    }


def secret_envs(tenant: str) -> dict[str, str]:
    """The environment variable of each vendor's secret, as the hub.yaml entries name them."""
    upper = tenant.upper().replace("-", "_")
    return {
        "topdesk": f"HUB_SANDBOX_TOPDESK_{upper}_SECRET",
        "snipeit": f"HUB_SANDBOX_SNIPEIT_{upper}_TOKEN",
        "asm": f"HUB_SANDBOX_ASM_{upper}_KEY",
    }


def equipment_credentials(home: Path, tenants: Sequence[str]) -> dict[str, dict[str, str]]:
    """Each tenant's secrets, made once and kept in `home/equipment-credentials.json` (0600)."""
    path = home / "equipment-credentials.json"
    known: dict[str, dict[str, str]] = json.loads(path.read_text()) if path.exists() else {}
    missing = [t for t in tenants if t not in known]
    if missing:
        for tenant in missing:
            known[tenant] = _new_secrets(tenant)
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
        lines.update({names[v]: secrets[v] for v in ("topdesk", "snipeit") if v in secrets})
        if "asm" in secrets:  # a PEM: one env-file line, its breaks written as \n
            lines[names["asm"]] = secrets["asm"].replace("\n", "\\n")
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
    owners = {t: roster(t, scale, seed) for t in tenants}
    registers = {t: Register.build(owner, seed, reference) for t, owner in owners.items()}
    secrets = {t: dict((credentials or {}).get(t) or equipment_secrets(t)) for t in tenants}
    apps: dict[str, Any] = {
        "topdesk": TopdeskApp(registers, {t: s["topdesk"] for t, s in secrets.items()}),
        "snipeit": SnipeItApp(registers, {t: s["snipeit"] for t, s in secrets.items()}),
    }
    accounts = {
        t: AsmCredentials(*account_ids(t), s["asm"], s["asm_public_key"])
        for t, s in secrets.items()
        if "asm" in s
    }
    if accounts:
        fleets = {t: Fleet.build(owners[t], reference) for t in accounts}
        apps["asm"] = AsmApp(fleets, accounts)
    return apps


def equipment_source_configs(tenant: str, server_url: str) -> list[dict[str, Any]]:
    """The tenant's hub.yaml entries: TOPdesk (assets, incidents), Snipe-IT, Apple School Manager.

    A real school owner runs one register or the other; the sandbox serves both, so both
    connectors run end to end (the follow-up counts an item in both once, by serial).
    """
    envs = secret_envs(tenant)
    client_id, key_id = account_ids(tenant)
    base = f"{server_url}/{tenant}/asm"
    purchases = [
        {
            "type": "apple_school_manager",
            "id": "asm",
            "base_url": base,
            "auth": {
                "kind": "apple_client_assertion",
                "token_url": f"{base}/auth/oauth2/token",
                "client_id": client_id,
                "key_id": key_id,
                "secret": {"env": envs["asm"]},
            },
        }
    ]
    topdesk = f"{server_url}/{tenant}/topdesk"
    basic = {"kind": "basic", "username": APP_USER, "secret": {"env": envs["topdesk"]}}
    return [
        {"type": "topdesk_assets", "id": "topdesk_assets", "base_url": topdesk, "auth": basic},
        {"type": "topdesk_incidents", "id": "topdesk_incidents", "base_url": topdesk,
         "auth": basic},
        {"type": "snipeit", "id": "snipeit", "base_url": f"{server_url}/{tenant}/snipeit",
         "auth": {"kind": "bearer", "secret": {"env": envs["snipeit"]}}},
        *purchases,
    ]  # fmt: skip


def registers_of(apps: Mapping[str, Any]) -> dict[str, Register]:
    """The registers the apps serve, by tenant."""
    app = apps["topdesk"]
    assert isinstance(app, TopdeskApp)
    return app.registers
