"""The sandbox licence sources: Microsoft 365 in Graph, Apple's volume purchasing, Google.

Each tenant's licences are one `LicenceBook` (`book.py`), built from its device `Fleet`
and so from the same generated people as its directory, LMS and MDMs, and served by two
vendor apps on the sandbox web server:

    <server>/<tenant>/m365/...   M365App   (m365.py: subscribedSkus, users' licences)
    <server>/<tenant>/vpp/...    VppApp    (vpp.py: Apple Apps and Books, mdm/v2)
    <server>/<tenant>/licensing/... LicensingApp (google.py: Google's License Manager)
    <server>/<tenant>/jamfvpp/...   JamfVppApp   (jamf.py: Jamf Pro volume purchasing)

The tenants' hub.yaml reads Apple's volume purchasing from Apple (`vpp`); the Jamf Pro
view of the same licences (`jamf_vpp_source_config`) is served for the tests and for a
reader who wants to try it, not configured beside it, where it would count them twice.

The Norwegian and Swedish tenants hold licences (`licensed_tenants`). Wiring for `hub
sandbox up`: `licence_apps(tenants, scale, seed, credentials=..., tokens=...)`
builds the apps; `licence_source_configs(tenant, server_url)` gives the hub.yaml entries
and `secrets_env(home, tenants)` the sToken lines of secrets.env.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from hub.dev.sandbox.danish import DANISH_TENANTS
from hub.dev.sandbox.licences.book import LicenceBook
from hub.dev.sandbox.licences.credentials import (
    licence_source_configs,
    licence_tokens,
    secret_envs,
    secrets_env,
)
from hub.dev.sandbox.licences.google import LicensingApp
from hub.dev.sandbox.licences.jamf import JamfVppApp
from hub.dev.sandbox.licences.m365 import M365App
from hub.dev.sandbox.licences.vpp import VppApp
from hub.dev.sandbox.mdm.credentials import MdmCredentials
from hub.dev.sandbox.mdm.fleet import Fleet
from hub.dev.sandbox.roster import roster

__all__ = [
    "JamfVppApp",
    "LicenceBook",
    "LicensingApp",
    "licensed_tenants",
    "M365App",
    "VppApp",
    "licence_apps",
    "licence_source_configs",
    "licence_tokens",
    "secret_envs",
    "secrets_env",
]


def licensed_tenants(tenants: Sequence[str]) -> list[str]:
    """The tenants whose sandbox holds licences: the Norwegian and Swedish ones."""
    return [t for t in tenants if t not in DANISH_TENANTS]


def licence_apps(
    tenants: Sequence[str],
    scale: int,
    seed: int = 1,
    *,
    credentials: Mapping[str, MdmCredentials],
    tokens: Mapping[str, str],
    token_ttl: float = 3600.0,
    fleets: Mapping[str, Fleet] | None = None,
) -> dict[str, M365App | VppApp | LicensingApp | JamfVppApp]:
    """The licence apps for generated tenants of `scale` people (their fleets' people)."""
    fleets = fleets or {t: Fleet.build(roster(t, scale, seed)) for t in tenants}
    return {
        "m365": M365App(fleets, credentials=credentials, token_ttl=token_ttl),
        "vpp": VppApp(fleets, tokens=tokens),
        "licensing": LicensingApp(fleets, credentials=credentials, token_ttl=token_ttl),
        "jamfvpp": JamfVppApp(fleets, credentials=credentials, token_ttl=min(token_ttl, 1800.0)),
    }
