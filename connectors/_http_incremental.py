"""Incremental reads of the HTTP connector base: what a stream declares to read only changes.

The base (`connectors.http`) keeps the bookmark, puts the "since" on the first page and
advances the bookmark from every record; this module holds the declaration.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import TypeAdapter

from connectors.base import bookmark_text
from schemas.entities import Timestamp

_TIMESTAMP: TypeAdapter[datetime] = TypeAdapter(Timestamp)


@dataclass(frozen=True)
class Incremental:
    """How a stream reads only what changed (Singer's `replication_key`, dlt's `incremental`).

    The bookmark is the newest `replication_key` (a record field, dotted when nested: OneRoster
    `dateLastModified`, SS 12000 `meta.modified`) the stream has read, on full runs too; a
    record without a valid one leaves it alone. With `replication_key=None` the records carry
    no time and the bookmark is the moment the read started. An incremental run with a
    readable bookmark sends `{param: template}` on its first page, `{since}` being the
    bookmark less the overlap; without one it reads everything. `overlap=None` takes the
    source's `incremental_overlap` setting.
    """

    replication_key: str | None
    param: str
    template: str = "{since}"
    overlap: timedelta | None = None

    def since_params(self, since: datetime) -> dict[str, str]:
        """The query parameter that asks for records modified after `since`."""
        return {self.param: self.template.format(since=bookmark_text(since))}

    def moment(self, record: Any) -> datetime | None:
        """The record's replication key as a UTC moment; None when it has no valid one."""
        if self.replication_key is None:
            return None
        value = record
        for part in self.replication_key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if value is None:
            return None
        try:
            return _TIMESTAMP.validate_python(value)
        except ValueError:
            return None
