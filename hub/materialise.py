"""The follow-up's first half: materialise the entity topics into the reporting store.

(The second half, `hub.followup.compile`, compiles the stored entities into records.)

An ordinary Kafka consumer with manually assigned partitions. It keeps the latest state
of every entity (`report_entities`, one row per tenant, entity, source instance and key)
and deletes on `d` events and tombstones, each within the source instance its record key
(`<tenant>:<instance>:<entity>:<key>`) names: two instances of one vendor may share a key. Its
position is not committed to Kafka: it is stored in `report_offsets` in the same
database transaction as the rows it wrote, and read back on start, so a crash at any
point neither loses nor double-counts an event.

Beside the latest state it keeps the **history** (`report_history`): every version of
every entity with the time it became valid and the time it stopped, in the same
transaction as the rows and offsets. A version's time is the event's `ce_time` (when the
hub published the change, i.e. when it knew it; the Kafka timestamp if the header is
missing), so the view at any past moment is what the hub knew then, and it does not move
when the figures are compiled later. A delete closes the entity's open version. A store
written before the history existed gets one version per stored entity, valid from its
`updated_at`, on the first run. `history_days` (the follow-up settings) prunes versions
that stopped being valid longer ago than that; None keeps everything.

One materialiser per consumer group at a time: `run` takes the lease `materialise:<group>`
(hub/leases.py) before it reads the stored offsets and fences every batch transaction
with it, so a second materialiser (the compile DAG beside a `hub compile`) gets
`LeaseHeld` and touches nothing, and one that stalled past the lease's expiry cannot
commit older offsets over its successor's.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
import structlog
from kafka import TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import AuthorizationError

from hub import kafka_security
from hub._faults import fault_point
from hub.kafka_security import KafkaAccessError
from hub.leases import Lease, lease_ttl
from hub.settings import KafkaSecurity
from hub.store import create_tables, metadata, now, upsert
from schemas.envelope import EntityRef, Op, RecordKey, decode_change

log = structlog.get_logger(__name__)

report_entities = sa.Table(
    "report_entities",
    metadata,
    sa.Column("tenant", sa.String(64), primary_key=True),
    sa.Column("entity", sa.String(64), primary_key=True),
    sa.Column("source", sa.String(128), primary_key=True),
    sa.Column("key", sa.String(512), primary_key=True),
    sa.Column("domain", sa.String(32), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("event_id", sa.String(64), nullable=False),
    sa.Column("topic", sa.String(255), nullable=False),
    sa.Column("partition", sa.Integer, nullable=False),
    sa.Column("offset", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

report_history = sa.Table(
    "report_history",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("entity", sa.String(64), nullable=False),
    sa.Column("source", sa.String(128), nullable=False),
    sa.Column("key", sa.String(512), nullable=False),
    sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
    #: None while the version is the entity's current one.
    sa.Column("valid_to", sa.DateTime(timezone=True), nullable=True),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("event_id", sa.String(64), nullable=False),
    sa.Index("report_history_version", "tenant", "entity", "source", "key", "valid_from"),
)

#: The moment before which pruning removed versions: the history is complete only after it.
report_history_pruned = sa.Table(
    "report_history_pruned",
    metadata,
    sa.Column("name", sa.String(16), primary_key=True),
    sa.Column("before", sa.DateTime(timezone=True), nullable=False),
)

report_offsets = sa.Table(
    "report_offsets",
    metadata,
    sa.Column("consumer_group", sa.String(128), primary_key=True),
    sa.Column("topic", sa.String(255), primary_key=True),
    sa.Column("partition", sa.Integer, primary_key=True),
    sa.Column("next_offset", sa.BigInteger, nullable=False),
)


def entity_topic_pattern(prefix: str) -> re.Pattern[str]:
    """Entity topics of a prefix: `<prefix>.<domain>.<entity>.v<major>`, not the DLQ.

    Nor the follow-up records (`<prefix>.followup.*`): the compiler's own output.
    """
    return re.compile(
        rf"^{re.escape(prefix)}\.(?!dlq\.|followup\.)[a-z0-9_]+\.[a-z0-9_]+\.v[0-9]+$"
    )


def of_instance(instance: str) -> sa.ColumnElement[bool]:
    """Rows read from one source instance: those whose `source` ends in `/<instance>`.

    `source` is `<system>/<instance>`; neither part holds a slash (systems are connector
    names, instances are source ids from hub.yaml), so the part after the slash is the
    instance, compared exactly (case and all, no LIKE patterns to escape).
    """
    return _of_instance(report_entities.c.source, instance)


def _of_instance(source: sa.ColumnElement[str], instance: str) -> sa.ColumnElement[bool]:
    if "/" in instance:
        raise ValueError(f"a source instance has no slash: {instance!r}")
    return sa.func.substr(source, sa.func.length(source) - len(instance)) == f"/{instance}"


def stored_offsets(engine: sa.Engine, group: str) -> dict[tuple[str, int], int]:
    """(topic, partition) → the next offset a consumer group has not materialised yet.

    The one reader of `report_offsets`: the materialiser seeks to these, the web pages
    compute the lag from them, and a compiled snapshot records them (`offset_labels`).
    """
    create_tables(engine, [report_offsets])
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                report_offsets.c.topic, report_offsets.c.partition, report_offsets.c.next_offset
            ).where(report_offsets.c.consumer_group == group)
        )
        return {(t, p): o for t, p, o in rows}


def offset_labels(offsets: dict[tuple[str, int], int]) -> dict[str, int]:
    """Stored offsets keyed `<topic>:<partition>`, in order: how snapshots and reports show them."""
    return {f"{topic}:{partition}": n for (topic, partition), n in sorted(offsets.items())}


@dataclass
class MaterialiseProgress:
    """What one materialisation pass consumed."""

    records: int = 0
    upserts: int = 0
    deletes: int = 0
    skipped: int = 0
    batches: int = 0
    positions: dict[str, int] = field(default_factory=dict)


class Materialiser:
    """Consumes entity topics into the reporting store, offsets stored with the rows."""

    def __init__(
        self,
        engine: sa.Engine,
        bootstrap: str,
        prefix: str,
        group: str = "skolehub-followup",
        batch_size: int = 2_000,
        history_days: int | None = None,
        *,
        security: KafkaSecurity | None = None,
    ) -> None:
        self.engine = engine
        self.bootstrap = bootstrap
        #: How the consumer connects (hub.yaml's `kafka.security`; plaintext when not given).
        self.security = security or KafkaSecurity()
        self.prefix = prefix
        self.group = group
        self.batch_size = batch_size
        self.history_days = history_days
        create_tables(
            engine, [report_entities, report_history, report_history_pruned, report_offsets]
        )
        #: Called after each row is written inside the batch transaction (tests crash here).
        self.on_row: Callable[[int], None] | None = None

    def topics(self) -> list[str]:
        """The entity topics that exist now for this prefix."""
        admin = kafka_security.admin_client(
            self.bootstrap, self.security, client_id="skolehub-compiler"
        )
        try:
            pattern = entity_topic_pattern(self.prefix)
            return sorted(t for t in admin.list_topics() if pattern.match(t))
        finally:
            admin.close()

    def stored_offsets(self) -> dict[tuple[str, int], int]:
        """Where this consumer group stands, as stored in the reporting store."""
        return stored_offsets(self.engine, self.group)

    @property
    def lease_name(self) -> str:
        """The lease that makes this consumer group's materialiser the only one."""
        return f"materialise:{self.group}"

    def run(self, timeout: float = 300.0, *, empty_first: bool = False) -> MaterialiseProgress:
        """Consume every entity topic up to its current end, then stop.

        `empty_first` (a rebuild) first empties the entities, the history and this group's
        offsets, in one transaction under the lease, so the topics are read from the start.
        Raises `LeaseHeld` (having done nothing) while another materialiser of the group runs.
        """
        with Lease(self.engine, self.lease_name, lease_ttl()) as lease:
            if empty_first:
                with self.engine.begin() as conn:
                    lease.fence(conn)
                    for table in (report_entities, report_history, report_history_pruned):
                        conn.execute(table.delete())
                    conn.execute(
                        report_offsets.delete().where(report_offsets.c.consumer_group == self.group)
                    )
                log.info("store_emptied_for_rebuild", group=self.group)
            return self._run(lease, timeout)

    def _run(self, lease: Lease, timeout: float) -> MaterialiseProgress:
        progress = MaterialiseProgress()
        start_history(self.engine)
        if self.history_days is not None:
            prune_history(self.engine, now() - timedelta(days=self.history_days))
        topics = self.topics()
        if not topics:
            return progress
        consumer = kafka_security.consumer(
            self.bootstrap,
            self.security,
            enable_auto_commit=False,
            client_id="skolehub-compiler",
            max_poll_records=self.batch_size,
            **kafka_security.TOPIC_READER_FETCH,
        )
        try:
            partitions = [
                TopicPartition(topic, p)
                for topic in topics
                for p in sorted(consumer.partitions_for_topic(topic) or ())
            ]
            consumer.assign(partitions)
            stored = self.stored_offsets()
            for tp in partitions:
                if (tp.topic, tp.partition) in stored:
                    consumer.seek(tp, stored[(tp.topic, tp.partition)])
                else:
                    consumer.seek_to_beginning(tp)
            end = consumer.end_offsets(partitions)
            deadline = time.monotonic() + timeout
            while any(consumer.position(tp) < end[tp] for tp in partitions):
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"compiler read nothing more of {topics} for {timeout}s "
                        "before reaching their end"
                    )
                polled = consumer.poll(timeout_ms=1000, max_records=self.batch_size)
                records = [r for batch in polled.values() for r in batch]
                if records:
                    self._apply(records, progress, lease)
                    # A stall ends the run, not a large backlog: a 100,000-person tenant's
                    # first load takes longer than `timeout` to materialise.
                    deadline = time.monotonic() + timeout
            progress.positions = offset_labels(
                {(tp.topic, tp.partition): consumer.position(tp) for tp in partitions}
            )
        except AuthorizationError as exc:
            raise KafkaAccessError(kafka_security.denied(exc, self.security)) from None
        finally:
            consumer.close()
        log.info(
            "topics_materialised",
            records=progress.records,
            upserts=progress.upserts,
            deletes=progress.deletes,
            batches=progress.batches,
        )
        return progress

    def _apply(
        self,
        records: Sequence[ConsumerRecord],
        progress: MaterialiseProgress,
        lease: Lease | None = None,
    ) -> None:
        """Write one polled batch and the offsets after it in a single transaction.

        Consecutive upserts are written as one statement (the last one per entity wins);
        a delete first writes the upserts before it, so the batch keeps its order. The
        transaction first renews `lease` (`LeaseLost` if another materialiser took it over).
        """
        positions: dict[tuple[str, int], int] = {}
        stamp = now()
        upserts: dict[tuple[str, ...], dict[str, Any]] = {}
        history = _BatchHistory()
        with self.engine.begin() as conn:
            if lease is not None:
                lease.fence(conn)

            def write_upserts() -> None:
                if upserts:
                    conn.execute(upsert(self.engine, report_entities), list(upserts.values()))
                    upserts.clear()

            for number, record in enumerate(records):
                positions[(record.topic, record.partition)] = record.offset + 1
                change = self._change(record, stamp, progress)
                if isinstance(change, dict):
                    identity = (change["tenant"], change["entity"], change["source"], change["key"])
                    upserts[identity] = change
                    history.version(identity, _event_time(record), change)
                elif change is not None:
                    write_upserts()
                    conn.execute(change.statement)
                    history.close(change.identity, _event_time(record))
                if self.on_row is not None:
                    self.on_row(number)
            write_upserts()
            history.write(conn)
            fault_point("mid_materialise")
            for (topic, partition), offset in positions.items():
                conn.execute(
                    upsert(self.engine, report_offsets),
                    {
                        "consumer_group": self.group,
                        "topic": topic,
                        "partition": partition,
                        "next_offset": offset,
                    },
                )
        progress.records += len(records)
        progress.batches += 1

    def _change(
        self, record: ConsumerRecord, stamp: Any, progress: MaterialiseProgress
    ) -> dict[str, Any] | _Delete | None:
        """The row to upsert, the delete to run, or None for a record to skip."""
        try:
            record_key = RecordKey.parse((record.key or b"").decode())
        except (ValueError, UnicodeDecodeError) as exc:
            return self._skip(record, progress, exc)
        if record.value is None:  # tombstone: the `d` before it already deleted the row
            where = (
                report_entities.c.tenant == record_key.tenant,
                report_entities.c.entity == record_key.entity,
                report_entities.c.key == record_key.key,
                of_instance(record_key.instance),
            )
            return _Delete(report_entities.delete().where(*where), record_key)
        headers = {k: v.decode() for k, v in record.headers or []}
        try:
            value = decode_change(record.value)
            body = value.entity
            ref = EntityRef.model_validate(body)
        except ValueError as exc:  # pydantic's ValidationError is a ValueError
            return self._skip(record, progress, exc)
        match = {
            "tenant": record_key.tenant,
            "entity": record_key.entity,
            "source": f"{ref.source.system}/{ref.source.instance}",
            "key": ref.key,
        }
        if value.op is Op.DELETED:
            progress.deletes += 1
            delete = report_entities.delete().where(
                *(getattr(report_entities.c, k) == v for k, v in match.items())
            )
            return _Delete(delete, tuple(match.values()))
        progress.upserts += 1
        return {
            **match,
            "domain": record.topic.split(".")[-3],
            "payload": json.dumps(body, sort_keys=True, ensure_ascii=False),
            "event_id": headers.get("ce_id", ""),
            "topic": record.topic,
            "partition": record.partition,
            "offset": record.offset,
            "updated_at": stamp,
        }

    @staticmethod
    def _skip(record: ConsumerRecord, progress: MaterialiseProgress, exc: Exception) -> None:
        """Count and log a record that cannot be materialised."""
        progress.skipped += 1
        log.warning(
            "event_skipped",
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            reason=f"{type(exc).__name__}: {exc}",
        )


