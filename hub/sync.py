"""The sync runner: read a source, diff it against the state store, publish, then commit.

1. Read: every entity is fingerprinted (canonical JSON, sha256) and compared with the
   store; changes are staged in the store, and every key seen is remembered.
2. A full read also stages a delete for every known entity it did not see.
3. Guards: a run that would delete more than the tenant allows is held (nothing is
   published); a run whose dead-letter share is over the limit publishes only its
   dead letters and fails.
4. Publish: staged rows go to Kafka a batch at a time (acks=all, idempotent producer);
   a batch's state is committed only after all of it was acknowledged. Event ids are
   deterministic, so a batch republished after a crash carries the same ids.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import structlog

from connectors.base import Rejected, Removed, Source
from connectors.errors import ConnectorError
from hub._faults import fault_point
from hub.kafka_io import (
    OutRecord,
    Publisher,
    PublishError,
    dead_letter_topic,
    dumps,
    ensure_topics,
    entity_topic,
)
from hub.settings import HubSettings, SettingsError, TenantSettings
from hub.sources import build_source
from hub.store import DEAD_LETTER, Approval, Known, Staged, StateStore, now
from schemas.entities import Entity
from schemas.envelope import CloudEventHeaders, Op

log = structlog.get_logger(__name__)

#: Fields left out of the fingerprint: a new modification stamp alone is not a change.
NOT_FINGERPRINTED = frozenset({"source_modified"})

Progress = Callable[[str, int], None]


def fingerprint(payload: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of an entity's payload, without `NOT_FINGERPRINTED`."""
    material = {k: v for k, v in payload.items() if k not in NOT_FINGERPRINTED}
    return hashlib.sha256(dumps(material)).hexdigest()


def changed_fields(before: dict[str, Any], after: dict[str, Any]) -> tuple[str, ...]:
    """The entity fields whose values differ, sorted."""
    names = (set(before) | set(after)) - NOT_FINGERPRINTED
    return tuple(sorted(n for n in names if before.get(n) != after.get(n)))


@dataclass
class SyncReport:
    """What one sync of one source did; the CLI and the DAGs print and return it."""

    tenant: str
    source: str
    run_id: str
    status: str = "running"
    full: bool = True
    created: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    dead_lettered: int = 0
    planned_deletes: int = 0
    entities_before: int = 0
    duration_seconds: float = 0.0
    error: str | None = None
    topics: list[str] = field(default_factory=list)

    @property
    def published(self) -> int:
        """Change events published (tombstones not counted)."""
        return self.created + self.updated + self.deleted if self.status == "success" else 0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


class DeletionGuardTripped(Exception):
    """The run would delete more than the tenant allows; nothing was published."""


