"""Turn a configured source into a connector, resolving its secret and the HMAC key.

Which connector serves which `type`, its domain and its entity types are declared by the
connector modules themselves and read from `connectors.registry`.
"""

from __future__ import annotations

from connectors import registry
from connectors.base import Source
from hub.settings import SettingsError, SourceSettings, TenantSettings, hmac_key
from schemas.entities import Entity


def _context(tenant: TenantSettings) -> registry.SourceContext:
    return registry.SourceContext(tenant=tenant.id, country=tenant.country, hmac_key=hmac_key)


def build_source(tenant: TenantSettings, source: SourceSettings) -> Source:
    """The connector for one tenant's configured source, told the tenant's privacy rules.

    Its `country` orders the identity-number detector's guesses; `protected_names` says
    whether people marked protected keep their names (docs/privacy.md).
    """
    connector = registry.spec_for(source.type).build(source, _context(tenant))
    connector.country = connector.country or tenant.country
    connector.protected_names = tenant.policy.protected_names
    try:
        connector.pseudonymise_with(hmac_key())
    except SettingsError:
        pass  # a device source runs without HUB_HMAC_KEY: a number in a key dead-letters
    return connector


def check_source(tenant: TenantSettings, source: SourceSettings) -> list[str]:
    """Check that a configured source answers (`hub check`; Airflow's Test takes this path).

    Returns the connector's notes: what the check found that is not a failure.
    """
    return registry.check_source(source, _context(tenant))


def source_domain(source: SourceSettings) -> str:
    """The domain a source type feeds (`identity`, `lms`, `mdm`), for DAGs and pools."""
    return registry.spec_for(source.type).domain


def entity_types_of(source: SourceSettings) -> tuple[type[Entity], ...]:
    """The entity types a configured source produces, without connecting to it."""
    return registry.spec_for(source.type).entity_types
