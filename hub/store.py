"""The state store: the last published fingerprint and payload of every entity, and sync runs.

SQLAlchemy Core over SQLite (the default) or PostgreSQL (`HUB_DATABASE_URL`). A sync
stages its changes here (`sync_pending`), and an entity's state advances only when its
event was acknowledged by Kafka (`apply`), in the same transaction that drops the staged row.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

metadata = sa.MetaData()

entity_state = sa.Table(
    "entity_state",
    metadata,
    sa.Column("tenant", sa.String(64), primary_key=True),
    sa.Column("source", sa.String(64), primary_key=True),
    sa.Column("entity", sa.String(64), primary_key=True),
    sa.Column("key", sa.String(512), primary_key=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

sync_runs = sa.Table(
    "sync_runs",
    metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("tenant", sa.String(64), nullable=False, index=True),
    sa.Column("source", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("full", sa.Boolean, nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
    sa.Column("created", sa.Integer, nullable=False, default=0),
    sa.Column("updated", sa.Integer, nullable=False, default=0),
    sa.Column("deleted", sa.Integer, nullable=False, default=0),
    sa.Column("unchanged", sa.Integer, nullable=False, default=0),
    sa.Column("dead_lettered", sa.Integer, nullable=False, default=0),
    sa.Column("planned_deletes", sa.Integer, nullable=False, default=0),
    sa.Column("entities_before", sa.Integer, nullable=False, default=0),
    sa.Column("approved_by", sa.String(128)),
    sa.Column("error", sa.Text),
)

sync_pending = sa.Table(
    "sync_pending",
    metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("entity", sa.String(64), nullable=False),
    sa.Column("key", sa.String(512), nullable=False),
    sa.Column("op", sa.String(1), nullable=False),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("after", sa.Text),
    sa.Column("before", sa.Text),
    sa.Column("changed", sa.Text),
    sa.Column("reason", sa.Text),
)

sync_seen = sa.Table(
    "sync_seen",
    metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("entity", sa.String(64), primary_key=True),
    sa.Column("key", sa.String(512), primary_key=True),
)

source_bookmarks = sa.Table(
    "source_bookmarks",
    metadata,
    sa.Column("tenant", sa.String(64), primary_key=True),
    sa.Column("source", sa.String(64), primary_key=True),
    sa.Column("stream", sa.String(64), primary_key=True),
    sa.Column("value", sa.String(256), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

deletion_approvals = sa.Table(
    "deletion_approvals",
    metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),  # the held run that was approved
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("source", sa.String(64), nullable=False),
    sa.Column("planned_deletes", sa.Integer, nullable=False),
    sa.Column("entities_before", sa.Integer, nullable=False),
    sa.Column("approved_by", sa.String(128), nullable=False),
    sa.Column("approved_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("used_by_run", sa.String(64)),  # the later run that published the deletes
)

#: `op` of a staged dead-letter record (a rejected source record, not an entity change).
DEAD_LETTER = "x"


@dataclass(frozen=True)
class Known:
    """What the store holds for one entity: the fingerprint and payload last published."""

    fingerprint: str
    payload: str


@dataclass(frozen=True)
class Staged:
    """One staged change (or dead-letter record) waiting to be published."""

    seq: int
    entity: str
    key: str
    op: str
    fingerprint: str
    after: str | None
    before: str | None
    changed: tuple[str, ...]
    reason: str | None = None


class ApprovalError(Exception):
    """A held run cannot be approved (the message says why)."""


@dataclass(frozen=True)
class Approval:
    """An operator's approval of a held run's deletions, waiting for the next sync to use it.

    It covers up to `planned_deletes` deletions: the numbers the approver saw.
    """

    run_id: str
    tenant: str
    source: str
    planned_deletes: int
    entities_before: int
    approved_by: str
    approved_at: datetime


def now() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)


class StateStore:
    """State, staging and run history in one SQL database."""

    LOOKUP_CHUNK = 500

    def __init__(self, url: str) -> None:
        self.url = url
        connect_args: dict[str, Any] = {}
        if url.startswith("sqlite"):
            connect_args["timeout"] = 30
        self.engine = sa.create_engine(url, connect_args=connect_args)
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        create_tables(self.engine)

    def close(self) -> None:
        """Release the connection pool."""
        self.engine.dispose()

    # -- runs ---------------------------------------------------------------------------

    def begin_run(self, run_id: str, tenant: str, source: str, full: bool) -> None:
        """Record that a run started, and forget what earlier runs of this source staged."""
        with self.engine.begin() as conn:
            stale = sa.select(sync_runs.c.run_id).where(
                sync_runs.c.tenant == tenant, sync_runs.c.source == source
            )
            conn.execute(sync_pending.delete().where(sync_pending.c.run_id.in_(stale)))
            conn.execute(sync_seen.delete().where(sync_seen.c.run_id.in_(stale)))
            conn.execute(
                sync_runs.insert().values(
                    run_id=run_id,
                    tenant=tenant,
                    source=source,
                    status="running",
                    full=full,
                    started_at=now(),
                    created=0,
                    updated=0,
                    deleted=0,
                    unchanged=0,
                    dead_lettered=0,
                    planned_deletes=0,
                    entities_before=0,
                )
            )

    def finish_run(self, run_id: str, status: str, **counts: Any) -> None:
        """Record a run's outcome and drop what it staged."""
        with self.engine.begin() as conn:
            conn.execute(
                sync_runs.update()
                .where(sync_runs.c.run_id == run_id)
                .values(status=status, finished_at=now(), **counts)
            )
            conn.execute(sync_pending.delete().where(sync_pending.c.run_id == run_id))
            conn.execute(sync_seen.delete().where(sync_seen.c.run_id == run_id))

    def runs(self, tenant: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """The latest runs, newest first."""
        query = sa.select(sync_runs).order_by(sync_runs.c.started_at.desc()).limit(limit)
        if tenant is not None:
            query = query.where(sync_runs.c.tenant == tenant)
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    def latest_runs(self) -> dict[tuple[str, str], dict[str, Any]]:
        """The latest run of every (tenant, source), with an unused approval if it has one."""
        r, a = sync_runs.c, deletion_approvals.c
        newest = (
            sa.select(r.tenant, r.source, sa.func.max(r.started_at).label("started_at"))
            .group_by(r.tenant, r.source)
            .subquery()
        )
        query = (
            sa.select(sync_runs, a.approved_at, a.used_by_run)
            .join(
                newest,
                sa.and_(
                    r.tenant == newest.c.tenant,
                    r.source == newest.c.source,
                    r.started_at == newest.c.started_at,
                ),
            )
            .outerjoin(deletion_approvals, a.run_id == r.run_id)
        )
        with self.engine.connect() as conn:
            rows = [dict(row._mapping) for row in conn.execute(query)]
        for row in rows:
            for name in ("started_at", "finished_at", "approved_at"):
                if row[name] is not None:
                    row[name] = aware(row[name])
        return {(row["tenant"], row["source"]): row for row in rows}

    def last_successes(self) -> dict[tuple[str, str], datetime]:
        """When each (tenant, source) last finished a successful run."""
        r = sync_runs.c
        query = (
            sa.select(r.tenant, r.source, sa.func.max(r.finished_at))
            .where(r.status == "success")
            .group_by(r.tenant, r.source)
        )
        with self.engine.connect() as conn:
            return {(t, s): aware(at) for t, s, at in conn.execute(query) if at is not None}

    def approve_held_run(self, run_id: str, approved_by: str) -> Approval:
        """Record that `approved_by` approves a held run's deletions for the next sync.

        Only the latest run of its source can be approved, and only while it is held.
        """
        if not approved_by.strip():
            raise ApprovalError("an approval must name who approves")
        with self.engine.begin() as conn:
            run = conn.execute(sa.select(sync_runs).where(sync_runs.c.run_id == run_id)).first()
            if run is None:
                raise ApprovalError(f"no sync run {run_id!r}")
            if run.status != "held":
                raise ApprovalError(f"run {run_id} is {run.status}, not held: nothing to approve")
            if run.approved_by:
                raise ApprovalError(f"run {run_id} was already approved by {run.approved_by}")
            latest = conn.execute(
                sa.select(sync_runs.c.run_id)
                .where(sync_runs.c.tenant == run.tenant, sync_runs.c.source == run.source)
                .order_by(sync_runs.c.started_at.desc())
                .limit(1)
            ).scalar_one()
            if latest != run_id:
                raise ApprovalError(
                    f"run {run_id} is not the latest run of {run.tenant}/{run.source} "
                    f"({latest} is); approve that one"
                )
            approval = Approval(
                run_id=run_id,
                tenant=run.tenant,
                source=run.source,
                planned_deletes=run.planned_deletes,
                entities_before=run.entities_before,
                approved_by=approved_by,
                approved_at=now(),
            )
            conn.execute(
                upsert(self.engine, deletion_approvals), [{**asdict(approval), "used_by_run": None}]
            )
            conn.execute(
                sync_runs.update()
                .where(sync_runs.c.run_id == run_id)
                .values(approved_by=approved_by)
            )
        return approval

    def open_approval(self, tenant: str, source: str) -> Approval | None:
        """The newest approval of a source that no sync has used yet."""
        a = deletion_approvals.c
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(deletion_approvals)
                .where(a.tenant == tenant, a.source == source, a.used_by_run.is_(None))
                .order_by(a.approved_at.desc())
                .limit(1)
            ).first()
        if row is None:
            return None
        return Approval(
            run_id=row.run_id,
            tenant=row.tenant,
            source=row.source,
            planned_deletes=row.planned_deletes,
            entities_before=row.entities_before,
            approved_by=row.approved_by,
            approved_at=aware(row.approved_at),
        )

    def use_approval(self, approval: Approval, run_id: str) -> None:
        """Mark an approval used by the run that published its deletions."""
        with self.engine.begin() as conn:
            conn.execute(
                deletion_approvals.update()
                .where(deletion_approvals.c.run_id == approval.run_id)
                .values(used_by_run=run_id)
            )

    def last_full_success(self, tenant: str, source: str) -> datetime | None:
        """When the last successful full run of a source started, if there was one."""
        with self.engine.connect() as conn:
            value = conn.execute(
                sa.select(sa.func.max(sync_runs.c.started_at)).where(
                    sync_runs.c.tenant == tenant,
                    sync_runs.c.source == source,
                    sync_runs.c.full.is_(True),
                    sync_runs.c.status == "success",
                )
            ).scalar_one_or_none()
        return None if value is None else aware(value)

    # -- bookmarks ----------------------------------------------------------------------

    def bookmarks(self, tenant: str, source: str) -> dict[str, str]:
        """An incremental source's bookmarks (stream → value) from its last successful run."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(source_bookmarks.c.stream, source_bookmarks.c.value).where(
                    source_bookmarks.c.tenant == tenant, source_bookmarks.c.source == source
                )
            )
            return {stream: value for stream, value in rows}

    def save_bookmarks(self, tenant: str, source: str, bookmarks: dict[str, str]) -> None:
        """Store bookmarks after a run was published in full."""
        if not bookmarks:
            return
        stamp = now()
        rows = [
            {"tenant": tenant, "source": source, "stream": k, "value": v, "updated_at": stamp}
            for k, v in bookmarks.items()
        ]
        with self.engine.begin() as conn:
            conn.execute(upsert(self.engine, source_bookmarks), rows)

    # -- state --------------------------------------------------------------------------

    def lookup(
        self, tenant: str, source: str, entity: str, keys: Sequence[str]
    ) -> dict[str, Known]:
        """The known state of each of `keys` that the store holds."""
        found: dict[str, Known] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(keys), self.LOOKUP_CHUNK):
                chunk = keys[start : start + self.LOOKUP_CHUNK]
                rows = conn.execute(
                    sa.select(
                        entity_state.c.key, entity_state.c.fingerprint, entity_state.c.payload
                    ).where(
                        entity_state.c.tenant == tenant,
                        entity_state.c.source == source,
                        entity_state.c.entity == entity,
                        entity_state.c.key.in_(chunk),
                    )
                )
                for key, fingerprint, payload in rows:
                    found[key] = Known(fingerprint, payload)
        return found

    def count(self, tenant: str, source: str) -> int:
        """How many entities the store holds for a tenant's source."""
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    sa.select(sa.func.count()).where(
                        entity_state.c.tenant == tenant, entity_state.c.source == source
                    )
                ).scalar_one()
            )

    def state_rows(self, tenant: str, source: str, entity: str) -> Iterator[tuple[str, Known]]:
        """Every known entity of one type, streamed."""
        query = sa.select(
            entity_state.c.key, entity_state.c.fingerprint, entity_state.c.payload
        ).where(
            entity_state.c.tenant == tenant,
            entity_state.c.source == source,
            entity_state.c.entity == entity,
        )
        with self.engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=1000).execute(query)
            for key, fingerprint, payload in result:
                yield key, Known(fingerprint, payload)

    # -- staging ------------------------------------------------------------------------

    def stage(self, run_id: str, rows: Iterable[Staged], seen: Iterable[tuple[str, str]]) -> None:
        """Stage changes and remember which (entity, key) pairs the source still has."""
        pending = [
            {
                "run_id": run_id,
                "seq": r.seq,
                "entity": r.entity,
                "key": r.key,
                "op": r.op,
                "fingerprint": r.fingerprint,
                "after": r.after,
                "before": r.before,
                "changed": json.dumps(list(r.changed)),
                "reason": r.reason,
            }
            for r in rows
        ]
        seen_rows = [{"run_id": run_id, "entity": e, "key": k} for e, k in seen]
        with self.engine.begin() as conn:
            if pending:
                conn.execute(sync_pending.insert(), pending)
            if seen_rows:
                conn.execute(self._insert_ignore(sync_seen), seen_rows)

    def unseen(
        self, run_id: str, tenant: str, source: str, entity: str
    ) -> Iterator[tuple[str, Known]]:
        """Known entities of one type that this run's full read did not see, streamed."""
        seen = sa.select(sync_seen.c.key).where(
            sync_seen.c.run_id == run_id,
            sync_seen.c.entity == entity,
            sync_seen.c.key == entity_state.c.key,
        )
        query = (
            sa.select(entity_state.c.key, entity_state.c.fingerprint, entity_state.c.payload)
            .where(
                entity_state.c.tenant == tenant,
                entity_state.c.source == source,
                entity_state.c.entity == entity,
                ~sa.exists(seen),
            )
            .order_by(entity_state.c.key)
        )
        with self.engine.connect() as conn:
            for key, fingerprint, payload in conn.execute(query):
                yield key, Known(fingerprint, payload)

    def staged(self, run_id: str, batch_size: int) -> Iterator[list[Staged]]:
        """The run's staged rows in order, a batch at a time (keyset paging, no long cursor)."""
        last = -1
        while True:
            with self.engine.connect() as conn:
                rows = conn.execute(
                    sa.select(sync_pending)
                    .where(sync_pending.c.run_id == run_id, sync_pending.c.seq > last)
                    .order_by(sync_pending.c.seq)
                    .limit(batch_size)
                ).all()
            if not rows:
                return
            batch = [
                Staged(
                    seq=r.seq,
                    entity=r.entity,
                    key=r.key,
                    op=r.op,
                    fingerprint=r.fingerprint,
                    after=r.after,
                    before=r.before,
                    changed=tuple(json.loads(r.changed or "[]")),
                    reason=r.reason,
                )
                for r in rows
            ]
            yield batch
            last = batch[-1].seq

    def apply(self, run_id: str, tenant: str, source: str, batch: Sequence[Staged]) -> None:
        """Advance the state for an acknowledged batch and drop it from staging, atomically."""
        stamp = now()
        upserts = [
            {
                "tenant": tenant,
                "source": source,
                "entity": r.entity,
                "key": r.key,
                "fingerprint": r.fingerprint,
                "payload": r.after,
                "updated_at": stamp,
            }
            for r in batch
            if r.op in ("c", "u")
        ]
        deletes = [(r.entity, r.key) for r in batch if r.op == "d"]
        with self.engine.begin() as conn:
            if upserts:
                conn.execute(upsert(self.engine, entity_state), upserts)
            for entity, key in deletes:
                conn.execute(
                    entity_state.delete().where(
                        entity_state.c.tenant == tenant,
                        entity_state.c.source == source,
                        entity_state.c.entity == entity,
                        entity_state.c.key == key,
                    )
                )
            conn.execute(
                sync_pending.delete().where(
                    sync_pending.c.run_id == run_id,
                    sync_pending.c.seq.between(batch[0].seq, batch[-1].seq),
                )
            )

    # -- dialect helpers ----------------------------------------------------------------

    def _insert_ignore(self, table: sa.Table) -> Any:
        if self.engine.dialect.name == "postgresql":
            return postgresql.insert(table).on_conflict_do_nothing()
        return sqlite.insert(table).on_conflict_do_nothing()


def create_tables(engine: sa.Engine, tables: Sequence[sa.Table] | None = None) -> None:
    """Create the hub's tables that are missing, tolerating another process doing the same.

    Mapped Airflow tasks open a new store at the same moment; between one's check and its
    CREATE TABLE another may have created the table. Checking again settles it.
    """
    for attempt in range(3):
        try:
            metadata.create_all(engine, tables=tables)
            return
        except sa.exc.DatabaseError as exc:
            if "already exists" not in str(exc) or attempt == 2:
                raise


def upsert(engine: sa.Engine, table: sa.Table, keys: list[str] | None = None) -> Any:
    """An INSERT … ON CONFLICT DO UPDATE of `table` on `keys` (its primary key by default)."""
    keys = keys or [c.name for c in table.primary_key.columns]
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table)
    updates = {c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys}
    return stmt.on_conflict_do_update(index_elements=keys, set_=updates)


def aware(value: datetime) -> datetime:
    """A stored timestamp with its UTC zone (SQLite drops the zone)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
