"""What the conformance tests share: the vendor documents and how a record is judged."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from connectors.base import Item, Rejected, Removed
from schemas.entities import Entity

VENDOR = Path(__file__).parent / "vendor"


def vendor_json(*parts: str) -> Any:
    """A vendor document kept in `tests/conformance/vendor/`."""
    return json.loads(VENDOR.joinpath(*parts).read_text(encoding="utf-8"))


def entities(items: list[Item]) -> list[Entity]:
    """The entities among a record's items (no dead letter allowed)."""
    rejected = [i for i in items if isinstance(i, Rejected)]
    assert not rejected, rejected[0].reason
    return [i for i in items if not isinstance(i, (Rejected, Removed))]


def judged(items: list[Item], allowed_reasons: dict[str, str], *, empty_ok: bool = False) -> str:
    """`mapped`, or the field a dead letter names (which must be one of `allowed_reasons`).

    A record that maps to nothing and is not a dead letter is a silent loss: it fails,
    unless the record type derives items only when present (`empty_ok`: an SS 12000
    activity without teachers yields no membership, and has no entity of its own).
    """
    rejected = [i for i in items if isinstance(i, Rejected)]
    if not rejected:
        assert items or empty_ok, "the record vanished: neither an entity nor a dead letter"
        return "mapped"
    reason = rejected[0].reason
    for field in allowed_reasons:
        if field in reason:
            return field
    raise AssertionError(f"dead letter naming no expected field: {reason}")
