"""The equipment and support connectors, against the sandbox TOPdesk and Snipe-IT, meet it.

These sources take static credentials (a TOPdesk application password, a Snipe-IT personal
access token): there is nothing to refresh, so a 401 is final at once, which replaces the
suite's two refresh checks.
"""

from __future__ import annotations

import pytest

from connectors.errors import AuthError
from tests.contract.suite import Harness, HttpConnectorContract, http_contract, read_all


class _StaticCredentials(HttpConnectorContract):
    """The HTTP contract for a source whose credentials cannot be renewed."""

    def test_expired_credentials_are_refreshed_once(self, harness: Harness) -> None:
        """Static credentials: a 401 is not retried and fails as `AuthError` at once."""
        inject, path = self._http(harness)
        assert harness.requests is not None
        inject(kind="status", status=401, path=path, times=-1)
        with pytest.raises(AuthError) as caught:
            read_all(harness.build())
        assert (401, 1) == (caught.value.status, harness.requests(path))

    def test_a_401_after_the_refresh_is_final(self, harness: Harness) -> None:
        """A 401 names the path and no secret."""
        inject, path = self._http(harness)
        inject(kind="status", status=401, path=path, times=-1)
        with pytest.raises(AuthError) as caught:
            read_all(harness.build())
        assert path == caught.value.path
        for secret in harness.secrets:
            assert secret not in str(caught.value)


def _static(fixture: str) -> type:
    joined = http_contract(fixture)
    return type(joined.__name__, (_StaticCredentials, joined), {})


TestTopdeskAssetsContract = _static("topdesk_assets_harness")
TestTopdeskIncidentsContract = _static("topdesk_incidents_harness")
TestSnipeitContract = _static("snipeit_harness")
