"""Small helpers the record computations share: dates, shares, versions and suppression."""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from hub.followup._identity import Directory
from hub.followup._state import TenantState
from hub.policy import Policy

_DIGITS = re.compile(r"\d+")


@dataclass(frozen=True)
class Context:
    """What every record computation reads."""

    tenant: str
    as_of: date
    policy: Policy
    state: TenantState
    directory: Directory

    @property
    def active_since(self) -> date:
        """A device that checked in on or after this day is active."""
        return self.as_of - timedelta(days=self.policy.active_days)

    def small(self, count: int | None) -> bool:
        """A cell of people too small to show (empty cells show: they reveal no one)."""
        return count is not None and 0 < count < self.policy.min_cell_size


def valid_on(day: date, start: date | None, end: date | None) -> bool:
    """A dated link (placement, enrolment, membership) holds on `day`: begun, not ended.

    Both ends are inclusive; a missing date leaves that side open.
    """
    return (start is None or start <= day) and (end is None or end >= day)


def add_months(day: date, months: int) -> date:
    """The same day `months` later (or earlier), clamped to the month's last day."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def share(part: int | float, whole: int | float | None) -> float | None:
    """`part / whole` rounded to 4 decimals, None when there is no whole."""
    if not whole:
        return None
    return round(part / whole, 4)


def rounded(value: float | None) -> float | None:
    """A figure as records keep it: 4 decimals."""
    return None if value is None else round(value, 4)


def version_tuple(version: str) -> tuple[int, ...]:
    """`10.0.22631.4460` → (10, 0, 22631, 4460); each part's leading number, others 0."""
    parts = []
    for part in version.strip().split("."):
        found = _DIGITS.match(part)
        parts.append(int(found.group()) if found else 0)
    return tuple(parts)


def at_least(version: str, minimum: str) -> bool:
    """A version at least `minimum`, compared part by part (missing parts are 0)."""
    have, want = version_tuple(version), version_tuple(minimum)
    width = max(len(have), len(want))
    return have + (0,) * (width - len(have)) >= want + (0,) * (width - len(want))


def suppress(
    values: Mapping[str, Any], fields: Iterable[str], hide: bool
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """Empty `fields` of a row when `hide`; return the row and the names emptied."""
    row = dict(values)
    if not hide:
        return row, ()
    names = tuple(fields)
    for name in names:
        row[name] = None
    return row, names


def median(values: list[float]) -> float:
    """The median of a non-empty list."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2
