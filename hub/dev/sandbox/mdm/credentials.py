"""The sandbox MDMs' credentials, and the hub.yaml entries and secrets that use them.

Per tenant: an Entra ID app registration's client secret (Intune), a Jamf Pro API
client's secret (also the password of the Jamf user `skolehub-sync`), and a Google
service account's JSON key with a fresh RSA key. Everything else (client ids, the
directory id, the customer id, the administrator the service account acts for) is
derived from the tenant id, so hub.yaml entries need no secrets to be written.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import uuid
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from hub.dev.sandbox.swedish import SWEDISH_TENANTS

__all__ = [
    "CLASSROOM_SCOPES",
    "GOOGLE_SCOPE",
    "GRAPH_SCOPE",
    "JAMF_USER",
    "MdmCredentials",
    "generate_credentials",
    "google_customer_id",
    "google_subject",
    "intune_client_id",
    "intune_directory_id",
    "jamf_client_id",
    "mdm_credentials",
    "mdm_source_configs",
    "secret_envs",
    "secrets_env",
]

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
GOOGLE_SCOPE = "https://www.googleapis.com/auth/admin.directory.device.chromeos.readonly"
#: The Classroom scopes the service account is delegated: courses, rosters, submissions
#: (read only) and the members' e-mail addresses.
CLASSROOM_SCOPES = (
    *(
        f"https://www.googleapis.com/auth/classroom.{name}.readonly"
        for name in ("courses", "rosters", "coursework.students")
    ),
    "https://www.googleapis.com/auth/classroom.profile.emails",
)
#: Google's License Manager (the licence sandbox's `licensing` app) on the same account.
LICENSING_SCOPE = "https://www.googleapis.com/auth/apps.licensing"
JAMF_USER = "skolehub-sync"
_NAMESPACE = uuid.UUID("9b0f6f1e-3c3e-4c55-9d59-5a4c0c2f4d11")
_FILE = "mdm-credentials.json"


def intune_directory_id(tenant: str) -> str:
    """The tenant's Entra ID directory (tenant) id."""
    return str(uuid.uuid5(_NAMESPACE, f"directory:{tenant}"))


def intune_client_id(tenant: str) -> str:
    """The application (client) id of the hub's app registration."""
    return str(uuid.uuid5(_NAMESPACE, f"client:{tenant}"))


def jamf_client_id(tenant: str) -> str:
    """The Jamf Pro API client id."""
    return str(uuid.uuid5(_NAMESPACE, f"jamf:{tenant}"))


def google_customer_id(tenant: str) -> str:
    """The tenant's Google Workspace customer id."""
    return f"C0{zlib.crc32(tenant.encode()) % 36**7:07x}"


def google_subject(tenant: str) -> str:
    """The Workspace administrator the service account acts for (Swedish: `skola.<t>.se`)."""
    domain = f"skola.{tenant}.se" if tenant in SWEDISH_TENANTS else f"{tenant}.kommune.no"
    return f"mdm-admin@{domain}"


def google_client_email(tenant: str) -> str:
    """The service account's address."""
    return f"skolehub-sync@skolehub-{tenant}.iam.gserviceaccount.com"


@dataclass(frozen=True)
class MdmCredentials:
    """One tenant's secrets for its three sandbox MDMs."""

    tenant: str
    intune_secret: str
    jamf_secret: str
    #: The Google service account's JSON key (private key included).
    google_key: Mapping[str, str]

    @property
    def google_key_json(self) -> str:
        """The key file as one line of JSON (how the hub reads it from its secret)."""
        return json.dumps(dict(self.google_key), separators=(",", ":"))

    @property
    def google_public_key(self) -> bytes:
        """The PEM public key the sandbox checks the JWT grant's signature with."""
        private = serialization.load_pem_private_key(
            self.google_key["private_key"].encode(), password=None
        )
        return private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def to_json(self) -> dict[str, Any]:
        """What `mdm_credentials` keeps in its file."""
        return {
            "intune_secret": self.intune_secret,
            "jamf_secret": self.jamf_secret,
            "google_key": dict(self.google_key),
        }


