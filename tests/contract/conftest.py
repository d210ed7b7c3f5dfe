"""Harnesses of connectors whose sandboxes live in other fixture plugins."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.base import RetryPolicy
from connectors.identity.feide_ldap import FeideLdap, LdapSourceSettings
from tests.contract.suite import Harness

HMAC_KEY = b"test-hmac-key-0123456789abcdef"


@pytest.fixture
def feide_ldap_harness(directory_factory: Any) -> Harness:
    """The contract suite's view of the Feide LDAP connector against the sandbox slapd."""
    loaded = directory_factory(scale=120)
    server = loaded.server

    def build(
        *, page_size: int | None = None, retry: RetryPolicy | None = None, secret: str | None = None
    ) -> FeideLdap:
        settings = LdapSourceSettings.model_validate(
            {
                "type": "feide_ldap",
                "id": "feide",
                "uri": server.uri,
                "base_dn": loaded.base_dn,
                "bind_dn": server.reader_dn,
                "secret": {"env": "CONTRACT_LDAP_PASSWORD"},
                "page_size": page_size or 100,
            }
        )
        password = server.reader_password if secret is None else secret
        return FeideLdap(
            settings, tenant=loaded.owner.tenant, password=password, hmac_key=HMAC_KEY, retry=retry
        )

    return Harness(
        name=FeideLdap.name,
        build=build,
        secrets=(server.reader_password, server.admin_password),
    )
