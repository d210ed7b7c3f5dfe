"""What the three MDM connectors share: serial numbers, the physical key, kinds, dates.

`physical_key` is the contract that lets downstream recognise one machine reported by two
MDMs of the same school owner: `<manufacturer slug>:<normalised serial>`. Every MDM
connector computes it here, so Intune's `Apple Inc.` + `dmpxl0qjhp8c` and Jamf's `Apple`
+ `DMPXL0QJHP8C` give the same `apple:DMPXL0QJHP8C`.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import BeforeValidator

from schemas.entities import Timestamp, utc_timestamp
from schemas.mdm import AssignedUserId, UserIdKind

#: Serial numbers that firmware and virtual machines report when they have none. Two
#: devices with such a "serial" are not the same device, so they get no physical key.
PLACEHOLDER_SERIALS = frozenset(
    {
        "0",
        "NONE",
        "NA",
        "NULL",
        "UNKNOWN",
        "DEFAULT",
        "DEFAULTSTRING",
        "TOBEFILLEDBYOEM",
        "SYSTEMSERIALNUMBER",
        "CHASSISSERIALNUMBER",
        "SERIALNUMBER",
        "NOTAPPLICABLE",
        "NOTSPECIFIED",
        "INVALID",
        "123456789",
        "0123456789",
    }
)

#: Manufacturer names (lower case, punctuation removed, first words) → a stable slug.
_VENDORS: tuple[tuple[str, str], ...] = (
    ("apple", "apple"),
    ("lenovo", "lenovo"),
    ("dell", "dell"),
    ("hewlett packard", "hp"),
    ("hp", "hp"),
    ("microsoft", "microsoft"),
    ("acer", "acer"),
    ("asustek", "asus"),
    ("asus", "asus"),
    ("samsung", "samsung"),
    ("google", "google"),
    ("toshiba", "dynabook"),
    ("dynabook", "dynabook"),
    ("fujitsu", "fujitsu"),
    ("panasonic", "panasonic"),
    ("lg", "lg"),
    ("huawei", "huawei"),
    ("xiaomi", "xiaomi"),
    ("medion", "medion"),
    ("ctl", "ctl"),
)
#: Model names that say the vendor when the MDM does not (Google gives only the model).
_APPLE_MODELS = re.compile(r"^(ipad|iphone|ipod|macbook|imac|mac\b|mac mini|mac pro|mac studio)")
_DESKTOP_MODELS = re.compile(
    r"(imac|mac mini|mac pro|mac studio|optiplex|thinkcentre|elitedesk|prodesk|veriton|"
    r"chromebox|chromebase|all-in-one|\baio\b|desktop|tower)",
    re.IGNORECASE,
)
#: Graph writes this for a date it does not have.
_NEVER = datetime(1, 1, 1, tzinfo=UTC)


def normalise_serial(serial: str | None) -> str | None:
    """The serial as the physical key uses it: upper case, letters and digits only.

    None for a missing serial, a placeholder (`To be filled by O.E.M.`, `0`), one of a
    single repeated character (`000000`, `XXXXXXXX`) or one shorter than four characters.
    """
    if not serial:
        return None
    text = re.sub(r"[^0-9A-Z]", "", serial.upper())
    if len(text) < 4 or text in PLACEHOLDER_SERIALS or len(set(text)) == 1:
        return None
    return text


def vendor_slug(manufacturer: str | None, model: str | None = None) -> str:
    """A stable lower-case manufacturer name (`apple`, `hp`, `asus`), or `unknown`.

    The manufacturer wins; without one, a model name that starts with a vendor's name
    (`Lenovo 300e Chromebook`) or an Apple product (`iPad (9th generation)`) says it.
    """
    for text in (manufacturer, model):
        words = re.sub(r"[^a-z0-9 ]", " ", (text or "").lower()).split()
        head = " ".join(words[:2])
        for prefix, slug in _VENDORS:
            if head == prefix or head.startswith(prefix + " "):
                return slug
    if model and _APPLE_MODELS.match(model.strip().lower()):
        return "apple"
    return "unknown"


def physical_key(manufacturer: str | None, serial: str | None, model: str | None = None) -> str:
    """`<vendor slug>:<normalised serial>`; raises ValueError when the serial is unusable."""
    normalised = normalise_serial(serial)
    if normalised is None:
        raise ValueError("no usable serial number")
    return f"{vendor_slug(manufacturer, model)}:{normalised}"


def maybe_physical_key(
    manufacturer: str | None, serial: str | None, model: str | None = None
) -> str | None:
    """The physical key, or None when the serial is missing or a placeholder."""
    try:
        return physical_key(manufacturer, serial, model)
    except ValueError:
        return None


def is_desktop(model: str | None) -> bool:
    """True for a model name of a desktop computer (iMac, OptiPlex, Chromebox...)."""
    return bool(model and _DESKTOP_MODELS.search(model))


def text(value: str | None) -> str | None:
    """A trimmed string, or None for a missing or blank one."""
    if value is None:
        return None
    stripped = value.strip()
    return stripped or None


def _never_is_none(value: Any) -> Any:
    """Graph's `0001-01-01T00:00:00Z` (its "no date") as None, before range checks."""
    if isinstance(value, str) and value.strip().startswith("0001-01-01"):
        return None
    if isinstance(value, datetime) and value.year <= _NEVER.year:
        return None
    return value


#: A `Timestamp` that reads Graph's year-1 "no date" as None.
GraphTimestamp = Annotated[Timestamp | None, BeforeValidator(_never_is_none)]


def aware(moment: datetime | date | None) -> datetime | None:
    """A timezone-aware UTC datetime (a date is its midnight); None for Graph's year 1.

    Never overflows: a moment outside the supported range raises ValueError (raw models
    declare their times as `Timestamp`, so that is refused earlier, with the field named).
    """
    if moment is None:
        return None
    if not isinstance(moment, datetime):
        moment = datetime(moment.year, moment.month, moment.day, tzinfo=UTC)
    if moment.year <= _NEVER.year:
        return None
    return utc_timestamp(moment)


def utc_day(moment: datetime | date | None) -> date | None:
    """The UTC calendar day of a moment."""
    stamp = aware(moment)
    return stamp.date() if stamp else None


def user_ids(*found: tuple[UserIdKind, str | None]) -> tuple[AssignedUserId, ...]:
    """A holder's identifiers as a source names them, each trimmed, the empty ones left out."""
    pairs = ((kind, text(value)) for kind, value in found)
    return tuple(AssignedUserId(kind=kind, value=value) for kind, value in pairs if value)
