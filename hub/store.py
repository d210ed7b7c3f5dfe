"""The state store: the last published fingerprint and payload of every entity, and sync runs.

SQLAlchemy Core over SQLite (the default) or PostgreSQL (`HUB_DATABASE_URL`). A sync
stages its changes here (`sync_pending`), and an entity's state advances only when its
event was acknowledged by Kafka (`apply`), in the same transaction that drops the staged row.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
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
    # reading → publishing (the guards passed; what is staged may be on Kafka) → done
    sa.Column("phase", sa.String(16), nullable=False, default="reading"),
    sa.Column("holder", sa.String(255)),
    sa.Column("plan_digest", sa.String(64)),  # a held run's planned deletions, digested
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
    sa.Column("version", sa.Integer, nullable=False, default=0),
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
    # Text: a bookmark is whatever the source gives to resume from, a timestamp or an
    # opaque token or link (Graph's delta links run to several hundred characters).
    sa.Column("value", sa.Text, nullable=False),
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
    sa.Column("plan_digest", sa.String(64), nullable=False),
    sa.Column("used_by_run", sa.String(64)),  # the later run that published the deletes
    sa.Column("withdrawn_by_run", sa.String(64)),  # a later run that needed no approval
)

#: The planned deletions of a held run: an approval covers these keys and no others.
held_plans = sa.Table(
    "held_plans",
    metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("entity", sa.String(64), primary_key=True),
    sa.Column("key", sa.String(512), primary_key=True),
)

#: Every key's version: one more for each change published, kept after a delete so that a
#: recreated entity's events get ids of their own.
key_versions = sa.Table(
    "key_versions",
    metadata,
    sa.Column("tenant", sa.String(64), primary_key=True),
    sa.Column("source", sa.String(64), primary_key=True),
    sa.Column("entity", sa.String(64), primary_key=True),
    sa.Column("key", sa.String(512), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
)

#: The last dead letter published per source record: an unchanged bad record is not re-sent.
dead_letter_marks = sa.Table(
    "dead_letter_marks",
    metadata,
    sa.Column("tenant", sa.String(64), primary_key=True),
    sa.Column("source", sa.String(64), primary_key=True),
    sa.Column("entity", sa.String(64), primary_key=True),
    sa.Column("record_ref", sa.String(512), primary_key=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("run_id", sa.String(64), nullable=False),
)

#: Where each topic partition ended before a run published: should the run die, the next
#: one reads from here to find which of its events landed.
publish_marks = sa.Table(
    "publish_marks",
    metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("topic", sa.String(255), primary_key=True),
    sa.Column("partition", sa.Integer, primary_key=True),
    sa.Column("offset", sa.BigInteger, nullable=False),
)

#: Keys of offset-paged entity types that consecutive full reads did not see (not yet deleted).
missed_keys = sa.Table(
    "missed_keys",
    metadata,
    sa.Column("tenant", sa.String(64), primary_key=True),
    sa.Column("source", sa.String(64), primary_key=True),
    sa.Column("entity", sa.String(64), primary_key=True),
    sa.Column("key", sa.String(512), primary_key=True),
    sa.Column("misses", sa.Integer, nullable=False),
)

#: `op` of a staged dead-letter record (a rejected source record, not an entity change).
DEAD_LETTER = "x"


@dataclass(frozen=True)
class Known:
    """What the store holds for one key: the last published fingerprint, payload and version.

    A deleted key keeps only its version (`fingerprint` and `payload` are None).
    """

    fingerprint: str | None
    payload: str | None
    version: int = 0

    @property
    def live(self) -> bool:
        """True while the entity exists (its last event was not a delete)."""
        return self.fingerprint is not None


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
    #: The key's version after this change (what `ce_id` is computed from).
    version: int = 0


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
    plan_digest: str


@dataclass(frozen=True)
class InDoubtRun:
    """A run of a source that ended without committing all it staged (it died or failed)."""

    run_id: str
    status: str
    phase: str
    started_at: datetime
    holder: str | None


def now() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)


#: Called inside a transaction that commits a run's results: renews the run's lease there,
#: and raises when another process has taken it (`hub.leases.Lease.fence`).
Fence = Callable[[sa.Connection], None]


class StateStore:
    """State, staging and run history in one SQL database."""

    LOOKUP_CHUNK = 500

    def __init__(self, url: str) -> None:
        self.url = url
        connect_args: dict[str, Any] = {}
        options: dict[str, Any] = {}
        if url.startswith("sqlite"):
            connect_args["timeout"] = 30
        if sa.engine.make_url(url).get_driver_name() == "psycopg2":
            # An UPDATE or upsert run for many rows (the materialiser's batches) goes in
            # pages of statements, not one round trip per row (the materialiser on
            # PostgreSQL: 3,128 → 6,273 events/s, docs/scaling.md).
            options["executemany_mode"] = "values_plus_batch"
        self.engine = sa.create_engine(url, connect_args=connect_args, **options)
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        create_tables(self.engine)
        widen_bookmarks(self.engine)

    def close(self) -> None:
        """Release the connection pool."""
        self.engine.dispose()

    # -- runs ---------------------------------------------------------------------------

    def begin_run(
        self, run_id: str, tenant: str, source: str, full: bool, holder: str | None = None
    ) -> None:
        """Record that a run started (under the source's lease: no other run is live)."""
        with self.engine.begin() as conn:
            conn.execute(
                sync_runs.insert().values(
                    run_id=run_id,
                    tenant=tenant,
                    source=source,
                    status="running",
                    phase="reading",
                    holder=holder,
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

    def set_phase(self, run_id: str, phase: str, fence: Fence | None = None) -> None:
        """Move a run to its next phase (`publishing` once the guards have passed)."""
        with self.engine.begin() as conn:
            if fence is not None:
                fence(conn)
            conn.execute(sync_runs.update().where(sync_runs.c.run_id == run_id).values(phase=phase))

    def finish_run(
        self, run_id: str, status: str, *, keep_staged: bool = False, **counts: Any
    ) -> None:
        """Record a run's outcome and drop what it staged.

        `keep_staged` keeps the rows of a run that failed while publishing: some may be on
        Kafka already, so the next run republishes them (`in_doubt_runs`) instead.
        """
        with self.engine.begin() as conn:
            conn.execute(
                sync_runs.update()
                .where(sync_runs.c.run_id == run_id)
                .values(status=status, finished_at=now(), **counts)
            )
            if not keep_staged:
                conn.execute(sync_pending.delete().where(sync_pending.c.run_id == run_id))
                conn.execute(publish_marks.delete().where(publish_marks.c.run_id == run_id))
            conn.execute(sync_seen.delete().where(sync_seen.c.run_id == run_id))

    def in_doubt_runs(self, tenant: str, source: str, exclude: str) -> list[InDoubtRun]:
        """Earlier runs of a source that never finished, or finished with rows still staged.

        Call it while holding the source's lease: any such run is dead, and what it staged
        in its `publishing` phase may be on Kafka without being in the state.
        """
        r = sync_runs.c
        has_rows = sa.exists(sa.select(sync_pending.c.seq).where(sync_pending.c.run_id == r.run_id))
        query = (
            sa.select(r.run_id, r.status, r.phase, r.started_at, r.holder)
            .where(r.tenant == tenant, r.source == source, r.run_id != exclude)
            .where(sa.or_(r.status == "running", has_rows))
            .order_by(r.started_at)
        )
        with self.engine.connect() as conn:
            return [
                InDoubtRun(run_id, status, phase or "reading", aware(started), holder)
                for run_id, status, phase, started, holder in conn.execute(query)
            ]

    def close_dead_run(self, run_id: str, error: str) -> None:
        """Mark a dead run `crashed` (if it never finished) and drop whatever it still stages."""
        with self.engine.begin() as conn:
            conn.execute(
                sync_runs.update()
                .where(sync_runs.c.run_id == run_id, sync_runs.c.status == "running")
                .values(status="crashed", finished_at=now(), error=error)
            )
            conn.execute(sync_pending.delete().where(sync_pending.c.run_id == run_id))
            conn.execute(sync_seen.delete().where(sync_seen.c.run_id == run_id))
            conn.execute(publish_marks.delete().where(publish_marks.c.run_id == run_id))

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

    def hold_plan(self, run_id: str, fence: Fence | None = None) -> str:
        """Keep a held run's planned deletions, for an approval to cover; return their digest."""
        digest = hashlib.sha256()
        count = 0
        planned = (
            sa.select(sync_pending.c.run_id, sync_pending.c.entity, sync_pending.c.key)
            .where(sync_pending.c.run_id == run_id, sync_pending.c.op == "d")
            .order_by(sync_pending.c.entity, sync_pending.c.key)
        )
        with self.engine.begin() as conn:
            if fence is not None:
                fence(conn)
            conn.execute(held_plans.insert().from_select(["run_id", "entity", "key"], planned))
            for _, entity, key in conn.execute(planned):
                digest.update(f"{entity}\x1f{key}\x1e".encode())
                count += 1
            digest.update(f"{count}".encode())
            conn.execute(
                sync_runs.update()
                .where(sync_runs.c.run_id == run_id)
                .values(plan_digest=digest.hexdigest())
            )
        return digest.hexdigest()

    def approve_held_run(self, run_id: str, approved_by: str) -> Approval:
        """Record that `approved_by` approves a held run's planned deletions.

        Only the latest run of its source can be approved, and only while it is held. The
        approval covers exactly that run's plan (`held_plans`), is used once, and lapses
        after the tenant's `approval_ttl` or when a later run needs no approval.
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
            if run.plan_digest is None:
                raise ApprovalError(f"run {run_id} kept no plan of its deletions to approve")
            latest = conn.execute(
                sa.select(sync_runs.c.run_id)
                .where(sync_runs.c.tenant == run.tenant, sync_runs.c.source == run.source)
                .where(sync_runs.c.status != "skipped")
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
                plan_digest=run.plan_digest,
            )
            conn.execute(
                deletion_approvals.insert().values(
                    **asdict(approval), used_by_run=None, withdrawn_by_run=None
                )
            )
            conn.execute(
                sync_runs.update()
                .where(sync_runs.c.run_id == run_id)
                .values(approved_by=approved_by)
            )
        return approval

    def open_approval(self, tenant: str, source: str, since: datetime) -> Approval | None:
        """The newest approval of a source given after `since`, not used and not withdrawn."""
        a = deletion_approvals.c
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(deletion_approvals)
                .where(a.tenant == tenant, a.source == source, a.approved_at > since)
                .where(a.used_by_run.is_(None), a.withdrawn_by_run.is_(None))
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
            plan_digest=row.plan_digest,
        )

    def unplanned_deletes(self, run_id: str, approval: Approval) -> int:
        """How many of a run's staged deletions the approved plan does not list."""
        p, h = sync_pending.c, held_plans.c
        listed = sa.exists(
            sa.select(h.key).where(
                h.run_id == approval.run_id, h.entity == p.entity, h.key == p.key
            )
        )
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    sa.select(sa.func.count()).where(p.run_id == run_id, p.op == "d", ~listed)
                ).scalar_one()
            )

    def claim_approval(self, approval: Approval, run_id: str, fence: Fence | None = None) -> bool:
        """Use an approval for `run_id`; False when another run used it first."""
        with self.engine.begin() as conn:
            if fence is not None:
                fence(conn)
            return (
                conn.execute(
                    deletion_approvals.update()
                    .where(
                        deletion_approvals.c.run_id == approval.run_id,
                        deletion_approvals.c.used_by_run.is_(None),
                        deletion_approvals.c.withdrawn_by_run.is_(None),
                    )
                    .values(used_by_run=run_id)
                ).rowcount
                == 1
            )

    def withdraw_approvals(self, tenant: str, source: str, run_id: str) -> int:
        """Withdraw a source's open approvals: a later run needed none, so the plan is stale."""
        a = deletion_approvals.c
        with self.engine.begin() as conn:
            return int(
                conn.execute(
                    deletion_approvals.update()
                    .where(a.tenant == tenant, a.source == source)
                    .where(a.used_by_run.is_(None), a.withdrawn_by_run.is_(None))
                    .values(withdrawn_by_run=run_id)
                ).rowcount
            )

    def open_approvals(self) -> list[dict[str, Any]]:
        """Every approval not used or withdrawn yet (the run overview adds each one's expiry)."""
        a = deletion_approvals.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(deletion_approvals)
                .where(a.used_by_run.is_(None), a.withdrawn_by_run.is_(None))
                .order_by(a.approved_at.desc())
            )
            out = [dict(row._mapping) for row in rows]
        for row in out:
            row["approved_at"] = aware(row["approved_at"])
        return out

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

    def incremental_runs_since(self, tenant: str, source: str, since: datetime) -> int:
        """How many successful incremental runs of a source started after `since`."""
        r = sync_runs.c
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    sa.select(sa.func.count()).where(
                        r.tenant == tenant,
                        r.source == source,
                        r.full.is_(False),
                        r.status == "success",
                        r.started_at > since,
                    )
                ).scalar_one()
            )

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

    def save_bookmarks(
        self, tenant: str, source: str, bookmarks: dict[str, str], fence: Fence | None = None
    ) -> None:
        """Store bookmarks after a run was published in full."""
        if not bookmarks:
            return
        stamp = now()
        rows = [
            {"tenant": tenant, "source": source, "stream": k, "value": v, "updated_at": stamp}
            for k, v in bookmarks.items()
        ]
        with self.engine.begin() as conn:
            if fence is not None:
                fence(conn)
            conn.execute(upsert(self.engine, source_bookmarks), rows)

    # -- state --------------------------------------------------------------------------

    def lookup(
        self, tenant: str, source: str, entity: str, keys: Sequence[str]
    ) -> dict[str, Known]:
        """What the store knows of each of `keys`: live state, or only a deleted key's version."""
        found: dict[str, Known] = {}
        s, v = entity_state.c, key_versions.c
        with self.engine.connect() as conn:
            for start in range(0, len(keys), self.LOOKUP_CHUNK):
                chunk = keys[start : start + self.LOOKUP_CHUNK]
                versions = dict(
                    conn.execute(
                        sa.select(v.key, v.version).where(
                            v.tenant == tenant,
                            v.source == source,
                            v.entity == entity,
                            v.key.in_(chunk),
                        )
                    ).all()
                )
                rows = conn.execute(
                    sa.select(s.key, s.fingerprint, s.payload).where(
                        s.tenant == tenant, s.source == source, s.entity == entity, s.key.in_(chunk)
                    )
                )
                for key, fingerprint, payload in rows:
                    found[key] = Known(fingerprint, payload, versions.pop(key, 0))
                for key, version in versions.items():
                    found[key] = Known(None, None, version)
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
                "version": r.version,
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
        """Live entities of one type that this run's full read did not see, streamed."""
        st, v = entity_state.c, key_versions.c
        seen = sa.select(sync_seen.c.key).where(
            sync_seen.c.run_id == run_id,
            sync_seen.c.entity == entity,
            sync_seen.c.key == st.key,
        )
        query = (
            sa.select(st.key, st.fingerprint, st.payload, sa.func.coalesce(v.version, 0))
            .select_from(
                entity_state.outerjoin(
                    key_versions,
                    sa.and_(
                        v.tenant == st.tenant,
                        v.source == st.source,
                        v.entity == st.entity,
                        v.key == st.key,
                    ),
                )
            )
            .where(st.tenant == tenant, st.source == source, st.entity == entity, ~sa.exists(seen))
            .order_by(st.key)
        )
        with self.engine.connect() as conn:
            for key, fingerprint, payload, version in conn.execute(query):
                yield key, Known(fingerprint, payload, version)

    # -- offset-paged reads -------------------------------------------------------------

    def count_misses(
        self, tenant: str, source: str, entity: str, keys: Sequence[str]
    ) -> dict[str, int]:
        """Count one more full read that missed each of `keys`; return each key's misses."""
        m = missed_keys.c
        with self.engine.begin() as conn:
            known = dict(
                conn.execute(
                    sa.select(m.key, m.misses).where(
                        m.tenant == tenant, m.source == source, m.entity == entity, m.key.in_(keys)
                    )
                ).all()
            )
            counts = {key: known.get(key, 0) + 1 for key in keys}
            if counts:
                conn.execute(
                    upsert(self.engine, missed_keys),
                    [
                        {
                            "tenant": tenant,
                            "source": source,
                            "entity": entity,
                            "key": k,
                            "misses": n,
                        }
                        for k, n in counts.items()
                    ],
                )
        return counts

    def forget_misses(
        self, run_id: str, tenant: str, source: str, entity: str, keys: Sequence[str] = ()
    ) -> None:
        """Forget the misses of keys this run saw (or of `keys`): they are not gone after all."""
        m = missed_keys.c
        seen = sa.exists(
            sa.select(sync_seen.c.key).where(
                sync_seen.c.run_id == run_id, sync_seen.c.entity == entity, sync_seen.c.key == m.key
            )
        )
        scope = sa.and_(m.tenant == tenant, m.source == source, m.entity == entity)
        with self.engine.begin() as conn:
            conn.execute(missed_keys.delete().where(scope, seen))
            if keys:
                conn.execute(missed_keys.delete().where(scope, m.key.in_(list(keys))))

    # -- dead letters -------------------------------------------------------------------

    def dead_letter_marks(
        self, tenant: str, source: str, refs: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], str]:
        """(entity, record ref) → the fingerprint of the dead letter last published for it."""
        d = dead_letter_marks.c
        wanted = set(refs)
        found: dict[tuple[str, str], str] = {}
        with self.engine.connect() as conn:
            keys = sorted({ref for _, ref in wanted})
            for start in range(0, len(keys), self.LOOKUP_CHUNK):
                rows = conn.execute(
                    sa.select(d.entity, d.record_ref, d.fingerprint).where(
                        d.tenant == tenant,
                        d.source == source,
                        d.record_ref.in_(keys[start : start + self.LOOKUP_CHUNK]),
                    )
                )
                for entity, ref, fingerprint in rows:
                    if (entity, ref) in wanted:
                        found[(entity, ref)] = fingerprint
        return found

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
                    version=r.version,
                )
                for r in rows
            ]
            yield batch
            last = batch[-1].seq

    def apply(
        self,
        run_id: str,
        tenant: str,
        source: str,
        batch: Sequence[Staged],
        fence: Fence | None = None,
    ) -> None:
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
        versions = {
            (r.entity, r.key): r.version for r in batch if r.op in ("c", "u", "d") and r.version
        }
        letters = {(r.entity, r.key): r.fingerprint for r in batch if r.op == DEAD_LETTER}
        deletes = [(r.entity, r.key) for r in batch if r.op == "d"]
        with self.engine.begin() as conn:
            if fence is not None:
                fence(conn)
            if upserts:
                conn.execute(upsert(self.engine, entity_state), upserts)
            if versions:
                conn.execute(
                    upsert(self.engine, key_versions),
                    [
                        {"tenant": tenant, "source": source, "entity": e, "key": k, "version": n}
                        for (e, k), n in versions.items()
                    ],
                )
            if letters:
                conn.execute(
                    upsert(self.engine, dead_letter_marks),
                    [
                        {
                            "tenant": tenant,
                            "source": source,
                            "entity": e,
                            "record_ref": ref,
                            "fingerprint": fingerprint,
                            "run_id": run_id,
                        }
                        for (e, ref), fingerprint in letters.items()
                    ],
                )
            if deletes:
                # One statement run for every deleted key (executemany), not one each.
                conn.execute(
                    entity_state.delete().where(
                        entity_state.c.tenant == tenant,
                        entity_state.c.source == source,
                        entity_state.c.entity == sa.bindparam("d_entity"),
                        entity_state.c.key == sa.bindparam("d_key"),
                    ),
                    [{"d_entity": e, "d_key": k} for e, k in deletes],
                )
            if batch:
                conn.execute(
                    sync_pending.delete().where(
                        sync_pending.c.run_id == run_id,
                        sync_pending.c.seq.between(batch[0].seq, batch[-1].seq),
                    )
                )

    # -- publish marks --------------------------------------------------------------------

    def save_publish_marks(self, run_id: str, marks: dict[tuple[str, int], int]) -> None:
        """Remember where each partition ended before the run publishes."""
        rows = [
            {"run_id": run_id, "topic": t, "partition": p, "offset": o}
            for (t, p), o in marks.items()
        ]
        with self.engine.begin() as conn:
            conn.execute(publish_marks.delete().where(publish_marks.c.run_id == run_id))
            if rows:
                conn.execute(publish_marks.insert(), rows)

    def publish_marks(self, run_id: str) -> dict[tuple[str, int], int]:
        """Where each partition ended before the run published (empty: it never did)."""
        m = publish_marks.c
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(m.topic, m.partition, m.offset).where(m.run_id == run_id))
            return {(t, p): o for t, p, o in rows}

    def discard_staged(self, run_id: str, keep_op: str | None = None) -> None:
        """Drop a run's staged rows (all of them, or all but those with op `keep_op`)."""
        query = sync_pending.delete().where(sync_pending.c.run_id == run_id)
        if keep_op is not None:
            query = query.where(sync_pending.c.op != keep_op)
        with self.engine.begin() as conn:
            conn.execute(query)

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


def widen_bookmarks(engine: sa.Engine) -> None:
    """Turn an older store's `source_bookmarks.value` (VARCHAR(256)) into TEXT.

    Stores made before bookmarks could be opaque tokens have the short column. PostgreSQL
    enforces the length, so the column is altered in place (a catalogue change, no table
    rewrite); SQLite never enforced it and needs nothing.
    """
    if engine.dialect.name != "postgresql":
        return
    columns = sa.inspect(engine).get_columns("source_bookmarks")
    value = next(c for c in columns if c["name"] == "value")
    if isinstance(value["type"], sa.Text):
        return
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE source_bookmarks ALTER COLUMN value TYPE text"))


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
