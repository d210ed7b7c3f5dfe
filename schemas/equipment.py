"""Classroom equipment and IT support: the equipment register and the service desk's tickets.

Equipment items travel on `hub.equipment.equipment_item.v2`, support tickets on
`hub.support.support_ticket.v2`. Both are keyed by the source's own id. An item's `kind`
is the source's template or category mapped to a small vocabulary (`EquipmentKind`); the
source's own words stay in `source_kind`. Where an item or a ticket belongs is named as the
source names it (`location`, `building`, `room`): linking it to a school unit is the
follow-up's step, as for devices' unit hints.

A ticket's requester is a person, often a pupil: the requester never leaves the connector
except as `requester_link`, a keyed HMAC of the source's person id (the same keyed HMAC
the hub uses for other person identifiers), so tickets of one requester can be told apart
from another's without saying who either is. Ticket texts (subject, description, actions)
are not read at all.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import Field

from schemas.entities import Entity, Timestamp


class EquipmentKind(StrEnum):
    """What sort of classroom equipment it is, as the follow-up counts it."""

    PROJECTOR = "projector"
    INTERACTIVE_BOARD = "interactive_board"
    SOUND_SYSTEM = "sound_system"
    DISPLAY = "display"
    DOCUMENT_CAMERA = "document_camera"
    OTHER = "other"


class EquipmentStatus(StrEnum):
    """Where the item is in its life: in use, in store, broken or gone."""

    IN_USE = "in_use"
    IN_STOCK = "in_stock"
    BROKEN = "broken"
    RETIRED = "retired"
    UNKNOWN = "unknown"


class EquipmentItem(Entity):
    """A piece of classroom equipment: a projector, an interactive board, a sound system."""

    domain: ClassVar[str] = "equipment"
    entity: ClassVar[str] = "equipment_item"

    asset_tag: str | None = Field(default=None, description="The school's inventory number.")
    serial_number: str | None = None
    kind: EquipmentKind
    source_kind: str | None = Field(
        default=None,
        description="The source's template, category or model category, as it names it.",
        examples=["Projector", "Interaktiv tavle"],
    )
    manufacturer: str | None = None
    model: str | None = None
    status: EquipmentStatus = EquipmentStatus.UNKNOWN
    location: str | None = Field(
        default=None,
        description="The school or site as the source names it (TOPdesk branch, Snipe-IT "
        "location); the follow-up links it to a school unit.",
    )
    building: str | None = None
    room: str | None = Field(default=None, description="The room (a classroom) it is in.")
    purchased_on: date | None = None
    purchase_cost: Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)] | None = None
    currency: str | None = Field(default=None, examples=["NOK", "SEK"])


class TicketStatus(StrEnum):
    """Where a ticket is: open (new, in progress, waiting), resolved or closed."""

    OPEN = "open"
    RESOLVED = "resolved"
    CLOSED = "closed"


class SupportTicket(Entity):
    """One IT support request (an incident) from a school, without who asked or what was said."""

    domain: ClassVar[str] = "support"
    entity: ClassVar[str] = "support_ticket"

    number: str | None = Field(default=None, description="The ticket number people quote.")
    category: str | None = Field(default=None, examples=["Hardware", "Klasserom / AV"])
    subcategory: str | None = None
    location: str | None = Field(
        default=None, description="The school or site (TOPdesk branch), as the source names it."
    )
    building: str | None = None
    room: str | None = None
    status: TicketStatus
    opened_at: Timestamp
    resolved_at: Timestamp | None = Field(
        default=None, description="When the service desk completed it (TOPdesk's completed date)."
    )
    closed_at: Timestamp | None = None
    requester_link: str | None = Field(
        default=None,
        description="A keyed HMAC of the requester's id at the source (never the id): tells "
        "one requester's tickets from another's without saying who asked.",
    )


#: Every equipment and support entity type, in publishing order.
EQUIPMENT_ENTITY_TYPES: tuple[type[Entity], ...] = (EquipmentItem, SupportTicket)
