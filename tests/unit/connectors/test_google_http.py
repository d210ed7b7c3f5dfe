"""The Google ChromeOS connector against the sandbox: page tokens, quota 403s, the JWT grant."""

from __future__ import annotations

import math

import pytest
from structlog.testing import capture_logs

from connectors.errors import AuthError
from hub.dev.sandbox.mdm import Table, generate_credentials, rate_limit_body
from hub.dev.sandbox.mdm.google import google_error
from hub.settings import SettingsError
from tests.contract.suite import Waits, entities, read_all
from tests.fixtures.mdm import MdmSandbox

DEVICES = "/devices/chromeos"
TOKEN = "/google/token"


def test_page_tokens_are_followed_to_the_last_page(mdm_sandbox: MdmSandbox):
    """Ten per page: one request per page, ending on the page without `nextPageToken`."""
    count = mdm_sandbox.fleet().count(Table.GOOGLE)
    devices = entities(read_all(mdm_sandbox.connector("chromebooks", page_size=10)))
    assert (count, math.ceil(count / 10)) == (
        len({d.key for d in devices}),
        mdm_sandbox.server.count(DEVICES),
    )


def test_more_than_300_per_page_is_refused_at_load(mdm_sandbox: MdmSandbox):
    """`maxResults` is at most 300, so `page_size: 301` fails at load."""
    with pytest.raises(SettingsError, match="page_size: Input should be less than or equal to 300"):
        mdm_sandbox.connector("chromebooks", page_size=301)


@pytest.mark.parametrize("reason", ["rateLimitExceeded", "userRateLimitExceeded"])
def test_a_403_rate_limit_is_retried_like_a_429(mdm_sandbox: MdmSandbox, reason: str):
    """Google's 403 quota errors are throttling: backed off twice, then the read succeeds."""
    waits = Waits()
    body = rate_limit_body(reason)
    mdm_sandbox.server.add_fault(
        kind="status", status=403, vendor="google", path=DEVICES, times=2, body=body
    )
    devices = entities(read_all(mdm_sandbox.connector("chromebooks", retry=waits.policy())))
    assert (2, mdm_sandbox.fleet().count(Table.GOOGLE)) == (len(waits.seconds), len(devices))
    assert all(0 <= w <= cap for w, cap in zip(waits.seconds, (0.5, 1.0), strict=True))


def test_a_403_forbidden_is_fatal_at_once(mdm_sandbox: MdmSandbox):
    """Any other 403 (here `forbidden`) fails at once as an `AuthError`, without retries."""
    waits = Waits()
    body = google_error(403, "forbidden", "Not Authorized to access this resource/api").data
    mdm_sandbox.server.add_fault(
        kind="status", status=403, vendor="google", path=DEVICES, times=-1, body=body
    )
    with pytest.raises(AuthError) as caught:
        read_all(mdm_sandbox.connector("chromebooks", retry=waits.policy()))
    assert ([], 403, 1) == (waits.seconds, caught.value.status, mdm_sandbox.server.count(DEVICES))


def test_a_failing_token_endpoint_is_retried_by_the_connector_base_not_google_auth(
    mdm_sandbox: MdmSandbox,
):
    """A 503 on the JWT grant is one wait of the hub's retry policy and one more grant."""
    waits = Waits()
    mdm_sandbox.server.add_fault(kind="status", status=503, vendor="google", path=TOKEN, times=1)
    assert entities(read_all(mdm_sandbox.connector("chromebooks", retry=waits.policy())))
    assert (1, 2) == (len(waits.seconds), mdm_sandbox.server.count(TOKEN))


def test_a_key_the_service_account_does_not_have_is_refused_without_showing_it(
    mdm_sandbox: MdmSandbox,
):
    """Signed with another private key, the grant fails as an `AuthError` with no key in it."""
    other = generate_credentials("someone-else").google_key_json
    with capture_logs() as logs, pytest.raises(AuthError, match="Invalid JWT Signature") as caught:
        mdm_sandbox.connector("chromebooks", secret=other).check()
    text = f"{caught.value} {logs}"
    assert ("PRIVATE KEY" not in text, other not in text) == (True, True)


def test_an_administrator_the_account_may_not_act_for_is_refused(mdm_sandbox: MdmSandbox):
    """Delegation to another subject than the one allowed is refused at the grant."""
    entry = mdm_sandbox.source_entry("chromebooks")
    auth = {**entry["auth"], "subject": "someone@lillevik.kommune.no"}
    with pytest.raises(AuthError, match="Invalid email or User ID"):
        mdm_sandbox.connector("chromebooks", auth=auth).check()


def test_an_org_unit_reads_only_its_devices(mdm_sandbox: MdmSandbox):
    """`org_unit_path` sends `orgUnitPath` with children, and only those devices come back."""
    fleet = mdm_sandbox.fleet()
    school = next(u for u in fleet.units if u.pupil_count)
    devices = entities(
        read_all(mdm_sandbox.connector("chromebooks", org_unit_path=f"/Enheter/{school.name}"))
    )
    expected = sum(
        1 for i in fleet.listing(Table.GOOGLE) if fleet.facts(Table.GOOGLE, i).unit == school
    )
    paths = {d.unit_hints.org_unit_path for d in devices}  # type: ignore[attr-defined]
    assert (expected, True) == (
        len(devices),
        all(p.startswith(f"/Enheter/{school.name}/") for p in paths),
    )