def start_history(engine: sa.Engine) -> int:
    """Give a store written before the history existed one version per stored entity.

    Each is valid from the row's `updated_at`. Runs once: only while the history is
    empty. Returns the versions written.
    """
    with engine.begin() as conn:
        if conn.scalar(sa.select(report_history.c.id).limit(1)) is not None:
            return 0
        e = report_entities.c
        columns = ["tenant", "entity", "source", "key", "valid_from", "payload", "event_id"]
        query = sa.select(e.tenant, e.entity, e.source, e.key, e.updated_at, e.payload, e.event_id)
        result = conn.execute(report_history.insert().from_select(columns, query))
        written = max(result.rowcount or 0, 0)
    if written:
        log.info("history_started", versions=written)
    return written


def prune_history(engine: sa.Engine, before: datetime) -> int:
    """Drop versions that stopped being valid before `before` (the retention setting)."""
    create_tables(engine, [report_history_pruned])
    with engine.begin() as conn:
        result = conn.execute(
            report_history.delete().where(
                report_history.c.valid_to.is_not(None), report_history.c.valid_to < before
            )
        )
        conn.execute(upsert(engine, report_history_pruned), {"name": "history", "before": before})
    pruned = max(result.rowcount or 0, 0)
    if pruned:
        log.info("history_pruned", versions=pruned, before=before.isoformat())
    return pruned