def generate_credentials(tenant: str) -> MdmCredentials:
    """New random secrets and a new RSA key (2048 bits, as Google issues) for a tenant."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    email = google_client_email(tenant)
    google_key = {
        "type": "service_account",
        "project_id": f"skolehub-{tenant}",
        "private_key_id": secrets.token_hex(20),
        "private_key": pem,
        "client_email": email,
        "client_id": str(10**20 + zlib.crc32(email.encode())),
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": "https://oauth2.googleapis.com/token",
        "universe_domain": "googleapis.com",
    }
    return MdmCredentials(
        tenant=tenant,
        intune_secret=secrets.token_urlsafe(30),
        jamf_secret=secrets.token_urlsafe(24),
        google_key=google_key,
    )


def mdm_credentials(home: Path, tenants: Sequence[str]) -> dict[str, MdmCredentials]:
    """Each tenant's MDM credentials, generated once and kept in `home` (mode 0600)."""
    path = home / _FILE
    known: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    missing = [t for t in tenants if t not in known]
    if missing:
        known.update({t: generate_credentials(t).to_json() for t in missing})
        home.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as stream:
            json.dump(known, stream, indent=2)
    return {
        t: MdmCredentials(
            tenant=t,
            intune_secret=known[t]["intune_secret"],
            jamf_secret=known[t]["jamf_secret"],
            google_key=known[t]["google_key"],
        )
        for t in tenants
    }


def secret_envs(tenant: str) -> dict[str, str]:
    """The environment variables of a tenant's MDM secrets, by source id."""
    name = re.sub(r"[^A-Z0-9]", "_", tenant.upper())
    return {
        "intune": f"HUB_SANDBOX_INTUNE_{name}_SECRET",
        "jamf": f"HUB_SANDBOX_JAMF_{name}_SECRET",
        "chromebooks": f"HUB_SANDBOX_GOOGLE_{name}_KEY",
    }


def secrets_env(home: Path, tenants: Sequence[str]) -> dict[str, str]:
    """`secrets.env` lines for the tenants' MDMs: variable name → secret (one line each)."""
    lines: dict[str, str] = {}
    for tenant, credentials in mdm_credentials(home, tenants).items():
        names = secret_envs(tenant)
        lines[names["intune"]] = credentials.intune_secret
        lines[names["jamf"]] = credentials.jamf_secret
        lines[names["chromebooks"]] = credentials.google_key_json
    return lines


def mdm_source_configs(
    tenant: str,
    server_url: str,
    *,
    page_size: int | None = None,
    jamf_concurrency: int = 3,
) -> list[dict[str, Any]]:
    """The hub.yaml source entries of a tenant's three sandbox MDMs on the server at `server_url`.

    Source ids `intune`, `jamf` and `chromebooks`; secrets by environment variable
    (`secret_envs`). `page_size` (if given) is capped at each API's maximum.
    """
    server = server_url.rstrip("/")
    envs = secret_envs(tenant)
    intune = f"{server}/{tenant}/intune"
    jamf = f"{server}/{tenant}/jamf"
    google = f"{server}/{tenant}/google"

    def size(maximum: int) -> dict[str, int]:
        return {"page_size": min(page_size, maximum)} if page_size else {}

    return [
        {
            "type": "intune",
            "id": "intune",
            "base_url": f"{intune}/v1.0",
            "auth": {
                "kind": "oauth_client_credentials",
                "token_url": f"{intune}/{intune_directory_id(tenant)}/oauth2/v2.0/token",
                "client_id": intune_client_id(tenant),
                "secret": {"env": envs["intune"]},
                "scope": GRAPH_SCOPE,
            },
            **size(1000),
        },
        {
            "type": "jamf_pro",
            "id": "jamf",
            "base_url": jamf,
            "auth": {
                "kind": "oauth_client_credentials",
                "token_url": f"{jamf}/api/oauth/token",
                "client_id": jamf_client_id(tenant),
                "secret": {"env": envs["jamf"]},
            },
            "max_concurrency": jamf_concurrency,
            **size(2000),
        },
        {
            "type": "google_chromeos",
            "id": "chromebooks",
            "base_url": google,
            "customer_id": google_customer_id(tenant),
            "auth": {
                "kind": "google_service_account",
                "secret": {"env": envs["chromebooks"]},
                "subject": google_subject(tenant),
                "token_url": f"{google}/token",
            },
            **size(300),
        },
    ]
