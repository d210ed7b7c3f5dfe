"""Norwegian identifiers, synthetic but real-shaped: organisation and identity numbers.

Organisation numbers are nine digits with a mod-11 check digit (weights 3 2 7 6 5 4 3 2).
National identity numbers are DDMMYY, a three-digit individual number that encodes the
century, and two mod-11 check digits. The sandbox only makes synthetic test numbers (month
+ 80), which can never belong to a real person; `is_valid_nin` also recognises ordinary,
D- (day + 40) and H-numbers (month + 40), so privacy tests catch anything real-shaped.
"""

from __future__ import annotations

from datetime import date

__all__ = [
    "NinAllocator",
    "is_valid_nin",
    "is_valid_org_number",
    "nin_check_digits",
    "org_number_check_digit",
    "synthetic_nin",
]


def org_number_check_digit(first8: str) -> int | None:
    """The mod-11 check digit of a Norwegian organisation number, or None if none exists."""
    weights = (3, 2, 7, 6, 5, 4, 3, 2)
    remainder = sum(w * int(c) for w, c in zip(weights, first8, strict=True)) % 11
    check = 0 if remainder == 0 else 11 - remainder
    return None if check == 10 else check


def is_valid_org_number(value: str) -> bool:
    """Whether `value` is nine digits whose last digit is the correct mod-11 check digit."""
    if len(value) != 9 or not value.isdigit():
        return False
    return org_number_check_digit(value[:8]) == int(value[8])


def nin_check_digits(first9: str) -> str | None:
    """The two mod-11 check digits for the first nine digits of a NIN, or None if impossible."""
    digits = [int(c) for c in first9]
    k1 = 11 - sum(w * d for w, d in zip((3, 7, 6, 1, 8, 9, 4, 5, 2), digits, strict=True)) % 11
    k1 = 0 if k1 == 11 else k1
    if k1 == 10:
        return None
    digits.append(k1)
    k2 = 11 - sum(w * d for w, d in zip((5, 4, 3, 2, 7, 6, 5, 4, 3, 2), digits, strict=True)) % 11
    k2 = 0 if k2 == 11 else k2
    if k2 == 10:
        return None
    return f"{k1}{k2}"


def _individual_numbers(year: int) -> range:
    """The individual numbers (digits 7-9) that encode a birth year's century."""
    if 1900 <= year <= 1999:
        return range(0, 500)
    if 2000 <= year <= 2039:
        return range(500, 1000)
    if 1854 <= year <= 1899:
        return range(500, 750)
    raise ValueError(f"no Norwegian identity numbers for birth year {year}")


def _synthetic_prefix(birth_date: date) -> str:
    return f"{birth_date.day:02d}{birth_date.month + 80:02d}{birth_date.year % 100:02d}"


def synthetic_nin(birth_date: date, seq: int) -> str:
    """The `seq`-th (from 0) valid synthetic national identity number for a birth date.

    Synthetic test numbers add 80 to the month, so they can never belong to a real person;
    the individual number follows the century rule and both check digits are valid.
    """
    if seq < 0:
        raise ValueError("seq must be >= 0")
    prefix = _synthetic_prefix(birth_date)
    found = -1
    for individual in _individual_numbers(birth_date.year):
        first9 = f"{prefix}{individual:03d}"
        checks = nin_check_digits(first9)
        if checks is not None:
            found += 1
            if found == seq:
                return first9 + checks
    raise ValueError(f"fewer than {seq + 1} synthetic numbers exist for {birth_date}")


def is_valid_nin(value: str) -> bool:
    """Whether `value` is shaped like a Norwegian national identity number with valid checks.

    Accepts ordinary numbers, D-numbers (day + 40), H-numbers (month + 40) and synthetic
    test numbers (month + 80): anything a privacy test must treat as an identifier.
    """
    if len(value) != 11 or not value.isdigit():
        return False
    if nin_check_digits(value[:9]) != value[9:]:
        return False
    day, month, yy, individual = int(value[0:2]), int(value[2:4]), int(value[4:6]), int(value[6:9])
    if day > 40:
        day -= 40
    if month > 80:
        month -= 80
    elif month > 40:
        month -= 40
    if individual < 500:
        year = 1900 + yy
    elif individual >= 900 and yy >= 40:
        year = 1900 + yy
    elif yy <= 39:
        year = 2000 + yy
    elif individual < 750:
        year = 1800 + yy
    else:
        return False
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


class NinAllocator:
    """Hands out distinct synthetic NINs per birth date, in O(1) per person.

    Equivalent to `synthetic_nin(date, offset + n)` for the n-th call with that date; the
    offset lets tenants of the same seed get different numbers.
    """

    def __init__(self, offset: int) -> None:
        self._offset = offset
        self._cursor: dict[date, int] = {}

    def next(self, birth_date: date) -> str:
        """The next unused synthetic number for `birth_date`."""
        numbers = _individual_numbers(birth_date.year)
        cursor = self._cursor.get(birth_date, numbers.start + self._offset)
        prefix = _synthetic_prefix(birth_date)
        while cursor < numbers.stop:
            first9 = f"{prefix}{cursor:03d}"
            cursor += 1
            checks = nin_check_digits(first9)
            if checks is not None:
                self._cursor[birth_date] = cursor
                return first9 + checks
        raise ValueError(f"synthetic numbers for {birth_date} are used up")
