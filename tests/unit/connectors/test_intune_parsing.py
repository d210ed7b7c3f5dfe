"""Graph managedDevice records, in the documented v1.0 shape, become `Device`s."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from connectors.base import Item, Rejected
from connectors.mdm.intune import SELECT, _ManagedDevices
from hub.settings import SettingsError
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
from tests.unit.connectors._mdm import intune, intune_entry, parse_file, source_settings


def parse() -> list[Item | None]:
    """Every example record parsed."""
    return parse_file(_ManagedDevices(intune()), "graph_managed_devices.json", "value")


def test_a_staff_laptop_becomes_a_device_with_every_field():
    """A company Windows laptop keeps its identifiers, state, user ids and category."""
    device = parse()[0]
    assert (
        Device(
            tenant="t",
            source=SourceRef(system="intune", instance="intune"),
            key="3f2c9a1e-7b4d-4e0a-9c61-2d8f5b7a1c01",
            source_modified=datetime(2025, 9, 14, 20, 40, 49, 320597, tzinfo=UTC),
            serial_number="pf-4b2k9x",
            physical_key="lenovo:PF4B2K9X",
            kind=DeviceKind.LAPTOP,
            manufacturer="LENOVO",
            model="ThinkPad L13 Gen 4",
            os_name="Windows",
            os_version="10.0.22631.4460",
            ownership=Ownership.SCHOOL_OWNED,
            management_state=ManagementState.MANAGED,
            compliance=Compliance.COMPLIANT,
            enrolled_at=datetime(2022, 8, 15, 17, 12, 43, 797191, tzinfo=UTC),
            last_check_in_on=date(2025, 9, 14),
            assigned_users=(
                AssignedUserId(kind=UserIdKind.UPN, value="kari.nordmann@lillevik.kommune.no"),
                AssignedUserId(kind=UserIdKind.EMAIL, value="kari.nordmann@lillevik.kommune.no"),
                AssignedUserId(
                    kind=UserIdKind.DIRECTORY_ID, value="8a6e2f4c-1b3d-4f5e-8a7b-9c0d1e2f3a4b"
                ),
            ),
            unit_hints=UnitHints(group="LADS Ansatt"),
            shared=False,
        )
        == device
    )


def test_a_userless_lab_desktop_being_retired_is_shared_retiring_and_noncompliant():
    """Bulk userless enrolment is shared; a pending retire wins; grace period is noncompliant."""
    device = parse()[1]
    assert isinstance(device, Device)
    assert (
        DeviceKind.DESKTOP,
        True,
        (),
        ManagementState.RETIRING,
        Compliance.NONCOMPLIANT,
        UnitHints(),
        "dell:7XK2Q93",
    ) == (
        device.kind,
        device.shared,
        device.assigned_users,
        device.management_state,
        device.compliance,
        device.unit_hints,
        device.physical_key,
    )


def test_a_personal_iphone_is_a_personal_phone():
    """`managedDeviceOwnerType: personal` on iOS with an iPhone model is a personal phone."""
    device = parse()[2]
    assert isinstance(device, Device)
    assert (Ownership.PERSONAL, DeviceKind.PHONE, "iOS", Compliance.NONCOMPLIANT, False) == (
        device.ownership,
        device.kind,
        device.os_name,
        device.compliance,
        device.shared,
    )


def test_nulls_year_one_and_a_placeholder_serial_become_none():
    """Null fields, Graph's year-1 date and `To be filled by O.E.M.` leave no false values."""
    device = parse()[3]
    assert isinstance(device, Device)
    assert (
        "To be filled by O.E.M.",
        None,
        None,
        None,
        None,
        Compliance.UNKNOWN,
        ManagementState.ENROLLING,
        (DeviceKind.TABLET, "iPadOS"),
        Ownership.UNKNOWN,
    ) == (
        device.serial_number,
        device.physical_key,
        device.enrolled_at,
        device.last_check_in_on,
        device.source_modified,
        device.compliance,
        device.management_state,
        (device.kind, device.os_name),
        device.ownership,
    )


def test_a_record_with_only_its_id_is_a_device_of_unknown_everything():
    """Graph may return a bare id; the device is kept with unknown values, not rejected."""
    device = parse()[4]
    assert (
        Device(
            tenant="t",
            source=SourceRef(system="intune", instance="intune"),
            key="0b3a5c7d-9e1f-4a2b-b4c6-5d6e7f8a9b05",
            kind=DeviceKind.OTHER,
        )
        == device
    )


def test_a_record_without_an_id_is_dead_lettered_naming_the_field():
    """A managedDevice without `id` cannot be keyed: it becomes a dead letter."""
    [item] = _ManagedDevices(intune()).parse({"serialNumber": "X1"}, 7)
    assert (
        Rejected(
            entity="device",
            record_ref="managedDevices#7",
            reason="managedDevices: id: Field required",
            payload={"serialNumber": "X1"},
        )
        == item
    )


def test_select_names_only_v1_properties_the_hub_reads():
    """`$select` lists the properties the connector maps, all of them Graph v1.0 names."""
    assert {"$select": ",".join(SELECT)} == _ManagedDevices(intune()).params()
    assert "managementState" not in SELECT  # a beta property: v1.0 would answer 400


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"token_url": "https://login.microsoftonline.com/common/oauth2/v2.0/token"},
            "names `common`",
        ),
        ({"scope": "DeviceManagementManagedDevices.Read.All"}, "the resource's .default scope"),
    ],
)
def test_a_token_endpoint_or_scope_client_credentials_cannot_use_is_refused(changes, message):
    """`common` and a permission name as scope fail at load, naming what to write instead."""
    bad = intune_entry()
    bad["auth"] = {**bad["auth"], **changes}
    with pytest.raises(SettingsError, match=message):
        source_settings(bad)


def test_a_beta_base_url_is_refused():
    """The connector reads Graph v1.0 only; a `/beta` base URL fails at load."""
    with pytest.raises(SettingsError, match=r"tenants.0.sources.0.intune.base_url"):
        source_settings(intune_entry(base_url="https://graph.microsoft.com/beta"))
