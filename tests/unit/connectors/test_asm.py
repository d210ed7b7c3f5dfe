"""Apple School Manager: the documented device, the signed client assertion, cursor paging."""

from __future__ import annotations

import jwt
import pytest

from connectors.base import Rejected
from connectors.errors import AuthError
from connectors.http import HttpPage
from connectors.mdm.apple_school_manager import (
    AppleSchoolManager,
    ClientAssertion,
    CursorPaginator,
    _OrgDevices,
)
from hub.dev.sandbox.mdm.asm import generate_asm_credentials
from schemas.mdm import PurchasedDevice, PurchaseSource
from tests.conformance.support import vendor_json
from tests.contract.suite import entities, read_all
from tests.fixtures.asm import AsmSandbox

EXAMPLE = vendor_json("apple", "orgDevices.json")["response"]


def test_the_documented_device_maps(asm_sandbox: AsmSandbox) -> None:
    """Apple's example: serial, physical key, model, family, source, order date, unassigned."""
    source = asm_sandbox.connector()
    (device,) = _OrgDevices(source).parse(EXAMPLE["data"][0], 0)
    assert isinstance(device, PurchasedDevice)
    assert (
        "XABC123X0ABC123X0",
        "apple:XABC123X0ABC123X0",
        'iMac 21.5"',
        "Mac",
        PurchaseSource.APPLE,
        "2011-08-15T07:00:00+00:00",
        False,
        None,
        None,
    ) == (
        device.serial_number,
        device.physical_key,
        device.model,
        device.product_family,
        device.purchase_source,
        device.ordered_at.isoformat() if device.ordered_at else None,
        device.assigned,
        device.assigned_server,
        device.released_at,
    )


def test_a_device_without_a_serial_is_a_dead_letter(asm_sandbox: AsmSandbox) -> None:
    """A record whose attributes lack `serialNumber` names the field."""
    record = {"type": "orgDevices", "id": "X1", "attributes": {"status": "ASSIGNED"}}
    (rejected,) = _OrgDevices(asm_sandbox.connector()).parse(record, 0)
    assert isinstance(rejected, Rejected)
    assert "serialNumber" in rejected.reason


def test_the_cursor_is_followed_when_there_is_no_next_link() -> None:
    """`meta.paging.nextCursor` alone names the next page; neither ends the read."""
    body = {"data": [{}], "links": {"self": "x"}, "meta": {"paging": {"nextCursor": "abc"}}}
    page = HttpPage("https://h/v1/orgDevices?limit=5", {"limit": "5"}, {}, body, [{}])
    assert "https://h/v1/orgDevices?cursor=abc&limit=5" == CursorPaginator().next(page)
    last = HttpPage("https://h/v1/orgDevices", {}, {}, {"data": [], "links": {}}, [])
    assert CursorPaginator().next(last) is None


def test_the_client_assertion_is_signed_for_apple(asm_sandbox: AsmSandbox) -> None:
    """The assertion is ES256 with the key id, issued by and for the client, to Apple's audience."""
    source = asm_sandbox.connector()
    assert isinstance(source.auth, ClientAssertion)
    form, basic = source.auth.grant()
    header = jwt.get_unverified_header(form["client_assertion"])
    claims = jwt.decode(
        form["client_assertion"],
        asm_sandbox.credentials.public_key,
        algorithms=["ES256"],
        audience="https://account.apple.com/auth/oauth2/v2/token",
    )
    assert (None, "ES256", asm_sandbox.credentials.key_id, "school.api") == (
        basic,
        header["alg"],
        header["kid"],
        form["scope"],
    )
    assert claims["iss"] == claims["sub"] == asm_sandbox.credentials.client_id
    assert claims["exp"] - claims["iat"] <= 600


def test_devices_carry_their_service_and_unenrolled_purchases_are_read(
    asm_sandbox: AsmSandbox,
) -> None:
    """Every purchase is read; assigned ones name the Jamf service from the server lookup."""
    devices = entities(read_all(asm_sandbox.connector(page_size=25)))
    rows = asm_sandbox.app.rows[asm_sandbox.tenant]
    assert len(rows) == len(devices)
    assigned = {d.assigned_server for d in devices if isinstance(d, PurchasedDevice) and d.assigned}
    assert {"Jamf Pro"} == assigned
    assert any(not r.enrolled for r in rows)


def test_a_released_device_says_when(asm_sandbox: AsmSandbox) -> None:
    """A device released from the organisation is unassigned with its release time."""
    serial = asm_sandbox.app.rows[asm_sandbox.tenant][0].serial
    asm_sandbox.app.control(asm_sandbox.tenant, "release", {"serial": serial})
    source: AppleSchoolManager = asm_sandbox.connector()
    (device,) = [
        d for d in entities(read_all(source)) if isinstance(d, PurchasedDevice) and d.key == serial
    ]
    assert (False, None) == (device.assigned, device.assigned_server)
    assert device.released_at is not None


def test_a_wrong_key_is_refused_without_showing_it(asm_sandbox: AsmSandbox) -> None:
    """An assertion signed with another key is refused as credentials, naming no secret."""
    other = generate_asm_credentials("other").private_key
    with pytest.raises(AuthError) as caught:
        read_all(asm_sandbox.connector(secret=other))
    assert other not in str(caught.value)


def test_a_pem_key_from_an_env_file_has_its_line_breaks_back():
    r"""`\n` written for each line break (an env file's one line) reads as the PEM itself."""
    from connectors.mdm.apple_school_manager import pem_lines

    pem = "-----BEGIN PRIVATE KEY-----\nMIGHAgEA\n-----END PRIVATE KEY-----\n"
    assert pem == pem_lines(pem.replace("\n", "\\n"))
    assert pem == pem_lines(pem)
