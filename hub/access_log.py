"""The access log: who saw which follow-up page and who downloaded which extract, when.

The people whose data the hub holds may ask who looked at it; school owners' data
protection officers audit the same. Every view of a follow-up page and every extract
download (or refused download of an identified extract) is one row of `access_log` in the
hub's store: the Airflow user, the roles the auth manager gave them, the tenant, what was
seen (the page or the extract and file name, the snapshot day) and when. Rows name no
child: nothing but the tenant and the names of records and files goes in.

Recording comes before serving: if the row cannot be written, the page or file is not
served either, so an identified extract never leaves without its log row.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
import structlog

from hub.store import create_tables, metadata, now

log = structlog.get_logger(__name__)

access_log = sa.Table(
    "access_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("user_name", sa.String(256), nullable=False),
    sa.Column("roles", sa.String(512), nullable=False),
    sa.Column("tenant", sa.String(64), nullable=False, index=True),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("what", sa.String(512), nullable=False),
    sa.Column("identified", sa.Boolean, nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),
)

#: The tenant of a page that shows every tenant (the follow-up index).
ALL_TENANTS = "*"


class AccessAction(StrEnum):
    """What a user did."""

    VIEW_FOLLOWUP = "view_followup"
    VIEW_FOLLOWUP_INDEX = "view_followup_index"
    DOWNLOAD_EXTRACT = "download_extract"


class Outcome(StrEnum):
    """Whether the page or file was served."""

    SERVED = "served"
    REFUSED = "refused"


@dataclass(frozen=True)
class AccessEntry:
    """One row of the access log."""

    at: datetime
    user_name: str
    roles: str
    tenant: str
    action: AccessAction
    what: str
    identified: bool = False
    outcome: Outcome = Outcome.SERVED


def record_access(
    engine: sa.Engine,
    *,
    user_name: str,
    roles: Iterable[str] | None,
    tenant: str,
    action: AccessAction,
    what: str,
    identified: bool = False,
    outcome: Outcome = Outcome.SERVED,
) -> AccessEntry:
    """Write one row and return it; raises if the store refuses (then serve nothing)."""
    create_tables(engine, [access_log])
    entry = AccessEntry(
        at=now(),
        user_name=user_name,
        roles=",".join(sorted(roles)) if roles is not None else "",
        tenant=tenant,
        action=action,
        what=what,
        identified=identified,
        outcome=outcome,
    )
    with engine.begin() as conn:
        conn.execute(
            access_log.insert().values(
                **{f.name: getattr(entry, f.name) for f in fields(AccessEntry)}
            )
        )
    log.info(
        "access_recorded",
        user=user_name,
        tenant=tenant,
        action=str(action),
        identified=identified,
        outcome=str(outcome),
    )
    return entry


def access_entries(
    engine: sa.Engine,
    *,
    tenant: str | None = None,
    user_name: str | None = None,
    since: datetime | None = None,
    limit: int | None = None,
) -> list[AccessEntry]:
    """The log's rows, newest first, optionally of one tenant, one user, or since a time."""
    create_tables(engine, [access_log])
    query = sa.select(access_log).order_by(access_log.c.at.desc(), access_log.c.id.desc())
    if tenant is not None:
        query = query.where(access_log.c.tenant == tenant)
    if user_name is not None:
        query = query.where(access_log.c.user_name == user_name)
    if since is not None:
        query = query.where(access_log.c.at >= since)
    if limit is not None:
        query = query.limit(limit)
    with engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    return [
        AccessEntry(
            at=row["at"],
            user_name=row["user_name"],
            roles=row["roles"],
            tenant=row["tenant"],
            action=AccessAction(row["action"]),
            what=row["what"],
            identified=bool(row["identified"]),
            outcome=Outcome(row["outcome"]),
        )
        for row in rows
    ]


CSV_COLUMNS = ("at", "user", "roles", "tenant", "action", "what", "identified", "outcome")


def to_csv(entries: Sequence[AccessEntry]) -> str:
    """The entries as CSV with a header row, times in ISO 8601."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for e in entries:
        row = [e.at.isoformat(), e.user_name, e.roles, e.tenant, str(e.action), e.what]
        row += ["yes" if e.identified else "no", str(e.outcome)]
        writer.writerow([_inert(cell) for cell in row])
    return out.getvalue()


def _inert(cell: str) -> str:
    """A cell a spreadsheet will not run as a formula (a user name can start with `=`)."""
    return "'" + cell if cell[:1] in ("=", "+", "-", "@") else cell
