"""IT support tickets from TOPdesk's incidents API, as `SupportTicket`.

`GET /tas/api/incidents?pageStart=N&pageSize=S&fields=<FIELDS>`, a bare JSON array,
**206 Partial Content** while more incidents follow, 200 on the last page, **204 No
Content** when none match. Incremental runs add the FIQL filter
`query=modificationDate=gt=<bookmark less the overlap>`; full runs read every incident
that is not archived and delete what vanished, after a lookup by id
(`/tas/api/incidents/id/{id}`, 404 once it is gone) confirms it.

What leaves the connector is what the follow-up needs: the number, the school (branch)
and place, the category, the call, completion and closing times and a status. The caller
is a person (often a pupil) and never leaves except as `requester_link`, a keyed HMAC of
the caller's TOPdesk id under the tenant's HMAC key; their name, e-mail, the request text
and the brief description are not read (`fields` does not ask for them) and are stripped
from dead letters.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar, Literal

from pydantic import Field

from connectors._topdesk import (
    TOPDESK_CONNECTION,
    Named,
    PageStartPaginator,
    Raw,
    TopdeskSettings,
    TopdeskSource,
)
from connectors.equipment._kinds import plain_text
from connectors.http import HttpStream, Incremental
from connectors.privacy import keyed_hmac
from connectors.registry import ConnectorSpec, Pool, with_secret
from schemas.entities import Key, Timestamp
from schemas.equipment import SupportTicket, TicketStatus

INCIDENTS = "/tas/api/incidents"
INCIDENT_BY_ID = "/tas/api/incidents/id/{id}"
#: The incident fields the connector asks for: no caller name, e-mail or texts.
FIELDS = (
    "id", "number", "callDate", "modificationDate", "completed", "completedDate",
    "closed", "closedDate", "category", "subcategory", "branch", "location", "caller",
)  # fmt: skip
#: What a dead letter keeps of an incident.
_KEPT = frozenset(FIELDS) - {"caller"}


class _Caller(Raw):
    id: str | None = None


class _Incident(Raw):
    id: Key
    number: str | None = None
    callDate: Timestamp
    modificationDate: Timestamp | None = None
    completed: bool = False
    completedDate: Timestamp | None = None
    closed: bool = False
    closedDate: Timestamp | None = None
    category: Named | None = None
    subcategory: Named | None = None
    branch: Named | None = None
    location: Named | None = None
    caller: _Caller | None = None


class _Incidents(HttpStream[_Incident, SupportTicket]):
    name = "incidents"
    path = INCIDENTS
    records_key = ""
    paginator = PageStartPaginator(partial_content=True)
    raw_model = _Incident
    entity_type = SupportTicket
    query = {"fields": ",".join(FIELDS), "sort": "modificationDate:asc"}
    incremental = Incremental("modificationDate", "query", "modificationDate=gt={since}")

    def redact(self, record: Any) -> dict[str, Any]:
        """Only the fields the hub reads, without the caller."""
        if not isinstance(record, dict):
            return {"value": "[not an object]"}
        return {k: v for k, v in record.items() if k in _KEPT}

    def to_entity(self, raw: _Incident) -> SupportTicket:
        resolved = raw.completedDate if raw.completed else None
        closed = raw.closedDate if raw.closed else None
        if closed is not None:
            status = TicketStatus.CLOSED
        elif raw.completed:
            status = TicketStatus.RESOLVED
        else:
            status = TicketStatus.OPEN
        if resolved is None and closed is not None:
            resolved = closed  # closed without a completion date: resolved when closed
        if resolved is not None and resolved < raw.callDate:
            raise ValueError("completedDate is before callDate")
        source = self.source
        assert isinstance(source, TopdeskIncidents)
        return SupportTicket(
            tenant=source.tenant,
            source=source.ref,
            key=raw.id,
            source_modified=raw.modificationDate,
            number=plain_text(raw.number),
            category=plain_text(raw.category.name if raw.category else None),
            subcategory=plain_text(raw.subcategory.name if raw.subcategory else None),
            location=plain_text(raw.branch.name if raw.branch else None),
            room=plain_text(raw.location.name if raw.location else None),
            status=status,
            opened_at=raw.callDate,
            resolved_at=resolved,
            closed_at=closed,
            requester_link=source.requester_link(raw.caller.id if raw.caller else None),
        )


class TopdeskIncidentsSettings(TopdeskSettings):
    """TOPdesk's incidents: the service desk's support tickets."""

    type: Literal["topdesk_incidents"]
    #: `pageSize`, at most 10000 (TOPdesk's limit for incidents).
    page_size: int = Field(default=1000, ge=1, le=10_000)
    #: How far before the bookmark an incremental read starts (clocks and commits drift).
    incremental_overlap: timedelta = timedelta(minutes=10)


class TopdeskIncidents(TopdeskSource):
    """IT support tickets from TOPdesk's incidents API, as `SupportTicket`."""

    name: ClassVar[str] = "support.topdesk_incidents"
    system: ClassVar[str] = "topdesk"
    entity_types = (SupportTicket,)
    streams = (_Incidents,)
    settings: TopdeskIncidentsSettings
    by_id = INCIDENT_BY_ID
    offset_paged = frozenset({SupportTicket.entity})

    def __init__(
        self, settings: TopdeskIncidentsSettings, *, hmac_key: bytes, **kwargs: Any
    ) -> None:
        super().__init__(settings, **kwargs)
        self._requester_key = hmac_key

    def requester_link(self, caller_id: str | None) -> str | None:
        """The keyed HMAC of a caller's id in this source; None without a registered caller."""
        if not caller_id or not caller_id.strip():
            return None
        return keyed_hmac(self._requester_key, f"{self.tenant}:{self.instance}:caller:{caller_id}")


CONNECTOR = ConnectorSpec(
    settings=TopdeskIncidentsSettings,
    connector=TopdeskIncidents,
    domain="support",
    pool=Pool("hub_support_topdesk", 2, "TOPdesk incident syncs"),
    title="TOPdesk incidents",
    build=with_secret(TopdeskIncidents, hmac_key=True),
    doc="docs/equipment.md",
    connection=TOPDESK_CONNECTION,
)