def history_span(engine: sa.Engine, tenant: str) -> tuple[datetime, datetime] | None:
    """When a tenant's history begins, and its latest change; None if it has none."""
    create_tables(engine, [report_entities, report_history, report_history_pruned])
    start_history(engine)
    h = report_history.c
    with engine.connect() as conn:
        first, last = conn.execute(
            sa.select(sa.func.min(h.valid_from), sa.func.max(h.valid_from)).where(
                h.tenant == tenant
            )
        ).one()
        pruned = conn.scalar(sa.select(report_history_pruned.c.before))
    if first is None:
        return None
    begins = max(_aware(first), _aware(pruned)) if pruned is not None else _aware(first)
    return begins, _aware(last)


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes: they are UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class _Delete:
    """A delete of the latest state, and the entity whose open version it closes.

    A `d` event names the entity exactly (tenant, entity, source, key); a tombstone's key
    names only the instance, so its identity is the `RecordKey` (matched by instance).
    """

    statement: sa.Delete
    identity: tuple[str, ...] | RecordKey


def _event_time(record: ConsumerRecord) -> datetime:
    """When the hub published an event: its `ce_time`, else the Kafka timestamp."""
    for name, value in record.headers or []:
        if name == "ce_time":
            try:
                return datetime.fromisoformat(value.decode().replace("Z", "+00:00"))
            except (UnicodeDecodeError, ValueError):
                break
    return datetime.fromtimestamp(record.timestamp / 1000, UTC)


