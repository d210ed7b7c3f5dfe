"""Turn a configured source into a connector, resolving its secret and the HMAC key."""

from __future__ import annotations

from connectors.base import Source
from connectors.identity.feide_ldap import FeideLdap
from connectors.lms.oneroster import OneRoster
from hub.settings import (
    LdapSourceSettings,
    OneRosterSourceSettings,
    SourceSettings,
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
    raise TypeError(f"no connector for source type {source.type!r}")  # pragma: no cover


def source_domain(source: SourceSettings) -> str:
    """The domain a source type feeds (`identity`, `lms`, `mdm`), for DAGs and pools."""
    return {"feide_ldap": "identity", "oneroster": "lms"}[source.type]


def entity_types_of(source: SourceSettings) -> tuple[type[Entity], ...]:
    """The entity types a configured source produces, without connecting to it."""
    return {
        "feide_ldap": FeideLdap.entity_types,
        "oneroster": OneRoster.entity_types,
    }[source.type]
