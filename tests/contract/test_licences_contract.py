"""The licence connectors, against the sandbox Graph and Apple Apps and Books, meet the contract."""

from __future__ import annotations

import pytest
import structlog

from connectors.errors import AuthError
from tests.contract.suite import Harness, HttpConnectorContract, assert_no_secret, http_contract

TestMicrosoftLicencesContract = http_contract("microsoft_licences_harness")


class TestAppleVppContract(HttpConnectorContract):
    """The HTTP contract for a static token (Apple's sToken): a refused token is final at once."""

    @pytest.fixture
    def harness(self, apple_vpp_harness: Harness) -> Harness:
        """The Apple Apps and Books harness."""
        return apple_vpp_harness

    def test_expired_credentials_are_refreshed_once(self, harness: Harness) -> None:
        """A token revoked mid-session cannot be refreshed: the read fails as an `AuthError`."""
        assert harness.expire_credentials is not None
        with structlog.testing.capture_logs() as logs, harness.build() as source:
            source.check()
            harness.expire_credentials()
            with pytest.raises(AuthError) as caught:
                list(source.read())
        assert 401 == caught.value.status
        assert_no_secret(harness, str(caught.value), logs)

    def test_a_401_after_the_refresh_is_final(self, harness: Harness) -> None:
        """A 401 fails at once (nothing to refresh), after one request, naming the path."""
        assert harness.inject and harness.requests and harness.data_path
        with harness.build() as source:
            source.check()
            harness.inject(kind="status", status=401, path=harness.data_path, times=-1)
            with pytest.raises(AuthError) as caught:
                list(source.read())
        assert (401, harness.data_path, 1) == (
            caught.value.status,
            caught.value.path,
            harness.requests(harness.data_path),
        )


TestGoogleWorkspaceLicencesContract = http_contract("google_workspace_licences_harness")
TestJamfVolumePurchasingContract = http_contract("jamf_volume_purchasing_harness")
