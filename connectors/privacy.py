"""Keyed hashing of personal identifiers, so matching works without keeping the identifier."""

from __future__ import annotations

import hashlib
import hmac
import re

_NON_DIGITS = re.compile(r"\D")


_NIN_WEIGHTS_1 = (3, 7, 6, 1, 8, 9, 4, 5, 2)
_NIN_WEIGHTS_2 = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)


def _mod11(digits: str, weights: tuple[int, ...]) -> int | None:
    check = 11 - sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 11
    return None if check == 10 else check % 11


def is_valid_norwegian_nin(value: str) -> bool:
    """True for 11 digits whose two mod-11 check digits are right (birth, D-, H- and test numbers).

    Only the check digits are verified: synthetic test numbers (month + 80) and D-numbers
    (day + 40) pass, which is what a directory may legitimately hold.
    """
    if len(value) != 11 or not value.isdigit():
        return False
    first = _mod11(value[:9], _NIN_WEIGHTS_1)
    if first is None or first != int(value[9]):
        return False
    second = _mod11(value[:10], _NIN_WEIGHTS_2)
    return second is not None and second == int(value[10])


def keyed_hmac(key: bytes, value: str) -> str:
    """HMAC-SHA256 of `value` under `key`, as 64 hex digits."""
    if not key:
        raise ValueError("the HMAC key is empty: set HUB_HMAC_KEY")
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()


def national_id_hmac(key: bytes, country: str, national_id: str) -> str:
    """Keyed HMAC of a national identity number, normalised to its digits and country.

    A Swedish personnummer written YYMMDD-NNNC and YYYYMMDDNNNC hash differently; the
    SS 12000 connector normalises to 12 digits before calling this.
    """
    digits = _NON_DIGITS.sub("", national_id)
    return keyed_hmac(key, f"{country.upper()}:{digits}")
