"""Device-management entities: the devices that Intune, Jamf Pro and Google Admin manage.

They travel on `hub.mdm.device.v2`. A device is keyed per source (an MDM's own device id),
so the same machine enrolled in two MDMs of one school owner is two `Device` entities;
`physical_key` is what they share: the normalised serial number qualified by the
manufacturer (`apple:DMPXL0QJHP8C`), computed the same way whichever MDM reports it, so
downstream can count the machine once. People are referred to as the MDM names them
(UPN, email, username, the administrator's annotation); matching them to the directory
is a later step. Device names and users' display names are not kept: in schools they
are often a child's name.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from schemas.entities import Entity, Timestamp


class DeviceKind(StrEnum):
    """What sort of device it is, as the follow-up counts devices."""

    LAPTOP = "laptop"
    TABLET = "tablet"
    CHROMEBOOK = "chromebook"
    DESKTOP = "desktop"
    PHONE = "phone"
    OTHER = "other"


class Ownership(StrEnum):
    """Who owns the device: the school owner, the user (BYOD), or not known."""

    SCHOOL_OWNED = "school_owned"
    PERSONAL = "personal"
    UNKNOWN = "unknown"


class ManagementState(StrEnum):
    """Where the device is in its management life cycle."""

    MANAGED = "managed"
    #: Pre-provisioned, shipped or enrolment not finished.
    ENROLLING = "enrolling"
    #: A retire, wipe or return is under way.
    RETIRING = "retiring"
    #: Disabled by an administrator (lost or stolen): managed, but not usable.
    DISABLED = "disabled"
    #: Known to the MDM but no longer under management (deprovisioned, unenrolled).
    UNMANAGED = "unmanaged"
    UNKNOWN = "unknown"


class Compliance(StrEnum):
    """The MDM's own compliance verdict; `unknown` where the MDM has none."""

    COMPLIANT = "compliant"
    NONCOMPLIANT = "noncompliant"
    UNKNOWN = "unknown"


class UserIdKind(StrEnum):
    """How the MDM names the device's user."""

    UPN = "upn"
    EMAIL = "email"
    USERNAME = "username"
    #: Free text an administrator wrote on the device (Google's `annotatedUser`).
    ANNOTATED = "annotated"
    #: The user's object id in the MDM's directory (Intune's Entra ID `userId`).
    DIRECTORY_ID = "directory_id"


class AssignedUserId(BaseModel):
    """One identifier of the device's assigned user, as the MDM gives it (trimmed only)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: UserIdKind
    value: Annotated[str, Field(min_length=1, max_length=512)]


class UnitHints(BaseModel):
    """Where the MDM places the device, in its own terms; mapping to a school is downstream."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: Jamf Pro site.
    site: str | None = None
    #: Jamf Pro building.
    building: str | None = None
    #: Jamf Pro room.
    room: str | None = None
    #: Google organisational unit path, e.g. `/Enheter/Lade skole/Elever`.
    org_unit_path: str | None = None
    #: Intune device category or Jamf department.
    group: str | None = None
    #: Google's `annotatedLocation`.
    location: str | None = None


class Device(Entity):
    """A managed device: a pupil's iPad, a teacher's laptop, a preschool's shared tablet."""

    domain: ClassVar[str] = "mdm"
    entity: ClassVar[str] = "device"

    serial_number: str | None = Field(
        default=None, description="The serial number as the MDM reports it (trimmed)."
    )
    physical_key: str | None = Field(
        default=None,
        description=(
            "The same for one physical device in every MDM: `<manufacturer>:<serial>`, the "
            "manufacturer a lower-case slug (`apple`, `lenovo`, `unknown`), the serial upper-"
            "cased without spaces or dashes. None when the serial is missing or a placeholder."
        ),
        examples=["apple:DMPXL0QJHP8C"],
    )
    kind: DeviceKind
    manufacturer: str | None = None
    model: str | None = None
    os_name: str | None = Field(default=None, examples=["Windows", "iPadOS", "macOS", "ChromeOS"])
    os_version: str | None = None
    ownership: Ownership = Ownership.UNKNOWN
    management_state: ManagementState = ManagementState.UNKNOWN
    compliance: Compliance = Compliance.UNKNOWN
    enrolled_at: Timestamp | None = Field(
        default=None,
        description="When the device entered this MDM: its first enrolment where the MDM "
        "keeps it (for the leasing cycle), else its latest.",
    )
    last_check_in_on: date | None = Field(
        default=None,
        description="The UTC day of the device's last check-in; the exact time is "
        "`source_modified`, which alone does not make a change event.",
    )
    assigned_users: tuple[AssignedUserId, ...] = ()
    unit_hints: UnitHints = UnitHints()
    shared: bool = Field(
        default=False, description="A shared device (Shared iPad, a userless cart device)."
    )
    asset_tag: str | None = Field(default=None, description="The school's inventory number.")
    support_ends_on: date | None = Field(
        default=None,
        description="When the OS vendor stops updating the device (a Chromebook's "
        "auto-update expiration), where the MDM says.",
    )


class PurchaseSource(StrEnum):
    """Where the organisation bought the device, as Apple School Manager says."""

    APPLE = "apple"
    RESELLER = "reseller"
    MANUALLY_ADDED = "manually_added"
    UNKNOWN = "unknown"


class PurchasedDevice(Entity):
    """A device the organisation bought, as its purchase register (Apple School Manager) knows it.

    Not a managed device: it says when and how the device was bought and which device
    management service it is assigned to, not whether it is enrolled. It shares
    `physical_key` with the `Device` records of the MDMs that manage it, so the follow-up
    finds devices bought but never enrolled, and dates the leasing cycle from the order.
    """

    domain: ClassVar[str] = "mdm"
    entity: ClassVar[str] = "purchased_device"

    serial_number: str
    physical_key: str | None = Field(default=None, examples=["apple:DMPXL0QJHP8C"])
    model: str | None = Field(default=None, examples=["iPad (9th generation)"])
    product_family: str | None = Field(default=None, examples=["iPad", "Mac"])
    purchase_source: PurchaseSource = PurchaseSource.UNKNOWN
    ordered_at: Timestamp | None = Field(
        default=None, description="When the order was placed: the start of the leasing cycle."
    )
    added_at: Timestamp | None = None
    assigned: bool = Field(description="Assigned to a device management service (ASSIGNED).")
    assigned_server: str | None = Field(
        default=None, description="The name of the device management service it is assigned to."
    )
    released_at: Timestamp | None = Field(
        default=None, description="When it was released from the organisation (sold, lost)."
    )


#: Every MDM entity type, in publishing order.
MDM_ENTITY_TYPES: tuple[type[Entity], ...] = (Device, PurchasedDevice)
