"""What the equipment connectors share: kinds from template names, prices, text, local times.

Schools name their equipment templates and categories in their own language
(`Projektor`, `Interaktiv tavle`, `Ljudanläggning`, `Smartboard`); `equipment_kind` maps
such a name to the hub's small vocabulary by keywords in Norwegian, Swedish, Danish and
English, after the source's own `templates` setting (an exact name → kind) has had its say.
"""

from __future__ import annotations

import html
import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import AfterValidator

from schemas.entities import utc_timestamp
from schemas.equipment import EquipmentKind

#: Keywords (lower case, matched inside words) in the order they are tried: an
#: "interaktiv skjerm" is a board, not a display; a "dokumentkamera" is not a camera.
KEYWORDS: tuple[tuple[EquipmentKind, tuple[str, ...]], ...] = (
    (
        EquipmentKind.INTERACTIVE_BOARD,
        ("interakt", "interactive", "smartboard", "smart board", "activpanel", "activboard",
         "promethean", "clevertouch"),
    ),
    (
        EquipmentKind.DOCUMENT_CAMERA,
        ("dokumentkamera", "document camera", "doc cam", "visuali", "documentcamera"),
    ),
    (EquipmentKind.PROJECTOR, ("projektor", "projector", "prosjektor", "beamer")),
    (
        EquipmentKind.SOUND_SYSTEM,
        ("lydanl", "ljudanl", "lydsystem", "ljudsystem", "sound", "audio", "speaker",
         "høyttal", "högtal", "højttal", "forsterker", "förstärkare", "mikrofon"),
    ),
    (EquipmentKind.DISPLAY, ("skjerm", "skärm", "skærm", "display", "monitor", "screen", "tv")),
)  # fmt: skip

_NUMBER_CHARS = re.compile(r"[^0-9.,\-]")


def equipment_kind(
    name: str | None, templates: dict[str, EquipmentKind], *fallbacks: str | None
) -> EquipmentKind:
    """The kind a template or category name says (then the fallbacks: model, summary)."""
    for text in (name, *fallbacks):
        if not text:
            continue
        exact = templates.get(text.strip())
        if exact is not None:
            return exact
        lowered = text.casefold()
        words = set(re.split(r"[^\w]+", lowered))
        for kind, keywords in KEYWORDS:
            if any((k in words) if len(k) <= 3 else (k in lowered) for k in keywords):
                return kind
    return EquipmentKind.OTHER


def plain_text(value: str | None) -> str | None:
    """HTML entities decoded (Snipe-IT escapes names), trimmed; None when blank."""
    if value is None:
        return None
    text = html.unescape(html.unescape(value)).strip()
    return text or None


def price(value: str | float | int | None) -> Decimal | None:
    """A price from a number or a formatted string (`1,234.56`, `kr 6 500,00`, `€1.234,56`).

    Whichever of `.` and `,` comes last is the decimal mark when two or fewer digits follow
    it; every other separator, space and currency sign is dropped. Raises ValueError for
    text with no number in it or a negative price.
    """
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError("a price is not a boolean")
    if isinstance(value, int | float):
        amount = Decimal(str(value))
    else:
        text = _NUMBER_CHARS.sub("", value.replace("\u00a0", " ").replace(" ", ""))
        if not re.search(r"\d", text):
            raise ValueError("no number in the price")
        mark = max(text.rfind("."), text.rfind(","))
        if mark >= 0 and 1 <= len(text) - mark - 1 <= 2:
            whole, fraction = text[:mark], text[mark + 1 :]
        else:
            whole, fraction = text, ""
        whole = whole.replace(".", "").replace(",", "")
        try:
            amount = Decimal(f"{whole or '0'}.{fraction or '0'}")
        except InvalidOperation:
            raise ValueError("the price is not a number") from None
    if amount < 0:
        raise ValueError("the price is negative")
    return amount.quantize(Decimal("0.01"))


def _known_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except Exception:
        raise ValueError(f"unknown time zone {value!r} (an IANA name: Europe/Oslo)") from None
    return value


#: An IANA time zone name, checked when the settings load (a server's local time zone).
TimeZoneName = Annotated[str, AfterValidator(_known_zone)]


def local_time(value: datetime | None, zone: str) -> datetime | None:
    """A time a server wrote in its own zone without an offset, in UTC (aware ones as given)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(zone))
    return utc_timestamp(value)
