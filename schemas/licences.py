"""Licence entities: the licences a school owner holds and who or what holds each one.

They travel on `hub.licences.pool.v1` and `hub.licences.assignment.v1`. A **licence pool**
is one product the owner bought licences of in one source (a Microsoft 365 SKU, an App
Store app or book bought through Apple's volume purchasing, a Google Workspace SKU, a
Jamf Pro volume-purchasing location's app), with the counts the source declares. A
**licence assignment** is one licence of a pool held by a person (or a device, for
Apple's device-assigned apps). People are referred to only by the identifiers matching
needs (`AssignedUserId`, as devices do); an assignment's key is never an e-mail address:
where the source names users by address (Google's License Manager), the key holds a keyed
HMAC of it. Display names are not kept.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import Field

from schemas.entities import Entity, Key
from schemas.mdm import AssignedUserId

#: A licence count: never negative.
LicenceCount = Annotated[int, Field(ge=0)]


class ProductKind(StrEnum):
    """What the licences are for."""

    #: A subscription for people: a Microsoft 365 SKU, a Google Workspace SKU.
    SUBSCRIPTION = "subscription"
    APP = "app"
    BOOK = "book"
    OTHER = "other"


class LicencePool(Entity):
    """The licences of one product that the school owner holds in one source."""

    domain: ClassVar[str] = "licences"
    entity: ClassVar[str] = "pool"
    schema_major: ClassVar[int] = 1

    product_id: Key = Field(
        description="The vendor's product id: Microsoft's skuId, Apple's adamId, Google's "
        "`<productId>/<skuId>`.",
    )
    product_name: str | None = Field(
        default=None,
        description="The product's name where the source gives one (skuPartNumber, skuName).",
    )
    vendor: Annotated[str, Field(min_length=1, examples=["microsoft", "apple", "google"])]
    kind: ProductKind = ProductKind.OTHER
    total: LicenceCount | None = Field(
        default=None, description="Licences bought (enabled, not suspended or retired)."
    )
    assigned: LicenceCount | None = Field(
        default=None, description="Licences assigned (consumed) as the source counts them."
    )
    available: LicenceCount | None = Field(
        default=None, description="Licences free to assign, as the source counts them."
    )
    unit_price: Annotated[Decimal, Field(ge=0)] | None = Field(
        default=None, description="The price of one licence, where the source gives it."
    )
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] | None = None
    location: str | None = Field(
        default=None,
        description="The purchasing location the licences belong to (an Apple volume-"
        "purchasing location), where the source has several.",
    )


class LicenceAssignment(Entity):
    """One licence of a pool, assigned to a person or (Apple) a device."""

    domain: ClassVar[str] = "licences"
    entity: ClassVar[str] = "assignment"
    schema_major: ClassVar[int] = 1

    pool_key: Key = Field(description="The key of the `LicencePool` in the same source.")
    assigned_users: tuple[AssignedUserId, ...] = Field(
        default=(),
        description="The holder's identifiers as the source gives them, for matching "
        "to the directory; empty for a device assignment.",
    )
    device_serial: str | None = Field(
        default=None, description="The serial number of the device holding the licence."
    )
    device_physical_key: str | None = Field(
        default=None,
        description="The holding device's `physical_key`, as `Device` computes it "
        "(`apple:<SERIAL>`): what links the licence to the device's user.",
    )
    assigned_on: date | None = Field(
        default=None, description="When the licence was assigned, where the source says."
    )


#: Every licence entity type, in publishing order (pools before their assignments).
LICENCE_ENTITY_TYPES: tuple[type[Entity], ...] = (LicencePool, LicenceAssignment)
