"""Turn a configured source into a connector, resolving its secret and the HMAC key."""

from __future__ import annotations

from connectors.base import Source
from connectors.identity.feide_ldap import FeideLdap
from connectors.identity.ss12000 import SS12000
from connectors.lms.oneroster import OneRoster
from connectors.mdm.google_chromeos import GoogleChromeOS
from connectors.mdm.intune import Intune
from connectors.mdm.jamf import JamfPro
from hub.settings import (
    GoogleChromeOSSourceSettings,
    IntuneSourceSettings,
    JamfSourceSettings,
    LdapSourceSettings,
    OneRosterSourceSettings,
    SourceSettings,
    SS12000SourceSettings,
    TenantSettings,
    hmac_key,
)
from schemas.entities import Entity


def build_source(tenant: TenantSettings, source: SourceSettings) -> Source:
    """The connector for one tenant's configured source."""
    if isinstance(source, LdapSourceSettings):
        return FeideLdap(
            source, tenant=tenant.id, password=source.secret.resolve(), hmac_key=hmac_key()
        )
    if isinstance(source, OneRosterSourceSettings):
        return OneRoster(
            source,
            tenant=tenant.id,
            secret=source.auth.secret.resolve(),
            hmac_key=hmac_key(),
            country=tenant.country,
        )
    if isinstance(source, SS12000SourceSettings):
        return SS12000(
            source, tenant=tenant.id, secret=source.auth.secret.resolve(), hmac_key=hmac_key()
        )
    if isinstance(source, IntuneSourceSettings):
        return Intune(source, tenant=tenant.id, secret=source.auth.secret.resolve())
    if isinstance(source, JamfSourceSettings):
        return JamfPro(source, tenant=tenant.id, secret=source.auth.secret.resolve())
    if isinstance(source, GoogleChromeOSSourceSettings):
        return GoogleChromeOS(source, tenant=tenant.id, secret=source.auth.secret.resolve())
    raise TypeError(f"no connector for source type {source.type!r}")  # pragma: no cover


def source_domain(source: SourceSettings) -> str:
    """The domain a source type feeds (`identity`, `lms`, `mdm`), for DAGs and pools."""
    return {
        "feide_ldap": "identity",
        "oneroster": "lms",
        "ss12000": "identity",
        "intune": "mdm",
        "jamf_pro": "mdm",
        "google_chromeos": "mdm",
    }[source.type]


def entity_types_of(source: SourceSettings) -> tuple[type[Entity], ...]:
    """The entity types a configured source produces, without connecting to it."""
    return {
        "feide_ldap": FeideLdap.entity_types,
        "oneroster": OneRoster.entity_types,
        "ss12000": SS12000.entity_types,
        "intune": Intune.entity_types,
        "jamf_pro": JamfPro.entity_types,
        "google_chromeos": GoogleChromeOS.entity_types,
    }[source.type]
