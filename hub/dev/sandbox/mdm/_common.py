"""What the sandbox MDM apps share: reversible device ids and stable user ids."""

from __future__ import annotations

import zlib


def device_guid(tag: str, table_code: int, index: int) -> str:
    """A GUID-shaped device id that encodes its table row (reversible)."""
    return f"{tag}-{table_code:04x}-4000-8000-{index:012x}"


def guid_index(tag: str, table_code: int, guid: str) -> int:
    """The row a `device_guid` names; KeyError if it is not one of this table's."""
    prefix = f"{tag}-{table_code:04x}-4000-8000-"
    if not guid.startswith(prefix):
        raise KeyError(guid)
    try:
        return int(guid[len(prefix) :], 16)
    except ValueError:
        raise KeyError(guid) from None


def user_guid(tenant: str, username: str) -> str:
    """A stable directory object id for a user."""
    h = f"{zlib.crc32(f'{tenant}:{username}'.encode()):08x}{zlib.crc32(username.encode()):08x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-9{h[1:4]}-{h[4:16]}"
