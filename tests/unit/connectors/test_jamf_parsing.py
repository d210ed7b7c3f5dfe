"""Jamf Pro inventory records, in the documented shapes, become `Device`s; physical keys agree."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from connectors.base import Item, Rejected
from connectors.mdm._device import normalise_serial, physical_key, vendor_slug
from connectors.mdm.intune import _ManagedDevices
from connectors.mdm.jamf import JamfPro, _Computers, _MobileDevices
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
from tests.unit.connectors._mdm import intune, parse_file, source_settings

REF = SourceRef(system="jamf_pro", instance="jamf")


def source(**extra: Any) -> JamfPro:
    """A Jamf Pro connector that is never asked to connect, with site and building names."""
    entry = {
        "type": "jamf_pro",
        "id": "jamf",
        "base_url": "https://lillevik.jamfcloud.com",
        "auth": {"kind": "basic", "username": "hub", "secret": {"env": "UNUSED"}},
        "max_concurrency": 1,
        **extra,
    }
    connector = JamfPro(source_settings(entry), tenant="t", secret="unused")
    connector.sites.update({"2": "Lade skole", "5": "Solbakken barnehage"})
    connector.buildings.update({"7": "Lade skole, hus B"})
    return connector


def parse(name: str, stream_type: type[Any]) -> list[Item | None]:
    """Every example record of a file parsed by a stream."""
    return parse_file(stream_type(source()), name, "results")


def test_a_teachers_mac_becomes_a_device_with_site_building_and_first_entry():
    """Site from the record, building by lookup, enrolled at the initial entry, ADE owned."""
    device = parse("jamf_computers_inventory.json", _Computers)[0]
    assert (
        Device(
            tenant="t",
            source=REF,
            key="computers/1",
            source_modified=datetime(2025, 9, 14, 21, 4, 13, tzinfo=UTC),
            serial_number="FVFXK0QJHP8C",
            physical_key="apple:FVFXK0QJHP8C",
            kind=DeviceKind.LAPTOP,
            manufacturer="Apple",
            model="MacBook Air (M2, 2022)",
            os_name="macOS",
            os_version="14.7.1",
            ownership=Ownership.SCHOOL_OWNED,
            management_state=ManagementState.MANAGED,
            compliance=Compliance.UNKNOWN,
            enrolled_at=datetime(2021, 8, 9, tzinfo=UTC),
            last_check_in_on=date(2025, 9, 14),
            assigned_users=(
                AssignedUserId(kind=UserIdKind.USERNAME, value="kari.nordmann"),
                AssignedUserId(kind=UserIdKind.EMAIL, value="kari.nordmann@lillevik.kommune.no"),
            ),
            unit_hints=UnitHints(site="Lade skole", building="Lade skole, hus B", room="Rom 214"),
            shared=False,
            asset_tag="LADS-M00001",
        )
        == device
    )


def test_an_unmanaged_imac_without_site_or_user_keeps_only_what_jamf_knows():
    """Site "None" is no site, `managed: false` is unmanaged, no ADE is unknown ownership."""
    device = parse("jamf_computers_inventory.json", _Computers)[1]
    assert isinstance(device, Device)
    assert (
        DeviceKind.DESKTOP,
        ManagementState.UNMANAGED,
        Ownership.UNKNOWN,
        UnitHints(),
        (),
        datetime(2018, 9, 1, 10, tzinfo=UTC),
        "12.7.6",
    ) == (
        device.kind,
        device.management_state,
        device.ownership,
        device.unit_hints,
        device.assigned_users,
        device.enrolled_at,
        device.os_version,
    )


def test_a_computer_whose_sections_are_null_is_still_a_device():
    """Sections that are null (not asked for, or empty) give a device of unknowns."""
    device = parse("jamf_computers_inventory.json", _Computers)[2]
    assert (
        Device(
            tenant="t",
            source=REF,
            key="computers/3",
            kind=DeviceKind.LAPTOP,
            manufacturer="Apple",
        )
        == device
    )


def test_a_pupils_ipad_gets_site_and_building_names_by_lookup():
    """`siteId` and `buildingId` become names; the first entry is the enrolment time."""
    device = parse("jamf_mobile_devices_detail.json", _MobileDevices)[0]
    assert (
        Device(
            tenant="t",
            source=REF,
            key="mobile-devices/11",
            source_modified=datetime(2025, 9, 15, 5, 48, 10, 114000, tzinfo=UTC),
            serial_number="DMPXL0QJHP8C",
            physical_key="apple:DMPXL0QJHP8C",
            kind=DeviceKind.TABLET,
            manufacturer="Apple",
            model="iPad (9th generation)",
            os_name="iPadOS",
            os_version="17.7.2",
            ownership=Ownership.SCHOOL_OWNED,
            management_state=ManagementState.MANAGED,
            enrolled_at=datetime(2022, 8, 15, 7, 45, tzinfo=UTC),
            last_check_in_on=date(2025, 9, 15),
            assigned_users=(
                AssignedUserId(kind=UserIdKind.USERNAME, value="emma.berg"),
                AssignedUserId(kind=UserIdKind.EMAIL, value="emma.berg@lillevik.kommune.no"),
            ),
            unit_hints=UnitHints(site="Lade skole", building="Lade skole, hus B", room="4B"),
            asset_tag="LADS-P00011",
        )
        == device
    )


def test_a_shared_preschool_ipad_is_shared_and_named_by_its_building():
    """A Shared iPad without user is shared; a building name given directly is used."""
    device = parse("jamf_mobile_devices_detail.json", _MobileDevices)[1]
    assert isinstance(device, Device)
    assert (True, (), UnitHints(site="Solbakken barnehage", building="Solbakken barnehage")) == (
        device.shared,
        device.assigned_users,
        device.unit_hints,
    )


def test_a_user_enrolled_iphone_is_personal_and_has_no_physical_key_without_serial():
    """User Enrollment is a personal device; Jamf hides its serial, so no physical key."""
    device = parse("jamf_mobile_devices_detail.json", _MobileDevices)[2]
    assert isinstance(device, Device)
    assert (Ownership.PERSONAL, DeviceKind.PHONE, None, None, None) == (
        device.ownership,
        device.kind,
        device.serial_number,
        device.physical_key,
        device.last_check_in_on,
    )


def test_a_dead_letter_carries_no_name_phone_or_position():
    """A mobile device without its id is dead-lettered without the user's name and phone."""
    record = {
        "general": {"displayName": "x"},
        "userAndLocation": {"username": "a", "realName": "Ola Hansen", "phoneNumber": "+47 9"},
    }
    [item] = _MobileDevices(source()).parse(record, 4)
    assert (
        Rejected(
            entity="device",
            record_ref="mobileDevices#4",
            reason="mobileDevices: mobileDeviceId: Field required",
            payload={"general": {"displayName": "x"}, "userAndLocation": {"username": "a"}},
        )
        == item
    )


