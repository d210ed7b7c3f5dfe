"""Publish a snapshot's rows to `hub.followup.<record>.v1`, with the entities' envelope.

Like a sync: each row is fingerprinted and compared with what was last published for its
record key (`followup_published`); only new (`c`), changed (`u`) and vanished (`d`, then a
tombstone) rows are sent, and the published state advances only after Kafka acknowledged
the batch. Event ids are deterministic, so a batch sent again after a crash carries the
same ids. A snapshot older than the newest one published is not published (the compacted
topics hold the latest follow-up).

Rows leave the hub pseudonymised (`hub.followup.privacy.pseudonymised`): a person-level
row carries the person's pseudonym in its key and value, never their directory key.
`followup_published` names a record type's rows by its topic's major version from v2 on
(`staff_competence.v2`); rows published under an earlier major are *retired*: their old
topic gets a tombstone for each (so compaction erases the old values) and they are
dropped from the state, without a delete event on the new topic.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import date

import sqlalchemy as sa
import structlog

from hub.followup.privacy import pseudonymised
from hub.followup.snapshots import Snapshot, row_json
from hub.kafka_io import OutRecord, Publisher, ensure_topics, entity_topic, existing_topics
from hub.leases import Lease
from hub.settings import HubSettings
from hub.store import create_tables, metadata, now, upsert
from hub.sync import changed_fields, fingerprint
from schemas.envelope import CloudEventHeaders, Op, encode_change, record_key
from schemas.followup import (
    FOLLOWUP_RECORD_TYPES,
    FOLLOWUP_SOURCE,
    RECORD_TYPES_BY_NAME,
    FollowupRecord,
)

log = structlog.get_logger(__name__)

followup_published = sa.Table(
    "followup_published",
    metadata,
    sa.Column("tenant", sa.String(64), primary_key=True),
    sa.Column("record", sa.String(64), primary_key=True),
    sa.Column("key", sa.String(1024), primary_key=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("as_of", sa.Date, nullable=False),
)


#: Published rows looked up per query (two bound values each).
_LOOKUP = 1_000

#: What was last published: state name → row key → the row's fingerprint (its 32 bytes).
#: Kept per record and as bytes, not under a (record, key) tuple and as hex text: at
#: 100,000 people that is 19 MiB instead of 40.
_Known = dict[str, dict[str, bytes]]


@dataclass
class PublishReport:
    """What publishing one snapshot did."""

    tenant: str
    as_of: date
    created: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    #: Rows published under an earlier major version of their topic, tombstoned there.
    retired: int = 0
    skipped: str | None = None

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict."""
        return {**asdict(self), "as_of": self.as_of.isoformat()}


@dataclass(frozen=True)
class _Change:
    record: str
    key: str
    op: Op
    fingerprint: str
    after: str | None
    before: str | None
    #: The topic of a retired row (`state_name` of an earlier major): a tombstone only
    #: ("" when that topic is gone: the row just leaves the state).
    retired_topic: str | None = None


def state_name(record_type: type[FollowupRecord]) -> str:
    """How `followup_published` names a record type's rows: its name, plus `.v<major>` from v2."""
    major = record_type.schema_major
    return record_type.entity if major == 1 else f"{record_type.entity}.v{major}"


def _retired_topic(prefix: str, name: str) -> str:
    """The topic a retired state name's rows went to (`staff_competence` → `....v1`)."""
    entity, _, major = name.partition(".v")
    return f"{prefix}.followup.{entity}.v{major or 1}"


def publish_snapshot(
    engine: sa.Engine,
    settings: HubSettings,
    snapshot: Snapshot,
    *,
    pseudonym_key: bytes,
    publisher: Publisher | None = None,
    lease: Lease | None = None,
) -> PublishReport:
    """Send the snapshot's changed rows (and deletes) to Kafka; record what was acknowledged.

    `pseudonym_key` (`HUB_HMAC_KEY`) pseudonymises person-level rows.

    `lease`, the tenant's compile lease when the caller holds it, fences every commit of
    the published state, so two publishers never interleave their batches.
    """
    create_tables(engine, [followup_published])
    report = PublishReport(snapshot.tenant, snapshot.as_of)
    p = followup_published.c
    # Only the fingerprints are held; the payloads a change needs (its `before`) are read
    # a batch at a time, as the changes are sent.
    known: _Known = {}
    with engine.connect() as conn:
        newest = conn.scalar(sa.select(sa.func.max(p.as_of)).where(p.tenant == snapshot.tenant))
        rows = conn.execute(
            sa.select(p.record, p.key, p.fingerprint).where(p.tenant == snapshot.tenant)
        )
        for r in rows:
            known.setdefault(r.record, {})[r.key] = bytes.fromhex(r.fingerprint)
    if newest is not None and newest > snapshot.as_of:
        report.skipped = f"a newer snapshot ({newest.isoformat()}) is published"
        return report
    size = settings.kafka.batch_size
    sender = publisher  # made on the first batch: no changes, no connection
    try:
        for batch in _batches(_changes(settings, snapshot, known, report, pseudonym_key), size):
            if sender is None:
                ensure_topics(settings.bootstrap, settings.kafka, FOLLOWUP_RECORD_TYPES)
                sender = Publisher(
                    settings.bootstrap, settings.kafka, client_id="skolehub-followup"
                )
            batch = _with_before(engine, snapshot.tenant, batch)
            if lease is not None:
                lease.check()  # the heartbeat found the lease gone: send nothing more
            sender.publish(_records(settings.kafka.topic_prefix, snapshot.tenant, batch))
            _commit(engine, snapshot, batch, lease)
            for change in batch:
                if change.retired_topic is not None:
                    report.retired += 1
                elif change.op is Op.CREATED:
                    report.created += 1
                elif change.op is Op.UPDATED:
                    report.updated += 1
                else:
                    report.deleted += 1
    finally:
        if publisher is None and sender is not None:
            sender.close()
    if report.created or report.updated or report.deleted or report.retired:
        log.info("followup_published", **report.to_dict())
    return report


