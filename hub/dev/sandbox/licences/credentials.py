"""The sandbox licence sources' secrets, and the hub.yaml entries that use them.

Microsoft 365 licences are read with the tenant's Intune app registration (one Entra ID
app granted both permissions: the Intune secret, see `hub.dev.sandbox.mdm.credentials`),
Google Workspace licences with its ChromeOS service account (delegated both scopes);
Apple's volume purchasing has its own content token (`sToken`) per tenant, generated once
and kept in `home`.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hub.dev.sandbox.mdm.credentials import (
    GRAPH_SCOPE,
    google_customer_id,
    google_subject,
    intune_client_id,
    intune_directory_id,
    jamf_client_id,
)
from hub.dev.sandbox.mdm.credentials import secret_envs as mdm_secret_envs

__all__ = [
    "jamf_vpp_source_config",
    "licence_source_configs",
    "licence_tokens",
    "secret_envs",
    "secrets_env",
    "vpp_token",
]

_FILE = "licence-credentials.json"


def vpp_token() -> str:
    """A new content token, shaped like Apple's (base64 of a JSON document)."""
    return secrets.token_urlsafe(96)


def licence_tokens(home: Path, tenants: Sequence[str]) -> dict[str, str]:
    """Each tenant's sToken, generated once and kept in `home` (mode 0600)."""
    path = home / _FILE
    known: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    missing = [t for t in tenants if t not in known]
    if missing:
        known.update({t: vpp_token() for t in missing})
        home.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as stream:
            json.dump(known, stream, indent=2)
    return {t: known[t] for t in tenants}


def secret_envs(tenant: str) -> dict[str, str]:
    """The environment variables of a tenant's licence secrets, by source id."""
    name = re.sub(r"[^A-Z0-9]", "_", tenant.upper())
    mdm = mdm_secret_envs(tenant)
    return {
        "m365": mdm["intune"],
        "vpp": f"HUB_SANDBOX_VPP_{name}_TOKEN",
        "workspace": mdm["chromebooks"],
        "jamf-vpp": mdm["jamf"],
    }


def secrets_env(home: Path, tenants: Sequence[str]) -> dict[str, str]:
    """`secrets.env` lines of the sToken (the Graph secret is the MDMs' line)."""
    return {secret_envs(t)["vpp"]: token for t, token in licence_tokens(home, tenants).items()}


def licence_source_configs(
    tenant: str, server_url: str, *, page_size: int | None = None
) -> list[dict[str, Any]]:
    """The hub.yaml entries of a tenant's sandbox licence sources: `m365`, `vpp`, `workspace`."""
    server = server_url.rstrip("/")
    envs = secret_envs(tenant)
    m365 = f"{server}/{tenant}/m365"
    return [
        {
            "type": "microsoft_licences",
            "id": "m365",
            "base_url": f"{m365}/v1.0",
            "auth": {
                "kind": "oauth_client_credentials",
                "token_url": f"{m365}/{intune_directory_id(tenant)}/oauth2/v2.0/token",
                "client_id": intune_client_id(tenant),
                "secret": {"env": envs["m365"]},
                "scope": GRAPH_SCOPE,
            },
            **({"page_size": min(page_size, 999)} if page_size else {}),
        },
        {
            "type": "apple_vpp",
            "id": "vpp",
            "base_url": f"{server}/{tenant}/vpp/mdm/v2",
            "auth": {"kind": "bearer", "secret": {"env": envs["vpp"]}},
            "location": "Skoleeier",
        },
        {
            "type": "google_workspace_licences",
            "id": "workspace",
            "base_url": f"{server}/{tenant}/licensing",
            "customer_id": google_customer_id(tenant),
            "products": [
                {"product_id": "101031"},
                {"product_id": "101037", "sku_id": "1010370001"},
            ],
            "auth": {
                "kind": "google_service_account",
                "secret": {"env": envs["workspace"]},
                "subject": google_subject(tenant),
                "token_url": f"{server}/{tenant}/licensing/token",
            },
            **({"page_size": min(page_size, 1000)} if page_size else {}),
        },
    ]


def jamf_vpp_source_config(tenant: str, server_url: str) -> dict[str, Any]:
    """A hub.yaml entry for the sandbox Jamf Pro's volume purchasing (the Jamf API client)."""
    base = f"{server_url.rstrip('/')}/{tenant}/jamfvpp"
    return {
        "type": "jamf_volume_purchasing",
        "id": "jamf-vpp",
        "base_url": base,
        "auth": {
            "kind": "oauth_client_credentials",
            "token_url": f"{base}/api/oauth/token",
            "client_id": jamf_client_id(tenant),
            "secret": {"env": secret_envs(tenant)["jamf-vpp"]},
        },
    }