def test_the_same_ipad_from_intune_and_jamf_has_one_physical_key():
    """Intune's `Apple Inc.` + lower-case dashed serial and Jamf's `Apple` serial agree."""
    [from_intune] = _ManagedDevices(intune()).parse(
        {
            "id": "9",
            "manufacturer": "Apple Inc.",
            "model": "iPad (9th generation)",
            "serialNumber": "dmpx-l0qj-hp8c",
        },
        0,
    )
    from_jamf = parse("jamf_mobile_devices_detail.json", _MobileDevices)[0]
    assert isinstance(from_intune, Device) and isinstance(from_jamf, Device)
    assert ("apple:DMPXL0QJHP8C", "apple:DMPXL0QJHP8C") == (
        from_intune.physical_key,
        from_jamf.physical_key,
    )
    assert from_intune.key != from_jamf.key


@pytest.mark.parametrize(
    ("manufacturer", "model", "slug"),
    [
        ("LENOVO", "ThinkPad L13", "lenovo"),
        ("Dell Inc.", "Latitude 3440", "dell"),
        ("HP Inc.", "HP ProBook 440 G10", "hp"),
        ("Hewlett-Packard", "HP EliteBook 840", "hp"),
        ("ASUSTeK COMPUTER INC.", "ExpertBook", "asus"),
        (None, "Acer Chromebook Spin 511", "acer"),
        (None, "Lenovo 300e Chromebook 2nd Gen", "lenovo"),
        (None, "iPad (9th generation)", "apple"),
        ("Contoso", "Classroom PC", "unknown"),
    ],
)
def test_manufacturers_have_one_slug_however_an_mdm_writes_them(manufacturer, model, slug):
    """Vendor spellings collapse to one slug; a model name says it when the MDM does not."""
    assert slug == vendor_slug(manufacturer, model)


@pytest.mark.parametrize(
    "serial", ["", "0", "To be filled by O.E.M.", "Default string", "000000000", "N/A", "ab"]
)
def test_placeholder_serials_have_no_physical_key(serial):
    """Firmware placeholders and too-short serials never join two devices into one."""
    assert None is normalise_serial(serial)


def test_a_serial_is_normalised_to_upper_case_letters_and_digits():
    """Case, spaces and dashes do not matter."""
    assert "lenovo:PF4B2K9X" == physical_key("LENOVO", " pf-4b 2k9x ")
