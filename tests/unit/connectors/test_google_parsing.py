"""ChromeOsDevice records, in the Admin SDK's documented shape, become `Device`s."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import requests

from connectors.base import Item
from connectors.mdm.google_chromeos import GoogleChromeOS, _ChromeOsDevices, error_reasons
from schemas.entities import SourceRef
from schemas.mdm import (
    AssignedUserId,
    Compliance,
    Device,
    DeviceKind,
    ManagementState,
    Ownership,
    UnitHints,
    UserIdKind,
)
from tests.unit.connectors._mdm import parse_file, source_settings

REF = SourceRef(system="google_chromeos", instance="chromebooks")


def source() -> GoogleChromeOS:
    """A Google connector that is never asked to connect."""
    entry = {
        "type": "google_chromeos",
        "id": "chromebooks",
        "auth": {
            "kind": "google_service_account",
            "secret": {"env": "UNUSED"},
            "subject": "admin@lillevik.kommune.no",
        },
    }
    return GoogleChromeOS(source_settings(entry), tenant="t", secret="{}")


def parse() -> list[Item | None]:
    """Every example ChromeOsDevice parsed."""
    return parse_file(_ChromeOsDevices(source()), "google_chromeosdevices.json", "chromeosdevices")


def test_a_pupils_chromebook_becomes_a_device_with_its_expiry_and_org_unit():
    """The annotated user, org unit, asset id, first enrolment and auto-update expiry are kept."""
    device = parse()[0]
    assert (
        Device(
            tenant="t",
            source=REF,
            key="a5d1b0c2-9e3f-4a7b-8c6d-5e4f3a2b1c01",
            source_modified=datetime(2025, 9, 14, 13, 37, 51, 127000, tzinfo=UTC),
            serial_number="5CD1234XYZ",
            physical_key="hp:5CD1234XYZ",
            kind=DeviceKind.CHROMEBOOK,
            manufacturer="HP",
            model="HP Chromebook x360 11 G4 EE",
            os_name="ChromeOS",
            os_version="131.0.6778.99",
            ownership=Ownership.SCHOOL_OWNED,
            management_state=ManagementState.MANAGED,
            compliance=Compliance.COMPLIANT,
            enrolled_at=datetime(2022, 8, 19, 9, 10, 11, tzinfo=UTC),
            last_check_in_on=date(2025, 9, 14),
            assigned_users=(
                AssignedUserId(kind=UserIdKind.ANNOTATED, value="emma.berg@lillevik.kommune.no"),
            ),
            unit_hints=UnitHints(
                org_unit_path="/Enheter/Lade skole/Elever", location="Lade skole, rom 214"
            ),
            shared=False,
            asset_tag="LADS-C00042",
            support_ends_on=date(2031, 6, 1),
        )
        == device
    )


def test_a_disabled_chromebook_past_its_expiry_is_shared_and_noncompliant():
    """No annotated user is shared; the expiry comes from milliseconds; DISABLED is disabled."""
    device = parse()[1]
    assert isinstance(device, Device)
    assert (
        ManagementState.DISABLED,
        Compliance.NONCOMPLIANT,
        date(2024, 6, 1),
        True,
        "lenovo:PF2ABCDE",
        "Lenovo",
        datetime(2020, 9, 1, 8, tzinfo=UTC),
    ) == (
        device.management_state,
        device.compliance,
        device.support_ends_on,
        device.shared,
        device.physical_key,
        device.manufacturer,
        device.enrolled_at,
    )


def test_a_deprovisioned_device_with_almost_nothing_is_kept_as_unmanaged():
    """A deprovisioned record without serial or model stays a device, with no false values."""
    assert (
        Device(
            tenant="t",
            source=REF,
            key="c7f3d2e4-1a5b-4c9d-8e0f-7a6b5c4d3e03",
            kind=DeviceKind.CHROMEBOOK,
            os_name="ChromeOS",
            ownership=Ownership.SCHOOL_OWNED,
            management_state=ManagementState.UNMANAGED,
            unit_hints=UnitHints(org_unit_path="/"),
            shared=True,
        )
        == parse()[2]
    )


def test_the_read_asks_for_the_full_projection_trimmed_to_the_fields_it_maps():
    """FULL projection with `fields` naming the page token and each mapped field."""
    params: dict[str, Any] = _ChromeOsDevices(source()).params()
    assert "FULL" == params["projection"]
    assert params["fields"].startswith("nextPageToken,chromeosdevices(deviceId,serialNumber,")
    assert "recentUsers" not in params["fields"]


def response(body: object, status: int = 403) -> requests.Response:
    """A response with a JSON body."""
    answer = requests.Response()
    answer.status_code = status
    answer._content = json.dumps(body).encode()  # noqa: SLF001
    return answer


def test_error_reasons_are_read_from_both_google_error_formats():
    """`errors[].reason` (v1) and `details[].reason` (v2) and `status` are all found."""
    v1 = {"error": {"errors": [{"reason": "userRateLimitExceeded"}], "code": 403}}
    v2 = {
        "error": {
            "status": "PERMISSION_DENIED",
            "details": [
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "RATE_LIMIT_EXCEEDED",
                }
            ],
        }
    }
    assert (
        {"userRateLimitExceeded"},
        {"PERMISSION_DENIED", "RATE_LIMIT_EXCEEDED"},
        set(),
    ) == (error_reasons(response(v1)), error_reasons(response(v2)), error_reasons(response("x")))
