"""The Jamf Pro connector against the sandbox Jamf: paging, concurrency, tokens, endpoint check."""

from __future__ import annotations

import math
from typing import Any

import pytest
from structlog.testing import capture_logs

from connectors.errors import ConfigError
from connectors.mdm.jamf import JamfPro
from hub.dev.sandbox.mdm import Table
from schemas.mdm import Device
from tests.contract.suite import entities, read_all
from tests.fixtures.mdm import MdmSandbox, MdmSandboxFactory

MOBILE = "/api/v2/mobile-devices/detail"
COMPUTERS = "/api/v1/computers-inventory"


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def jamf(sandbox: MdmSandbox, **extra: Any) -> JamfPro:
    """The tenant's Jamf connector."""
    source = sandbox.connector("jamf", **extra)
    assert isinstance(source, JamfPro)
    return source


@pytest.mark.parametrize("concurrency", [1, 3])
def test_pages_are_read_until_total_count_and_no_further(mdm_sandbox: MdmSandbox, concurrency):
    """Seven per page: exactly ceil(totalCount / 7) pages, fetched ahead or one by one."""
    fleet = mdm_sandbox.fleet()
    devices = entities(read_all(jamf(mdm_sandbox, page_size=7, max_concurrency=concurrency)))
    mobiles, computers = fleet.count(Table.JAMF_MOBILE), fleet.count(Table.JAMF_COMPUTERS)
    assert (mobiles + computers, math.ceil(mobiles / 7), math.ceil(computers / 7)) == (
        len({d.key for d in devices}),
        mdm_sandbox.server.count(MOBILE),
        mdm_sandbox.server.count(COMPUTERS),
    )


def test_no_more_requests_than_max_concurrency_are_ever_open(mdm_sandbox: MdmSandbox):
    """With a slow server and `max_concurrency: 3`, pages overlap but never four at once."""
    mdm_sandbox.jamf.latency = 0.05
    devices = entities(read_all(jamf(mdm_sandbox, page_size=4, max_concurrency=3)))
    assert mdm_sandbox.fleet().count(Table.JAMF_MOBILE) < len(devices)
    assert mdm_sandbox.jamf.max_in_flight[mdm_sandbox.tenant] in (2, 3)


def test_more_than_five_connections_is_refused_at_load(mdm_sandbox: MdmSandbox):
    """Jamf asks for at most five connections; `max_concurrency: 6` fails at load."""
    from hub.settings import SettingsError

    with pytest.raises(SettingsError, match="max_concurrency: Input should be less than or"):
        jamf(mdm_sandbox, max_concurrency=6)


def test_a_token_expiring_mid_run_is_renewed_once(mdm_sandbox: MdmSandbox):
    """All tokens revoked after the first devices: one new token, and every device is read."""
    fleet = mdm_sandbox.fleet()
    source = jamf(mdm_sandbox, page_size=5, max_concurrency=3)
    with source:
        items = source.read()
        first = [next(items) for _ in range(6)]
        mdm_sandbox.jamf.revoke_tokens(mdm_sandbox.tenant)
        rest = list(items)
    devices = {d.key for d in entities([*first, *rest])}
    expected = fleet.count(Table.JAMF_MOBILE) + fleet.count(Table.JAMF_COMPUTERS)
    tokens = mdm_sandbox.server.count("/jamf/api/oauth/token", status=200)
    assert (expected, 2) == (len(devices), tokens)


def test_a_user_token_is_kept_alive_before_it_expires(mdm_sandbox: MdmSandbox):
    """With a user account, a token near expiry is renewed by keep-alive, not a new login."""
    clock = Clock()
    entry = mdm_sandbox.source_entry("jamf")
    secret = entry["auth"]["secret"]
    settings_auth = {"kind": "basic", "username": "skolehub-sync", "secret": secret}
    source = mdm_sandbox.connector(
        "jamf", auth=settings_auth, page_size=10, max_concurrency=1, clock=clock
    )
    assert isinstance(source, JamfPro)
    with source:
        items = source.read()
        first = next(items)
        clock.now += 1800  # the sandbox's user tokens live 30 minutes
        rest = list(items)
    assert isinstance(first, Device)
    assert (1, 1, 1) == (
        source.auth.fetched,
        source.auth.renewed,
        mdm_sandbox.jamf.keep_alives[mdm_sandbox.tenant],
    )
    assert 1 == mdm_sandbox.server.count("/api/v1/auth/token", status=200)
    assert len(rest) + 1 == len({d.key for d in entities([first, *rest])})


def test_the_token_is_invalidated_when_the_connector_closes(mdm_sandbox: MdmSandbox):
    """Closing the connector tells Jamf the token is no longer needed."""
    with jamf(mdm_sandbox) as source:
        source.check()
    assert 1 == mdm_sandbox.server.count("/api/v1/auth/invalidate-token", status=204)


def test_a_pinned_endpoint_the_server_no_longer_offers_fails_the_check(mdm_sandbox: MdmSandbox):
    """A server whose schema lacks `/v2/mobile-devices/detail` fails `check()` naming it."""
    mdm_sandbox.jamf.removed.add("/v2/mobile-devices/detail")
    with pytest.raises(ConfigError, match=r"no longer offers GET /api/v2/mobile-devices/detail"):
        jamf(mdm_sandbox).check()
    assert 0 == mdm_sandbox.server.count(COMPUTERS)


def test_an_endpoint_jamf_marked_deprecated_is_logged_and_still_read(mdm_sandbox: MdmSandbox):
    """A deprecated pinned endpoint logs `endpoint_deprecated` and the read goes on."""
    mdm_sandbox.jamf.deprecated.add("/v1/computers-inventory")
    with capture_logs() as logs:
        devices = entities(read_all(jamf(mdm_sandbox)))
    warned = [e["endpoint"] for e in logs if e["event"] == "endpoint_deprecated"]
    assert (["/api/v1/computers-inventory"], True) == (warned, bool(devices))


def test_a_building_lookup_the_client_may_not_read_is_skipped(mdm_sandbox: MdmSandbox):
    """A 403 on `/v1/buildings` logs `stream_not_offered`; devices come without building names."""
    mdm_sandbox.server.add_fault(
        kind="status", status=403, vendor="jamf", path="/api/v1/buildings", times=-1
    )
    with capture_logs() as logs:
        devices = entities(read_all(jamf(mdm_sandbox)))
    assert devices
    assert {None} == {d.unit_hints.building for d in devices if isinstance(d, Device)}
    assert ["buildings"] == [e["stream"] for e in logs if e["event"] == "stream_not_offered"]


def test_only_the_configured_device_kinds_are_read(mdm_sandbox_factory: MdmSandboxFactory):
    """`computers: false` reads mobile devices only, and never asks for computers."""
    sandbox = mdm_sandbox_factory(80)
    devices = entities(read_all(jamf(sandbox, computers=False)))
    assert (sandbox.fleet().count(Table.JAMF_MOBILE), 0) == (
        len(devices),
        sandbox.server.count(COMPUTERS),
    )
