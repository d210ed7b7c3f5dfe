"""Keyed hashing of personal identifiers, so matching works without keeping the identifier."""

from __future__ import annotations

import hashlib
import hmac
import re

_NON_DIGITS = re.compile(r"\D")


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
