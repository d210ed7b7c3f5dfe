"""The sandbox MDMs: Microsoft Graph (Intune), Jamf Pro and Google Workspace (ChromeOS).

Each tenant's devices are one `Fleet` (see `fleet.py`: who has which device, and the
follow-up's problems: old, stale, noncompliant, outdated, orphaned and doubly enrolled
devices), built from the same generated people as the sandbox directory and LMS (a
Norwegian tenant's Feide population, a Swedish tenant's SS 12000 register: see
`hub.dev.sandbox.roster`), and served by three vendor apps mounted on the sandbox web server:

    <server>/<tenant>/intune/...   GraphApp        (graph.py)
    <server>/<tenant>/jamf/...     JamfApp         (jamf.py)
    <server>/<tenant>/google/...   GoogleAdminApp  (google.py)

Faults come from the web server's fault plan (429/503 with `Retry-After`, drops,
malformed records, pages naming themselves); Google's 403 quota errors are a `status`
fault with `rate_limit_body()` as its body.

Wiring for `hub sandbox up` (see `credentials.py`): `mdm_credentials(home, tenants)` keeps
the secrets in `home`; `mdm_apps(tenants, scale, seed, credentials=...)` builds the apps;
`mdm_source_configs(tenant, server_url)` gives the hub.yaml source entries and
`secrets_env(home, tenants)` the secrets.env lines.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from hub.dev.sandbox.mdm.credentials import (
    MdmCredentials,
    generate_credentials,
    mdm_credentials,
    mdm_source_configs,
    secret_envs,
    secrets_env,
)
from hub.dev.sandbox.mdm.fleet import DeviceFacts, Fleet, Profile, Table
from hub.dev.sandbox.mdm.google import GoogleAdminApp, rate_limit_body
from hub.dev.sandbox.mdm.graph import GraphApp
from hub.dev.sandbox.mdm.jamf import JamfApp
from hub.dev.sandbox.roster import roster

__all__ = [
    "VENDORS",
    "DeviceFacts",
    "Fleet",
    "GoogleAdminApp",
    "GraphApp",
    "JamfApp",
    "MdmApps",
    "MdmCredentials",
    "Profile",
    "Table",
    "generate_credentials",
    "mdm_apps",
    "mdm_credentials",
    "mdm_source_configs",
    "rate_limit_body",
    "secret_envs",
    "secrets_env",
]

#: Vendor name (the URL segment) of each app.
VENDORS = ("intune", "jamf", "google")

MdmApps = dict[str, GraphApp | JamfApp | GoogleAdminApp]


def mdm_apps(
    tenants: Sequence[str],
    scale: int,
    seed: int = 1,
    *,
    credentials: Mapping[str, MdmCredentials],
    token_ttl: float = 3600.0,
    reference: date | None = None,
) -> MdmApps:
    """The three MDM apps for generated tenants of `scale` people, sharing one fleet each."""
    fleets = {t: Fleet.build(roster(t, scale, seed), reference) for t in tenants}
    return {
        "intune": GraphApp(fleets, credentials=credentials, token_ttl=token_ttl),
        "jamf": JamfApp(fleets, credentials=credentials, token_ttl=min(token_ttl, 1800.0)),
        "google": GoogleAdminApp(fleets, credentials=credentials, token_ttl=token_ttl),
    }
