"""The small rules the records rest on: months, versions, unit hints, shares."""

from __future__ import annotations

from datetime import date

import pytest

from hub.followup._common import add_months, at_least, share
from hub.followup._identity import _hint_parts


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2022, 3, 1), 36, date(2025, 3, 1)),
        (date(2024, 1, 31), 1, date(2024, 2, 29)),
        (date(2026, 6, 15), -12, date(2025, 6, 15)),
    ],
)
def test_months_are_calendar_months_clamped_to_the_month_end(
    day: date, months: int, expected: date
):
    """Leasing and requirement windows count calendar months."""
    assert expected == add_months(day, months)


@pytest.mark.parametrize(
    ("version", "minimum", "expected"),
    [
        ("10.0.22631.4460", "10.0.19045", True),
        ("10.0.19044.1", "10.0.19045", False),
        ("17.0", "17.0", True),
        ("16.7.10", "17.0", False),
        ("131.0.6778.99", "120", True),
        ("18.1 (22B91)", "17.0", True),
    ],
)
def test_os_versions_compare_part_by_part(version: str, minimum: str, expected: bool):
    """An OS version is compared numerically, part by part, with missing parts as zero."""
    assert expected == at_least(version, minimum)


def test_a_hint_is_tried_whole_then_by_path_segment_comma_and_first_word():
    """Google paths are tried deepest segment first; a location before its comma; a prefix."""
    assert ["/enheter/lade skole/elever", "elever", "lade skole", "enheter"] == _hint_parts(
        "/Enheter/Lade skole/Elever"
    )
    assert ["lade skole, rom 101", "lade skole", "lade"] == _hint_parts("Lade skole, rom 101")
    assert ["lads felles", "lads"] == _hint_parts("LADS  Felles")


def test_shares_are_rounded_and_empty_without_a_whole():
    """A share is rounded to 4 decimals; over nothing it is empty, not zero."""
    assert (0.6667, None, 0.0) == (share(2, 3), share(1, 0), share(0, 5))