class SyncRunner:
    """Runs syncs against one state store and one Kafka cluster."""

    STAGE_BATCH = 1_000

    def __init__(
        self,
        settings: HubSettings,
        store: StateStore,
        publisher: Publisher,
        progress: Progress | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.publisher = publisher
        self.progress = progress

    def sync(
        self,
        tenant_id: str,
        source_id: str,
        *,
        full: bool | None = None,
        approve_deletes: bool = False,
        approved_by: str | None = None,
        source: Source | None = None,
    ) -> SyncReport:
        """Sync one source of one tenant; never raises for source or Kafka failures."""
        tenant = self.settings.tenant(tenant_id)
        run_id = uuid.uuid4().hex
        report = SyncReport(tenant=tenant_id, source=source_id, run_id=run_id)
        started = time.monotonic()
        structlog.contextvars.bind_contextvars(tenant=tenant_id, source=source_id, run_id=run_id)
        self.store.begin_run(run_id, tenant_id, source_id, full is not False)
        try:
            if source is None:
                source = build_source(tenant, tenant.source(source_id))
            is_full = report.full = self._decide_full(source, tenant, source_id, full)
            log.info("sync_started", full=is_full)
            with source:
                self._read(source, report, is_full)
            fault_point("after_read")
            approval = self._guard(tenant, report, approve_deletes)
            self._publish(source, report, tenant)
            self.store.save_bookmarks(tenant_id, source_id, source.bookmarks)
            report.status = "success"
            if approval is not None:
                self.store.use_approval(approval, run_id)
                approved_by = approval.approved_by
            elif approve_deletes and report.planned_deletes:
                approved_by = approved_by or getpass.getuser()
        except DeletionGuardTripped as exc:
            report.status, report.error = "held", str(exc)
            log.warning(
                "deletion_guard_tripped",
                planned_deletes=report.planned_deletes,
                entities_before=report.entities_before,
            )
        except (ConnectorError, PublishError, SettingsError, _DeadLetterLimit) as exc:
            report.status, report.error = "failed", str(exc)
            log.error("sync_failed", error=str(exc), error_type=type(exc).__name__)
        except Exception as exc:
            report.status, report.error = "failed", f"{type(exc).__name__}: {exc}"
            log.exception("sync_crashed")
            raise
        finally:
            report.duration_seconds = round(time.monotonic() - started, 3)
            self._finish(report, approved_by if report.status == "success" else None)
            structlog.contextvars.unbind_contextvars("tenant", "source", "run_id")
        return report

    def _decide_full(
        self, source: Source, tenant: TenantSettings, source_id: str, requested: bool | None
    ) -> bool:
        """Full unless the source reads incrementally, has bookmarks, and is not due a full run.

        A full run is due when the source's `full_sync_every` has passed since the last
        successful full run; it reconciles, deleting what vanished without a trace.
        """
        if not source.supports_incremental:
            source.full_snapshot = True if requested is None else requested
            return source.full_snapshot
        source.bookmarks = self.store.bookmarks(tenant.id, source_id)
        if requested is None:
            every = getattr(tenant.source(source_id), "full_sync_every", None)
            last = self.store.last_full_success(tenant.id, source_id)
            requested = (
                not source.bookmarks
                or last is None
                or (every is not None and now() - last >= every)
            )
        if requested:
            source.bookmarks = {}
        source.full_snapshot = requested
        return requested

    # -- phases -------------------------------------------------------------------------

    def _read(self, source: Source, report: SyncReport, full: bool) -> None:
        seq = 0
        batch: list[Entity] = []
        seen_types: dict[str, type[Entity]] = {t.entity: t for t in source.entity_types}
        staged: list[Staged] = []
        read = 0

        def flush() -> None:
            nonlocal seq, staged
            by_type: dict[str, list[Entity]] = {}
            for entity in batch:
                by_type.setdefault(entity.entity, []).append(entity)
            seen = []
            for name, entities in by_type.items():
                known = self.store.lookup(
                    report.tenant, report.source, name, [e.key for e in entities]
                )
                for entity in entities:
                    seen.append((name, entity.key))
                    row = self._diff(entity, known.get(entity.key), seq, report)
                    if row is not None:
                        staged.append(row)
                        seq += 1
            self.store.stage(report.run_id, staged, seen)
            batch.clear()
            staged = []

        for item in source.read():
            read += 1
            if isinstance(item, Rejected):
                staged.append(self._dead_letter(item, seq, report))
                seq += 1
            elif isinstance(item, Removed):
                known = self.store.lookup(
                    report.tenant, report.source, item.entity_type.entity, [item.key]
                )
                # Marked seen, so a full run's sweep does not stage the delete a second time.
                self.store.stage(report.run_id, (), [(item.entity_type.entity, item.key)])
                if item.key in known:
                    staged.append(
                        self._delete(item.entity_type.entity, item.key, known[item.key], seq)
                    )
                    seq += 1
                    report.planned_deletes += 1
            else:
                seen_types.setdefault(item.entity, type(item))
                batch.append(item)
            if len(batch) >= self.STAGE_BATCH or len(staged) >= self.STAGE_BATCH:
                flush()
                self._tick("read", read)
        flush()
        self._tick("read", read)
        log.info("source_read", records=read)

        if full:
            deletes: list[Staged] = []
            for name in seen_types:
                for key, known_row in self.store.unseen(
                    report.run_id, report.tenant, report.source, name
                ):
                    deletes.append(self._delete(name, key, known_row, seq))
                    seq += 1
                    if len(deletes) >= self.STAGE_BATCH:
                        self.store.stage(report.run_id, deletes, ())
                        report.planned_deletes += len(deletes)
                        deletes = []
            self.store.stage(report.run_id, deletes, ())
            report.planned_deletes += len(deletes)

    def _diff(
        self, entity: Entity, known: Known | None, seq: int, report: SyncReport
    ) -> Staged | None:
        payload = entity.model_dump(mode="json")
        print_ = fingerprint(payload)
        if known is None:
            report.created += 1
            return Staged(
                seq, entity.entity, entity.key, "c", print_, json.dumps(payload), None, ()
            )
        if known.fingerprint == print_:
            report.unchanged += 1
            return None
        report.updated += 1
        before = json.loads(known.payload)
        return Staged(
            seq,
            entity.entity,
            entity.key,
            "u",
            print_,
            json.dumps(payload),
            known.payload,
            changed_fields(before, payload),
        )

    @staticmethod
    def _delete(entity: str, key: str, known: Known, seq: int) -> Staged:
        return Staged(seq, entity, key, "d", known.fingerprint, None, known.payload, ())

    @staticmethod
    def _dead_letter(item: Rejected, seq: int, report: SyncReport) -> Staged:
        report.dead_lettered += 1
        body = json.dumps(item.payload, sort_keys=True, ensure_ascii=False)
        return Staged(
            seq,
            item.entity,
            item.record_ref,
            DEAD_LETTER,
            hashlib.sha256(body.encode()).hexdigest(),
            body,
            None,
            (),
            item.reason,
        )

    def _guard(self, tenant: TenantSettings, report: SyncReport, approved: bool) -> Approval | None:
        """Hold a run that deletes too much, unless it was approved.

        Approval comes from the caller (`--approve-deletes`) or from an operator's stored
        approval of the held run before this one (the Airflow run overview), which covers
        up to the deletions that run planned; the stored approval is returned to be used up.
        """
        report.entities_before = self.store.count(report.tenant, report.source)
        # Counted as staged: a run's `created` etc. become final only once published.
        guard = tenant.deletion_guard
        share = report.planned_deletes / report.entities_before if report.entities_before else 0
        if approved or (report.planned_deletes <= guard.max_deletes and share <= guard.max_share):
            return None
        stored = self.store.open_approval(report.tenant, report.source)
        if stored is not None and report.planned_deletes <= stored.planned_deletes:
            log.info(
                "deletions_approved",
                approved_by=stored.approved_by,
                held_run=stored.run_id,
                planned_deletes=report.planned_deletes,
            )
            return stored
        covers = (
            f"; {stored.approved_by}'s approval covers only {stored.planned_deletes}"
            if stored is not None
            else ""
        )
        raise DeletionGuardTripped(
            f"would delete {report.planned_deletes} of {report.entities_before} entities "
            f"({share:.0%}); the limit is {guard.max_deletes} or {guard.max_share:.0%}{covers}. "
            f"Approve the held run in the Skolehub run overview in Airflow, or run "
            f"`hub sync {report.tenant} {report.source} --approve-deletes`"
        )

    def _publish(self, source: Source, report: SyncReport, tenant: TenantSettings) -> None:
        total = report.created + report.updated + report.unchanged + report.dead_lettered
        share = report.dead_lettered / total if total else 0.0
        letters_only = share > tenant.max_dead_letter_share
        prefix = self.settings.kafka.topic_prefix
        topics = {t.entity: entity_topic(prefix, t) for t in source.entity_types}
        published = 0
        for batch in self.store.staged(report.run_id, self.settings.kafka.batch_size):
            if letters_only:
                batch = [row for row in batch if row.op == DEAD_LETTER]
                if not batch:
                    continue
            records = list(self._records(batch, source, report, topics))
            self.publisher.publish(records)
            fault_point("after_ack")
            self.store.apply(report.run_id, report.tenant, report.source, batch)
            published += len(batch)
            self._tick("published", published)
        report.topics = sorted(set(topics.values()))
        log.info(
            "events_published",
            created=report.created,
            updated=report.updated,
            deleted=report.planned_deletes,
            dead_lettered=report.dead_lettered,
        )
        if letters_only:
            raise _DeadLetterLimit(
                f"{report.dead_lettered} of {total} records were dead-lettered ({share:.1%}), "
                f"over the tenant's limit of {tenant.max_dead_letter_share:.1%}; "
                "only the dead letters were published"
            )
        report.deleted = report.planned_deletes

    def _records(
        self,
        batch: list[Staged],
        source: Source,
        report: SyncReport,
        topics: dict[str, str],
    ) -> Iterator[OutRecord]:
        prefix = self.settings.kafka.topic_prefix
        stamp = now()
        types = {t.entity: t for t in source.entity_types}
        origin = f"/tenants/{report.tenant}/{source.ref.system}/{source.ref.instance}"
        for row in batch:
            if row.op == DEAD_LETTER:
                yield OutRecord(
                    topic=dead_letter_topic(prefix),
                    key=f"{report.tenant}:{row.entity}:{row.key}",
                    value=(row.after or "{}").encode("utf-8"),
                    headers=[
                        ("dlq_error", (row.reason or "").encode()),
                        ("dlq_source", origin.encode()),
                        ("dlq_run_id", report.run_id.encode()),
                        ("dlq_entity", row.entity.encode()),
                        ("dlq_record_ref", row.key.encode()),
                        ("content-type", b"application/json"),
                    ],
                )
                continue
            op = Op(row.op)
            headers = CloudEventHeaders.for_key(
                types[row.entity], report.tenant, source.ref, row.key, op, row.fingerprint, stamp
            )
            key = f"{report.tenant}:{row.entity}:{row.key}"
            # The staged JSON is embedded as it is: it was produced from a validated entity.
            value = (
                f'{{"op":"{op.value}","before":{row.before or "null"},'
                f'"after":{row.after or "null"},"changed":{json.dumps(list(row.changed))}}}'
            ).encode()
            yield OutRecord(topics[row.entity], key, value, headers.to_kafka())
            if op is Op.DELETED:
                yield OutRecord(topics[row.entity], key, None, [])

    def _finish(self, report: SyncReport, approved_by: str | None) -> None:
        counts = {
            "full": report.full,
            "created": report.created if report.status == "success" else 0,
            "updated": report.updated if report.status == "success" else 0,
            "deleted": report.deleted,
            "unchanged": report.unchanged,
            "dead_lettered": report.dead_lettered,
            "planned_deletes": report.planned_deletes,
            "entities_before": report.entities_before,
            "error": report.error,
        }
        try:
            self.store.finish_run(report.run_id, report.status, approved_by=approved_by, **counts)
        except Exception:  # the run itself is what the caller needs to hear about
            log.exception("run_record_failed")
        log.info("sync_finished", status=report.status, **{k: v for k, v in counts.items()})

    def _tick(self, what: str, count: int) -> None:
        if self.progress is not None:
            self.progress(what, count)


class _DeadLetterLimit(Exception):
    """Too large a share of the source's records were dead-lettered."""


class _ProgressFactory(Protocol):
    def __call__(self, label: str) -> Progress: ...


def sync_targets(
    settings: HubSettings,
    targets: Sequence[tuple[str, str]],
    *,
    full: bool | None = None,
    approve_deletes: bool = False,
    progress: _ProgressFactory | None = None,
) -> list[SyncReport]:
    """Create the topics the targets need, then sync each (tenant, source) in turn."""
    from hub.sources import entity_types_of

    types = {
        entity_type
        for tenant_id, source_id in targets
        for entity_type in entity_types_of(settings.tenant(tenant_id).source(source_id))
    }
    ensure_topics(settings.bootstrap, settings.kafka, sorted(types, key=lambda t: t.topic_suffix()))
    store = StateStore(settings.store_url)
    publisher = Publisher(settings.bootstrap, settings.kafka)
    reports = []
    try:
        for tenant_id, source_id in targets:
            ticker = progress(f"{tenant_id}/{source_id}") if progress else None
            runner = SyncRunner(settings, store, publisher, progress=ticker)
            reports.append(
                runner.sync(tenant_id, source_id, full=full, approve_deletes=approve_deletes)
            )
            done = getattr(ticker, "done", None)
            if done is not None:
                done()
    finally:
        publisher.close()
        store.close()
    return reports