def _changes(
    settings: HubSettings,
    snapshot: Snapshot,
    known: _Known,
    report: PublishReport,
    pseudonym_key: bytes,
) -> Iterator[_Change]:
    """The snapshot's new and changed rows, then the deletes, without their `before`.

    Counts the unchanged rows in `report`. Each row's entry is taken out of `known` as the
    row is seen, so what is left of it at the end is the rows to delete.
    """
    for record, original in snapshot.every_row():
        name = state_name(RECORD_TYPES_BY_NAME[record])
        row = pseudonymised(original, pseudonym_key)
        text = row_json(row)
        digest = fingerprint(json.loads(text))
        old = known.get(name, {}).pop(row.key, None)
        if old is not None and old.hex() == digest:
            report.unchanged += 1
            continue
        op = Op.CREATED if old is None else Op.UPDATED
        yield _Change(name, row.key, op, digest, text, None)
    current = {state_name(t) for t in FOLLOWUP_RECORD_TYPES}
    prefix = settings.kafka.topic_prefix
    topics = (
        existing_topics(settings.bootstrap, settings.kafka.security)
        if any(name not in current and rows for name, rows in known.items())
        else set()
    )
    for name in sorted(known):
        # A retired topic an operator already deleted needs no tombstone ("" sends none).
        retired = _retired_topic(prefix, name)
        where = None if name in current else retired if retired in topics else ""
        for key, old in sorted(known[name].items()):
            yield _Change(name, key, Op.DELETED, old.hex(), None, None, where)


def _batches(changes: Iterator[_Change], size: int) -> Iterator[list[_Change]]:
    while batch := list(itertools.islice(changes, size)):
        yield batch


def _with_before(engine: sa.Engine, tenant: str, batch: list[_Change]) -> list[_Change]:
    """The batch with each update's and delete's `before`: the payload last published."""
    wanted = [(c.record, c.key) for c in batch if c.op is not Op.CREATED]
    if not wanted:
        return batch
    p = followup_published.c
    before: dict[tuple[str, str], str] = {}
    with engine.connect() as conn:
        for start in range(0, len(wanted), _LOOKUP):
            rows = conn.execute(
                sa.select(p.record, p.key, p.payload).where(
                    p.tenant == tenant,
                    sa.tuple_(p.record, p.key).in_(wanted[start : start + _LOOKUP]),
                )
            )
            before.update({(r.record, r.key): r.payload for r in rows})
    return [
        c if c.op is Op.CREATED else replace(c, before=before[(c.record, c.key)]) for c in batch
    ]


def _records(prefix: str, tenant: str, batch: Sequence[_Change]) -> list[OutRecord]:
    stamp = now()
    out = []
    for change in batch:
        if change.retired_topic is not None:
            if change.retired_topic:
                entity = change.record.partition(".v")[0]
                key = record_key(tenant, entity, change.key)
                out.append(OutRecord(change.retired_topic, key, None, []))
            continue
        record_type = RECORD_TYPES_BY_NAME[change.record.partition(".v")[0]]
        topic = entity_topic(prefix, record_type)
        key = record_key(tenant, record_type.entity, change.key)
        changed = (
            changed_fields(json.loads(change.before), json.loads(change.after))
            if change.before and change.after
            else ()
        )
        headers = CloudEventHeaders.for_key(
            record_type, tenant, FOLLOWUP_SOURCE, change.key, change.op, change.fingerprint, stamp
        ).to_kafka()
        value = encode_change(change.op, change.before, change.after, changed)
        out.append(OutRecord(topic, key, value, headers))
        if change.op is Op.DELETED:
            out.append(OutRecord(topic, key, None, []))
    return out


def _commit(
    engine: sa.Engine, snapshot: Snapshot, batch: Sequence[_Change], lease: Lease | None
) -> None:
    p = followup_published.c
    upserts = [
        {
            "tenant": snapshot.tenant,
            "record": c.record,
            "key": c.key,
            "fingerprint": c.fingerprint,
            "payload": c.after,
            "as_of": snapshot.as_of,
        }
        for c in batch
        if c.op is not Op.DELETED
    ]
    with engine.begin() as conn:
        if lease is not None:
            lease.fence(conn)
        if upserts:
            conn.execute(upsert(engine, followup_published), upserts)
        for c in batch:
            if c.op is Op.DELETED:
                conn.execute(
                    followup_published.delete().where(
                        p.tenant == snapshot.tenant, p.record == c.record, p.key == c.key
                    )
                )
        # Rows that did not change still belong to this snapshot now.
        conn.execute(
            followup_published.update()
            .where(p.tenant == snapshot.tenant)
            .values(as_of=snapshot.as_of)
        )