class _BatchHistory:
    """The versions one polled batch opens and closes, written with two statements.

    In event order per entity: a version is valid until the entity's next version or
    delete in the batch; the version open before the batch is closed at the entity's
    first event in it.
    """

    def __init__(self) -> None:
        self.events: list[tuple[tuple[str, ...] | RecordKey, datetime, dict[str, Any] | None]] = []

    def version(self, identity: tuple[str, ...], at: datetime, row: dict[str, Any]) -> None:
        """The entity has a new version from `at`."""
        self.events.append((identity, at, row))

    def close(self, identity: tuple[str, ...] | RecordKey, at: datetime) -> None:
        """The entity was deleted at `at`."""
        self.events.append((identity, at, None))

    def write(self, conn: sa.Connection) -> None:
        """Close the versions open before the batch, and insert the batch's own."""
        if not self.events:
            return
        h = report_history.c
        first: dict[tuple[str, ...] | RecordKey, datetime] = {}
        inserts: list[dict[str, Any]] = []
        latest: dict[tuple[str, ...] | RecordKey, dict[str, Any]] = {}
        for identity, at, row in self.events:
            first.setdefault(identity, at)
            before = latest.pop(identity, None)
            if before is not None:
                before["valid_to"] = max(at, before["valid_from"])
            if row is not None:
                version = {
                    "tenant": row["tenant"],
                    "entity": row["entity"],
                    "source": row["source"],
                    "key": row["key"],
                    "valid_from": at,
                    "valid_to": None,
                    "payload": row["payload"],
                    "event_id": row["event_id"],
                }
                inserts.append(version)
                latest[identity] = version
        exact = [
            {"t": i[0], "e": i[1], "s": i[2], "k": i[3], "at": at}
            for i, at in first.items()
            if not isinstance(i, RecordKey)
        ]
        if exact:  # one statement, executed for many entities
            conn.execute(
                report_history.update()
                .where(
                    h.tenant == sa.bindparam("t"),
                    h.entity == sa.bindparam("e"),
                    h.source == sa.bindparam("s"),
                    h.key == sa.bindparam("k"),
                    h.valid_to.is_(None),
                    h.valid_from <= sa.bindparam("at"),
                )
                .values(valid_to=sa.bindparam("at")),
                exact,
            )
        closed = {
            (i[0], i[1], i[3], i[2].partition("/")[2])
            for i, _at, row in self.events
            if row is None and not isinstance(i, RecordKey)
        }
        for identity, at in first.items():
            # A tombstone after its `d` in the batch has nothing left to close; one whose
            # `d` compaction removed closes the version it finds (matched by instance).
            if isinstance(identity, RecordKey) and (
                (identity.tenant, identity.entity, identity.key, identity.instance) not in closed
            ):
                conn.execute(
                    report_history.update()
                    .where(
                        h.tenant == identity.tenant,
                        h.entity == identity.entity,
                        h.key == identity.key,
                        _of_instance(h.source, identity.instance),
                        h.valid_to.is_(None),
                        h.valid_from <= at,
                    )
                    .values(valid_to=at)
                )
        if inserts:
            conn.execute(report_history.insert(), inserts)


def materialised_rows(engine: sa.Engine) -> list[tuple[Any, ...]]:
    """Every materialised entity row as a comparable tuple, in key order (tests and checks).

    (tenant, entity, source, key, payload, event id); not a follow-up `Snapshot`.
    """
    columns = [
        report_entities.c.tenant,
        report_entities.c.entity,
        report_entities.c.source,
        report_entities.c.key,
        report_entities.c.payload,
        report_entities.c.event_id,
    ]
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(sa.select(*columns).order_by(*columns[:4]))]
