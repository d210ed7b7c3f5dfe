"""The lease time-to-live every lease of the hub uses."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hub.leases import lease_ttl
from hub.settings import SettingsError


def test_lease_ttl_defaults_to_five_minutes(monkeypatch: pytest.MonkeyPatch):
    """Without `HUB_LEASE_TTL_SECONDS` a lease lives 300 seconds unless renewed."""
    monkeypatch.delenv("HUB_LEASE_TTL_SECONDS", raising=False)
    assert timedelta(seconds=300) == lease_ttl()


def test_lease_ttl_reads_seconds_from_the_environment(monkeypatch: pytest.MonkeyPatch):
    """`HUB_LEASE_TTL_SECONDS` sets the time-to-live, fractions allowed."""
    monkeypatch.setenv("HUB_LEASE_TTL_SECONDS", "2.5")
    assert timedelta(seconds=2.5) == lease_ttl()


@pytest.mark.parametrize("text", ["0", "-3", "five", "nan", "inf"])
def test_lease_ttl_rejects_what_is_not_a_positive_number(
    monkeypatch: pytest.MonkeyPatch, text: str
):
    """A time-to-live that is not a positive finite number is a configuration error."""
    monkeypatch.setenv("HUB_LEASE_TTL_SECONDS", text)
    with pytest.raises(SettingsError, match="HUB_LEASE_TTL_SECONDS"):
        lease_ttl()
