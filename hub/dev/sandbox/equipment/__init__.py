"""The sandbox's equipment register and service desk: TOPdesk and Snipe-IT.

`equipment_apps(tenants, scale, seed, secrets=...)` mounts the two apps for generated
tenants (both serve the same `Register` of a tenant: its schools' rooms, equipment and
support tickets, `register.py`); `equipment_source_configs(tenant, server_url)` is the
tenant's hub.yaml entries (ids `topdesk_assets`, `topdesk_incidents`, `snipeit`) and
`secret_envs(tenant)` the environment variables that hold their secrets.
`equipment_secrets(tenant)` derives a tenant's sandbox secrets (an application password,
a personal access token) from the tenant's id: they protect nothing real.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import date
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
    "equipment_secrets",
    "equipment_source_configs",
    "secret_envs",
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


def equipment_apps(
    tenants: Sequence[str], scale: int, seed: int = 1, *, reference: date | None = None
) -> dict[str, Any]:
    """The TOPdesk and Snipe-IT apps for generated tenants, sharing one register each."""
    registers = {t: Register.build(roster(t, scale, seed), seed, reference) for t in tenants}
    secrets = {t: equipment_secrets(t) for t in tenants}
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


def secrets_env_lines(tenants: Sequence[str]) -> list[str]:
    """`secrets.env` lines for the tenants' equipment sources."""
    lines = []
    for tenant in tenants:
        envs, secrets = secret_envs(tenant), equipment_secrets(tenant)
        lines += [f"{envs[vendor]}={secrets[vendor]}" for vendor in ("topdesk", "snipeit")]
    return lines


def registers_of(apps: Mapping[str, Any]) -> dict[str, Register]:
    """The registers the apps serve, by tenant."""
    app = apps["topdesk"]
    assert isinstance(app, TopdeskApp)
    return app.registers
