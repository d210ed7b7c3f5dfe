"""The dated snapshot store: every compiled record row of a tenant and `as_of`, with provenance.

A snapshot is written in one transaction (a recompile of the same day replaces it), and
an extract of a stored snapshot is the same file every time. The tenant's baseline is
pinned (`followup_baselines`): the day the policy names, or the first snapshot compiled;
once pinned, its snapshot is kept and a later compilation of an earlier day does not
take its place.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar, cast, overload

import sqlalchemy as sa

from hub.leases import Lease
from hub.store import create_tables, metadata, now
from schemas.followup import FOLLOWUP_RECORD_TYPES, RECORD_TYPES_BY_NAME, FollowupRecord, Trend

followup_snapshots = sa.Table(
    "followup_snapshots",
    metadata,
    sa.Column("tenant", sa.String(64), primary_key=True),
    sa.Column("as_of", sa.Date, primary_key=True),
    sa.Column("policy_sha256", sa.String(64), nullable=False),
    sa.Column("software_version", sa.String(32), nullable=False),
    sa.Column("consumer_group", sa.String(128), nullable=False),
    sa.Column("offsets", sa.Text, nullable=False),
    sa.Column("entity_counts", sa.Text, nullable=False),
    sa.Column("compiled_at", sa.DateTime(timezone=True), nullable=False),
)

followup_rows = sa.Table(
    "followup_rows",
    metadata,
    sa.Column("tenant", sa.String(64), primary_key=True),
    sa.Column("as_of", sa.Date, primary_key=True),
    sa.Column("record", sa.String(64), primary_key=True),
    sa.Column("key", sa.String(1024), primary_key=True),
    sa.Column("payload", sa.Text, nullable=False),
)

followup_baselines = sa.Table(
    "followup_baselines",
    metadata,
    sa.Column("tenant", sa.String(64), primary_key=True),
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("pinned_at", sa.DateTime(timezone=True), nullable=False),
)

_INSERT_BATCH = 2_000
#: Rows fetched from the store at a time when a stored snapshot's rows are read.
_READ_BATCH = 2_000


R = TypeVar("R", bound=FollowupRecord)


class PackedRows(Sequence[R]):
    """Rows of one record type held as tuples of their values, made into rows when read.

    A row is a pydantic model: some 700 bytes of Python objects around a dozen values it
    only points at. The compile holds every row of a tenant until the snapshot is stored
    (a staff member's row in each competence area: 67,000 rows at 100,000 people), so its
    large records are held packed. A row read back equals the row packed: it is made with
    `model_construct` from the values validated when the row was first made.
    """

    def __init__(self, model: type[R], rows: Iterable[R] = ()) -> None:
        self.model = model
        self._names = tuple(model.model_fields)
        self._packed: list[tuple[Any, ...]] = []
        for row in rows:
            self.append(row)

    def append(self, row: R) -> None:
        """Pack one more row (of this record type) at the end."""
        if type(row) is not self.model:
            raise TypeError(f"a {type(row).__name__} row among {self.model.__name__} rows")
        self._packed.append((row.model_fields_set, *(getattr(row, n) for n in self._names)))

    def sorted_by_key(self) -> PackedRows[R]:
        """The same rows, sorted by their key, still packed."""
        at = 1 + self._names.index("key")
        ordered = PackedRows(self.model)
        ordered._packed = sorted(self._packed, key=lambda packed: packed[at])
        return ordered

    def _row(self, packed: tuple[Any, ...]) -> R:
        given, *values = packed
        row = self.model.model_construct(given, **dict(zip(self._names, values, strict=True)))
        return cast(R, row)  # the pydantic plugin types `model_construct` by the bound

    @overload
    def __getitem__(self, index: int) -> R: ...

    @overload
    def __getitem__(self, index: slice) -> list[R]: ...

    def __getitem__(self, index: int | slice) -> R | list[R]:
        if isinstance(index, slice):
            return [self._row(packed) for packed in self._packed[index]]
        return self._row(self._packed[index])

    def __iter__(self) -> Iterator[R]:
        return (self._row(packed) for packed in self._packed)

    def __len__(self) -> int:
        return len(self._packed)

    def __eq__(self, other: object) -> bool:
        """Equal to a sequence (a list, packed rows) of equal rows in the same order."""
        if not isinstance(other, Sequence) or isinstance(other, str | bytes):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]


def row_json(row: FollowupRecord) -> str:
    """A row's canonical JSON (sorted keys, compact), as stored and fingerprinted."""
    return json.dumps(
        row.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )


@dataclass
class Snapshot:
    """One tenant's follow-up records for one day, with what they were compiled from."""

    tenant: str
    as_of: date
    policy_sha256: str
    software_version: str
    consumer_group: str
    #: `<topic>:<partition>` → the next offset the materialiser had not consumed.
    offsets: dict[str, int]
    entity_counts: dict[str, int]
    #: Record type → its rows by key (large records `PackedRows`).
    records: dict[str, Sequence[FollowupRecord]] = field(default_factory=dict)

    def rows(self, record: str) -> Iterable[FollowupRecord]:
        """The rows of one record type, by key."""
        return self.records.get(record, [])

    @property
    def measures(self) -> dict[str, float | None]:
        """The headline measures at `as_of` (the trend's values)."""
        return {r.measure: r.value for r in self.rows("trend") if isinstance(r, Trend)}

    @property
    def baseline_as_of(self) -> date | None:
        """The day of the baseline the trend compares with."""
        trend = [r for r in self.rows("trend") if isinstance(r, Trend)]
        return trend[0].baseline_as_of if trend else None

    def every_row(self) -> Iterator[tuple[str, FollowupRecord]]:
        """Every row with its record type's name, a record type at a time."""
        for record_type in FOLLOWUP_RECORD_TYPES:
            for row in self.rows(record_type.entity):
                yield record_type.entity, row

    def counts(self) -> dict[str, int]:
        """Rows per record type."""
        return {t.entity: len(self.records.get(t.entity, ())) for t in FOLLOWUP_RECORD_TYPES}

    def summary(self) -> SnapshotSummary:
        """What the snapshot amounts to, without its rows."""
        return SnapshotSummary(
            self.tenant, self.as_of, self.baseline_as_of, self.counts(), self.measures
        )


@dataclass
class StoredSnapshot(Snapshot):
    """A snapshot in the store whose rows are read a record type at a time, when asked for.

    Nothing but the head and the row counts is held: an extract or a page of a large
    tenant reads one record type's rows as it goes, never the whole snapshot.
    """

    engine: sa.Engine = field(kw_only=True)
    stored_counts: dict[str, int] = field(kw_only=True)

    def rows(self, record: str) -> Iterator[FollowupRecord]:
        """The rows of one record type, by key, read from the store in batches."""
        model = RECORD_TYPES_BY_NAME[record]
        r = followup_rows.c
        with self.engine.connect() as conn:
            payloads = conn.execution_options(yield_per=_READ_BATCH).scalars(
                sa.select(r.payload)
                .where(r.tenant == self.tenant, r.as_of == self.as_of, r.record == record)
                .order_by(r.key)
            )
            for payload in payloads:
                yield model.model_validate_json(payload)

    def counts(self) -> dict[str, int]:
        """Rows per record type."""
        return {t.entity: self.stored_counts.get(t.entity, 0) for t in FOLLOWUP_RECORD_TYPES}


@dataclass(frozen=True)
class SnapshotSummary:
    """A compiled snapshot's day, row counts and headline figures: what a run reports."""

    tenant: str
    as_of: date
    baseline_as_of: date | None
    counts: dict[str, int]
    measures: dict[str, float | None]


class SnapshotStore:
    """Snapshots in the reporting store's database (SQLite or PostgreSQL)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        create_tables(engine, [followup_snapshots, followup_rows, followup_baselines])

    def save(self, snapshot: Snapshot, lease: Lease | None = None) -> None:
        """Store a snapshot, replacing one of the same tenant and day, atomically.

        With `lease` (the tenant's compile lease) the transaction is fenced by it.
        """
        where = (
            followup_rows.c.tenant == snapshot.tenant,
            followup_rows.c.as_of == snapshot.as_of,
        )
        rows = (
            {
                "tenant": snapshot.tenant,
                "as_of": snapshot.as_of,
                "record": record,
                "key": row.key,
                "payload": row_json(row),
            }
            for record, row in snapshot.every_row()
        )
        with self.engine.begin() as conn:
            if lease is not None:
                lease.fence(conn)
            conn.execute(followup_rows.delete().where(*where))
            conn.execute(
                followup_snapshots.delete().where(
                    followup_snapshots.c.tenant == snapshot.tenant,
                    followup_snapshots.c.as_of == snapshot.as_of,
                )
            )
            conn.execute(
                followup_snapshots.insert().values(
                    tenant=snapshot.tenant,
                    as_of=snapshot.as_of,
                    policy_sha256=snapshot.policy_sha256,
                    software_version=snapshot.software_version,
                    consumer_group=snapshot.consumer_group,
                    offsets=json.dumps(snapshot.offsets, sort_keys=True),
                    entity_counts=json.dumps(snapshot.entity_counts, sort_keys=True),
                    compiled_at=now(),
                )
            )
            # A batch of rows' JSON at a time: the snapshot's text is never held whole.
            while batch := list(itertools.islice(rows, _INSERT_BATCH)):
                conn.execute(followup_rows.insert(), batch)

    def days(self, tenant: str) -> list[date]:
        """The days a tenant has snapshots of, oldest first."""
        with self.engine.connect() as conn:
            return list(
                conn.scalars(
                    sa.select(followup_snapshots.c.as_of)
                    .where(followup_snapshots.c.tenant == tenant)
                    .order_by(followup_snapshots.c.as_of)
                )
            )

    def load(self, tenant: str, as_of: date) -> StoredSnapshot | None:
        """A stored snapshot (its head; rows are read when asked for), or None."""
        s = followup_snapshots.c
        r = followup_rows.c
        with self.engine.connect() as conn:
            head = conn.execute(
                sa.select(followup_snapshots).where(s.tenant == tenant, s.as_of == as_of)
            ).first()
            if head is None:
                return None
            counts = conn.execute(
                sa.select(r.record, sa.func.count())
                .where(r.tenant == tenant, r.as_of == as_of)
                .group_by(r.record)
            ).all()
        return StoredSnapshot(
            tenant=tenant,
            as_of=head.as_of,
            policy_sha256=head.policy_sha256,
            software_version=head.software_version,
            consumer_group=head.consumer_group,
            offsets=json.loads(head.offsets),
            entity_counts=json.loads(head.entity_counts),
            engine=self.engine,
            stored_counts={record: int(n) for record, n in counts},
        )

    def pinned_baseline(self, tenant: str) -> date | None:
        """The day pinned as the tenant's baseline, if any."""
        with self.engine.connect() as conn:
            return conn.scalar(
                sa.select(followup_baselines.c.as_of).where(followup_baselines.c.tenant == tenant)
            )

    def pin_baseline(self, tenant: str, day: date) -> None:
        """Pin `day` as the tenant's baseline (the policy named another day, or none was)."""
        with self.engine.begin() as conn:
            conn.execute(followup_baselines.delete().where(followup_baselines.c.tenant == tenant))
            conn.execute(
                followup_baselines.insert().values(tenant=tenant, as_of=day, pinned_at=now())
            )

    def measures_of(self, tenant: str, day: date) -> dict[str, float | None]:
        """The headline measures of a stored snapshot (its trend's values)."""
        with self.engine.connect() as conn:
            payloads = conn.scalars(
                sa.select(followup_rows.c.payload).where(
                    followup_rows.c.tenant == tenant,
                    followup_rows.c.as_of == day,
                    followup_rows.c.record == Trend.entity,
                )
            ).all()
        values = {}
        for payload in payloads:
            row = Trend.model_validate_json(payload)
            values[row.measure] = row.value
        return values


def sorted_records(
    records: Mapping[str, Sequence[FollowupRecord]],
) -> dict[str, Sequence[FollowupRecord]]:
    """Every record type present, its rows sorted by key (packed rows stay packed)."""
    found: dict[str, Sequence[FollowupRecord]] = {}
    for t in FOLLOWUP_RECORD_TYPES:
        rows = records.get(t.entity, ())
        found[t.entity] = (
            rows.sorted_by_key()
            if isinstance(rows, PackedRows)
            else sorted(rows, key=lambda r: r.key)
        )
    return found
