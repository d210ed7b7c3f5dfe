"""A tenant's classroom equipment and support tickets, derived from its generated schools.

Every school (not preschools) has teaching rooms, about one per 22 pupils plus two; each
room gets equipment drawn from a hash of the tenant, school and room, so that some rooms
meet a "projector or interactive board, plus sound" minimum and some do not, and schools
differ (one school in four is poorly equipped). Each school also has a year of support
tickets (about one per three people), most resolved within days, a few still open.
Everything is derived from a seeded hash: the same tenant, scale and seed give the same
register, and dates are relative to the day it was built.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from hub.dev.sandbox.population import SchoolLevel
from hub.dev.sandbox.roster import Roster

#: The TOPdesk templates (and Snipe-IT categories) the sandbox uses, by country.
TEMPLATES: dict[str, dict[str, str]] = {
    "NO": {
        "whiteboard": "Whiteboard",
        "projector": "Projektor",
        "interactive_board": "Interaktiv tavle",
        "sound_system": "Lydanlegg",
        "display": "Skjerm",
        "document_camera": "Dokumentkamera",
    },
    "SE": {
        "whiteboard": "Whiteboard",
        "projector": "Projektor",
        "interactive_board": "Interaktiv skrivtavla",
        "sound_system": "Ljudanläggning",
        "display": "Bildskärm",
        "document_camera": "Dokumentkamera",
    },
    "DK": {
        "whiteboard": "Whiteboard",
        "projector": "Projektor",
        "interactive_board": "Interaktiv tavle",
        "sound_system": "Lydanlæg",
        "display": "Skærm",
        "document_camera": "Dokumentkamera",
    },
}
CATEGORIES = ("Maskinvare", "Programvare", "Pålogging", "Nettverk", "Klasserom AV")
MODELS = {
    "whiteboard": ("Lintex", "Mood Wall"),
    "projector": ("Epson", "EB-L210W"),
    "interactive_board": ("Promethean", 'ActivPanel 9 75"'),
    "sound_system": ("Bose", "FreeSpace & Co"),
    "display": ("Samsung", "QM65C"),
    "document_camera": ("IPEVO", "VZ-X"),
}


def _draw(*parts: object) -> float:
    """A number in [0, 1) from a hash of the parts."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def hash_name(name: str) -> int:
    """A stable number for a name (for ids derived from names)."""
    return int.from_bytes(name.encode("utf-8")[:8].ljust(8, b"\0"), "big") % 10**9


@dataclass(frozen=True)
class Item:
    """One piece of equipment in a room."""

    number: int
    kind: str
    school: str
    building: str
    room: str
    serial: str
    purchased_on: date
    cost: float
    status: str  # in_use, broken, in_stock
    modified: datetime


@dataclass(frozen=True)
class Ticket:
    """One support request from a school."""

    number: int
    school: str
    category: str
    called: datetime
    completed: datetime | None
    closed: datetime | None
    caller: int
    modified: datetime


