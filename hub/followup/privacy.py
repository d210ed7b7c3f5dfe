"""Pseudonyms of people in follow-up outputs: a keyed HMAC under `HUB_HMAC_KEY`."""

from __future__ import annotations

from connectors.privacy import keyed_hmac


def pseudonym(key: bytes, value: str) -> str:
    """A stable pseudonym of an identifier: 16 hex digits of its keyed HMAC.

    The same as `hub.matching.Matcher.pseudonym`, so the unmatched report's samples and
    the extracts' person columns name a person the same way.
    """
    return keyed_hmac(key, f"pseudonym:{value}")[:16]
