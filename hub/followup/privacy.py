"""Pseudonyms of people in follow-up outputs: a keyed HMAC under `HUB_HMAC_KEY`."""

from __future__ import annotations

from typing import TypeVar

from connectors.privacy import keyed_hmac
from schemas.followup import FollowupRecord, personal_fields

RecordT = TypeVar("RecordT", bound=FollowupRecord)


def pseudonym(key: bytes, value: str) -> str:
    """A stable pseudonym of an identifier: 16 hex digits of its keyed HMAC.

    The same as `hub.matching.Matcher.pseudonym`, so the unmatched report's samples and
    the extracts' person columns name a person the same way.
    """
    return keyed_hmac(key, f"pseudonym:{value}")[:16]


def pseudonymised(row: RecordT, key: bytes) -> RecordT:
    """A row as it may leave the hub: its personal fields and, if it has any, its key as pseudonyms.

    A row of a person (`staff_competence`) is keyed by the person, so its row key is
    replaced whole by the key's pseudonym; rows without personal fields are unchanged.
    """
    personal = personal_fields(type(row))
    if not personal:
        return row
    update: dict[str, str | None] = {"key": pseudonym(key, row.key)}
    for name in personal:
        value = getattr(row, name)
        update[name] = pseudonym(key, value) if value is not None else None
    return row.model_copy(update=update)
