"""The Intune connector against the sandbox Graph: next links, throttling, the token, the check."""

from __future__ import annotations

import math
from typing import Any

import pytest
import requests
from structlog.testing import capture_logs

from connectors.errors import AuthError, FatalError
from connectors.mdm.intune import SELECT
from hub.dev.sandbox.mdm import Table
from schemas.mdm import Device
from tests.contract.suite import Waits, entities, read_all
from tests.fixtures.mdm import MdmSandbox


class RecordingSession(requests.Session):
    """A session that remembers the URL and query of every GET."""

    def __init__(self) -> None:
        super().__init__()
        self.gets: list[tuple[str, dict[str, Any]]] = []

    def get(self, url: str | bytes, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.gets.append((str(url), dict(kwargs.get("params") or {})))
        return super().get(url, **kwargs)


def test_next_links_are_followed_as_given_to_the_last_page(mdm_sandbox: MdmSandbox):
    """Seven per page: every page is fetched once, by the exact link Graph gave, to the end."""
    session = RecordingSession()
    devices = entities(read_all(mdm_sandbox.connector("intune", page_size=7, session=session)))
    count = mdm_sandbox.fleet().count(Table.INTUNE)
    assert count == len(devices) == len({d.key for d in devices})
    assert {"$select": ",".join(SELECT), "$top": 7} == session.gets[0][1]
    followed = session.gets[1:]
    assert math.ceil(count / 7) - 1 == len(followed)
    assert all("$skiptoken=" in url and not query for url, query in followed)


def test_a_next_link_that_comes_back_is_a_loop(mdm_sandbox: MdmSandbox):
    """A page whose `@odata.nextLink` names itself stops the read with a loop error."""
    mdm_sandbox.server.add_fault(
        kind="repeat_next", vendor="intune", path="/managedDevices", after=1, times=-1
    )
    with pytest.raises(FatalError, match="Loop detected in pagination") as caught:
        read_all(mdm_sandbox.connector("intune", page_size=5))
    assert "mdm.intune" == caught.value.connector


def test_a_429_is_waited_out_for_the_seconds_graph_asks(mdm_sandbox: MdmSandbox):
    """Graph's 429 with `Retry-After: 7` and its own error body waits exactly 7 s, once."""
    waits = Waits()
    mdm_sandbox.server.add_fault(
        kind="status",
        status=429,
        retry_after=7,
        vendor="intune",
        path="/managedDevices",
        body={"error": {"code": "TooManyRequests", "message": "Too many requests"}},
    )
    devices = entities(read_all(mdm_sandbox.connector("intune", retry=waits.policy())))
    assert ([7.0], mdm_sandbox.fleet().count(Table.INTUNE)) == (waits.seconds, len(devices))


def test_a_503_without_retry_after_backs_off_exponentially(mdm_sandbox: MdmSandbox):
    """Three 503s without `Retry-After` wait within the growing caps 0.5, 1 and 2 s."""
    waits = Waits()
    mdm_sandbox.server.add_fault(
        kind="status", status=503, vendor="intune", path="/managedDevices", times=3
    )
    assert entities(read_all(mdm_sandbox.connector("intune", retry=waits.policy())))
    assert 3 == len(waits.seconds)
    assert all(0 <= w <= cap for w, cap in zip(waits.seconds, (0.5, 1.0, 2.0), strict=True))


def test_the_check_reads_the_overview_and_logs_the_enrolled_count(mdm_sandbox: MdmSandbox):
    """`check()` needs only the overview, and logs how many devices Intune says it manages."""
    with capture_logs() as logs, mdm_sandbox.connector("intune") as source:
        source.check()
    checked = [e for e in logs if e["event"] == "source_checked"]
    assert [mdm_sandbox.fleet().count(Table.INTUNE)] == [e["enrolled_devices"] for e in checked]
    assert 0 == mdm_sandbox.server.count("/managedDevices")


def test_a_scope_the_directory_refuses_fails_with_its_aadsts_code_and_no_secret(
    mdm_sandbox: MdmSandbox,
):
    """A wrong scope is an `AuthError` quoting AADSTS1002012, never the client secret."""
    entry = mdm_sandbox.source_entry("intune")
    auth = {**entry["auth"], "scope": "https://graph.microsoft.us/.default"}
    with pytest.raises(AuthError, match="AADSTS1002012") as caught:
        mdm_sandbox.connector("intune", auth=auth).check()
    assert mdm_sandbox.secret("intune") not in str(caught.value)


def test_graph_habits_do_not_make_false_values(mdm_sandbox: MdmSandbox):
    """Shared lab desktops come back without user ids (Graph's `""` and zero GUID)."""
    devices = [d for d in entities(read_all(mdm_sandbox.connector("intune"))) if d.shared]
    assert devices
    assert all(isinstance(d, Device) and d.assigned_users == () for d in devices)