@dataclass
class Register:
    """One tenant's equipment and tickets."""

    tenant: str
    country: str
    items: list[Item]
    tickets: list[Ticket]
    #: Teaching rooms per school (school name → room names).
    rooms: dict[str, list[str]]

    @classmethod
    def build(cls, owner: Roster, seed: int = 1, reference: date | None = None) -> Register:
        """The register of an owner's schools, dated back from `reference` (today)."""
        today = reference or datetime.now(UTC).date()
        now = datetime(today.year, today.month, today.day, 8, tzinfo=UTC)
        country = owner.country if owner.country in TEMPLATES else "NO"
        items: list[Item] = []
        tickets: list[Ticket] = []
        rooms: dict[str, list[str]] = {}
        schools = [u for u in owner.units if u.level is not SchoolLevel.PRESCHOOL]
        for s, unit in enumerate(schools):
            poor = _draw(owner.tenant, seed, unit.name, "poor") < 0.25
            names = [f"{100 + r + 1}" for r in range(unit.pupil_count // 22 + 2)]
            rooms[unit.name] = names
            for room in names:
                kinds = ["whiteboard"]  # every classroom has one: the register knows the room
                picture = _draw(owner.tenant, seed, unit.name, room, "picture")
                if picture < (0.45 if poor else 0.15):
                    pass  # no picture at all
                elif picture < 0.6:
                    kinds.append("projector")
                else:
                    kinds.append("interactive_board")
                if _draw(owner.tenant, seed, unit.name, room, "sound") < (0.45 if poor else 0.85):
                    kinds.append("sound_system")
                if _draw(owner.tenant, seed, unit.name, room, "camera") < 0.3:
                    kinds.append("document_camera")
                for kind in kinds:
                    n = len(items) + 1
                    age = int(_draw(owner.tenant, seed, n, "age") * 2400)
                    broken = _draw(owner.tenant, seed, n, "broken") < 0.04
                    items.append(
                        Item(
                            number=n,
                            kind=kind,
                            school=unit.name,
                            building=f"{unit.name} hovedbygg",
                            room=room,
                            serial=f"{kind[:2].upper()}{s:02d}{n:06d}",
                            purchased_on=today - timedelta(days=age + 30),
                            cost=round(4000 + _draw(owner.tenant, seed, n, "cost") * 40000, 2),
                            status="broken" if broken else "in_use",
                            modified=now - timedelta(days=age % 200, minutes=n),
                        )
                    )
            # Spare equipment in a store room: in stock, in no teaching room.
            items.append(
                Item(
                    len(items) + 1,
                    "projector",
                    unit.name,
                    f"{unit.name} hovedbygg",
                    "Lager",
                    f"PR{s:02d}{len(items) + 1:06d}",
                    today - timedelta(days=90),
                    6500.0,
                    "in_stock",
                    now - timedelta(days=3),
                )  # fmt: skip
            )
            people = unit.pupil_count + unit.staff_count
            slow = _draw(owner.tenant, seed, unit.name, "slow") < 0.3
            # Between one ticket per two and one per six people in a year.
            per = 2 + int(_draw(owner.tenant, seed, unit.name, "volume") * 5)
            for _ in range(max(3, people // per)):
                n = len(tickets) + 1
                called = now - timedelta(minutes=int(_draw(owner.tenant, seed, n, "call") * 525600))
                hours = 1 + _draw(owner.tenant, seed, n, "hours") ** 2 * (400 if slow else 120)
                done = (called + timedelta(hours=hours)).replace(microsecond=0)
                waiting = _draw(owner.tenant, seed, n, "open") < 0.06
                # Still open: waiting on someone, or not done yet.
                completed = None if waiting or done > now - timedelta(hours=2) else done
                closed = completed + timedelta(days=2) if completed else None
                if closed is not None and closed > now:
                    closed = None
                tickets.append(
                    Ticket(
                        number=n,
                        school=unit.name,
                        category=CATEGORIES[int(_draw(owner.tenant, seed, n, "cat") * 5)],
                        called=called,
                        completed=completed,
                        closed=closed,
                        caller=int(_draw(owner.tenant, seed, n, "caller") * max(1, people)),
                        modified=closed or completed or called,
                    )
                )
        return cls(owner.tenant, country, items, tickets, rooms)

    def template(self, kind: str) -> str:
        """The TOPdesk template (Snipe-IT category) name of a kind of equipment."""
        return TEMPLATES[self.country][kind]


class RegisterApp:
    """What the TOPdesk and Snipe-IT apps share: the registers they serve, ignoring offsets."""

    def __init__(self, registers: Mapping[str, Register]) -> None:
        self.registers = dict(registers)
        self._repeat: dict[str, int] = {}

    @property
    def tenants(self) -> Sequence[str]:
        """The tenants it serves."""
        return tuple(self.registers)

    def repeat_pages(self, tenant: str, times: int = 1) -> None:
        """Ignore the offset of the next `times` listing requests (-1: for good)."""
        self._repeat[tenant] = 10**9 if times < 0 else times

    def repeating(self, tenant: str) -> bool:
        """True (and counted) when this listing request is to ignore its offset."""
        if self._repeat.get(tenant, 0):
            self._repeat[tenant] -= 1
            return True
        return False
