"""Classroom equipment against the policy's minimum: per classroom, per school, and its spread.

The guideline asks for equal equipment in every classroom: picture and sound (a projector
or an interactive board, plus a sound system) as a common minimum level across the school
owner. The minimum is the tenant's (`policy.classroom_equipment.minimum`: requirements, each
met by any of its kinds), never a constant here.

A classroom is a room the equipment register knows at a school (`location`, linked to a
directory unit by name or the policy's `unit_aliases`, as devices' hints are), whose name
is not one of the policy's `non_teaching_rooms` (store rooms, offices). Only items `in_use`
count; broken ones are counted apart; items in stock or retired are in no classroom. One
physical item reported by two registers (the same serial number) counts once. Rooms hold
no people: their figures are never suppressed.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from hub.followup._common import Context, share
from hub.followup._state import _rows
from hub.followup.measures.summary import Measure
from schemas.equipment import EquipmentKind, EquipmentStatus
from schemas.followup import ClassroomEquipment, Direction, EquipmentByUnit

#: The record's count field of each kind it counts.
KIND_FIELDS: dict[EquipmentKind, str] = {
    EquipmentKind.PROJECTOR: "projectors",
    EquipmentKind.INTERACTIVE_BOARD: "interactive_boards",
    EquipmentKind.SOUND_SYSTEM: "sound_systems",
    EquipmentKind.DISPLAY: "displays",
    EquipmentKind.DOCUMENT_CAMERA: "document_cameras",
}


@dataclass(frozen=True, slots=True)
class ItemRow:
    """An equipment item as a register reports it."""

    source: str
    key: str
    serial: str | None
    kind: str
    status: str
    location: str | None
    building: str | None
    room: str | None


def load_items(engine: sa.Engine, tenant: str, at: datetime) -> list[ItemRow]:
    """The tenant's equipment items valid at `at`."""
    return [
        ItemRow(
            source,
            p["key"],
            re.sub(r"[^0-9A-Z]", "", str(p["serial_number"]).upper()) or None
            if p.get("serial_number")
            else None,
            p.get("kind") or EquipmentKind.OTHER,
            p.get("status") or EquipmentStatus.UNKNOWN,
            p.get("location"),
            p.get("building"),
            p.get("room"),
        )
        for source, p in _rows(engine, tenant, "equipment_item", at)
    ]


@dataclass
class EquipmentTotals:
    """The tenant's classrooms and those meeting the minimum (the headline measure's counts)."""

    classrooms: int = 0
    meeting: int = 0
    #: Unit key → share of its classrooms meeting the minimum (for equity).
    unit_shares: dict[str, float] = field(default_factory=dict)


def equipment_measures(totals: EquipmentTotals) -> dict[str, Measure]:
    """The tenant-wide classroom measure the trend follows (rooms, not people: never hidden)."""
    return {
        "classrooms_meeting_minimum_share": Measure(share(totals.meeting, totals.classrooms)),
    }


def equipment_equity(
    totals: EquipmentTotals,
) -> dict[str, tuple[Direction, float | None, dict[str, float]]]:
    """The spread of the share of classrooms meeting the minimum across schools (target: all)."""
    return {"classrooms_meeting_minimum_share": (Direction.HIGHER, 1.0, dict(totals.unit_shares))}


def _label(requirement: Sequence[EquipmentKind]) -> str:
    return "|".join(str(k) for k in requirement)


def _distinct(items: list[ItemRow]) -> Iterator[ItemRow]:
    """Each physical item once: the first record (by source and key) of each serial."""
    seen: set[str] = set()
    for item in sorted(items, key=lambda i: (i.source, i.key)):
        if item.serial is not None:
            if item.serial in seen:
                continue
            seen.add(item.serial)
        yield item


def classroom_equipment(
    ctx: Context, items: list[ItemRow]
) -> tuple[list[ClassroomEquipment], list[EquipmentByUnit], EquipmentTotals]:
    """Per classroom and per school: the equipment in use against the policy's minimum."""
    policy = ctx.policy.classroom_equipment
    excluded = tuple(word.casefold() for word in policy.non_teaching_rooms)
    rooms: dict[tuple[str, str], list[ItemRow]] = defaultdict(list)
    for item in _distinct(items):
        if not item.location or not item.room:
            continue
        if any(word in item.room.casefold() for word in excluded):
            continue
        if item.status in (EquipmentStatus.IN_STOCK, EquipmentStatus.RETIRED):
            continue
        rooms[(item.location.strip(), item.room.strip())].append(item)
    rows: list[ClassroomEquipment] = []
    by_unit: dict[str, list[ClassroomEquipment]] = defaultdict(list)
    for (location, room), found in sorted(rooms.items()):
        unit = ctx.directory.unit_by_hints([location])
        in_use = [i for i in found if i.status != EquipmentStatus.BROKEN]
        kinds = {i.kind for i in in_use}
        missing = tuple(_label(req) for req in policy.minimum if not any(k in kinds for k in req))
        counts = {
            name: sum(1 for i in in_use if i.kind == kind) for kind, name in KIND_FIELDS.items()
        }
        row = ClassroomEquipment(
            tenant=ctx.tenant,
            key=f"{unit or 'unlinked:' + location}|{room}",
            as_of=ctx.as_of,
            unit_key=unit,
            location=location,
            room=room,
            broken=len(found) - len(in_use),
            meets_minimum=not missing,
            missing=missing,
            **counts,
        )
        rows.append(row)
        if unit is not None:
            by_unit[unit].append(row)
    totals = EquipmentTotals()
    units: list[EquipmentByUnit] = []
    for unit, classrooms in sorted(by_unit.items()):
        meeting = sum(1 for r in classrooms if r.meets_minimum)
        items_in_use = sum(
            sum(getattr(r, name) for name in KIND_FIELDS.values()) for r in classrooms
        )
        units.append(
            EquipmentByUnit(
                tenant=ctx.tenant,
                key=unit,
                as_of=ctx.as_of,
                unit_key=unit,
                classrooms=len(classrooms),
                classrooms_meeting=meeting,
                meeting_share=share(meeting, len(classrooms)),
                items_in_use=items_in_use,
                broken=sum(r.broken for r in classrooms),
            )
        )
        totals.classrooms += len(classrooms)
        totals.meeting += meeting
        totals.unit_shares[unit] = share(meeting, len(classrooms)) or 0.0
    rows.sort(key=lambda r: r.key)
    return rows, units, totals
