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
from datetime import datetime, timedelta
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
from hub.leases import Lease, LeaseHeld, LeaseLost, lease_ttl
from hub.logging import scrub
from hub.settings import HubSettings, SettingsError, TenantSettings
from hub.sources import build_source
from hub.store import DEAD_LETTER, Approval, Known, Staged, StateStore, now
from schemas.entities import Entity
from schemas.envelope import CloudEventHeaders, Op, RecordKey, encode_change, event_id

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
    records_read: int = 0
    created: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    dead_lettered: int = 0
    #: Dead letters not sent again: the same bad record was dead-lettered by an earlier run.
    dead_letters_repeated: int = 0
    planned_deletes: int = 0
    #: Unseen keys not deleted: an offset-paged read could not confirm them yet, or a
    #: dead-lettered record without a key made the read's deletions of its type unsafe.
    deletes_withheld: int = 0
    entities_before: int = 0
    #: Events a dead earlier run got onto Kafka without committing them, committed by this run.
    recovered: int = 0
    duration_seconds: float = 0.0
    error: str | None = None
    #: The source's notes (`Source.notes`): what it does not offer, what its read found.
    notes: list[str] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)
    phase: str = field(default="reading", repr=False)

    @property
    def published(self) -> int:
        """Change events published (tombstones not counted)."""
        return self.created + self.updated + self.deleted if self.status == "success" else 0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        data = asdict(self)
        data.pop("phase")
        return data


class DeletionGuardTripped(Exception):
    """The run would delete more than the tenant allows; nothing was published."""


#: How much earlier than its period a periodic full read counts as due. Scheduled runs a
#: period apart begin within a few minutes of each other, either way (the sync DAGs look
#: every five minutes): measured to the second, a daily full read on a daily schedule
#: would come every other day.
FULL_READ_SLACK = timedelta(minutes=5)


def full_read_due(last_full: datetime, every: timedelta, at: datetime) -> bool:
    """Whether a source's periodic full read is due at `at`, its last having begun at `last_full`.

    Due once `every` has passed, less `FULL_READ_SLACK` (at most a tenth of `every`).
    """
    return at - last_full >= every - min(FULL_READ_SLACK, every / 10)


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
        """Sync one source of one tenant; never raises for anything the source or Kafka does.

        The run holds the source's lease from before it reads until its last commit; a
        second run of the same source meanwhile ends at once as `skipped`.
        """
        tenant = self.settings.tenant(tenant_id)
        run_id = uuid.uuid4().hex
        report = SyncReport(tenant=tenant_id, source=source_id, run_id=run_id)
        started = time.monotonic()
        structlog.contextvars.bind_contextvars(tenant=tenant_id, source=source_id, run_id=run_id)
        lease = Lease(self.store.engine, f"sync:{tenant_id}:{source_id}", lease_ttl())
        try:
            lease.acquire()
        except LeaseHeld as exc:
            report.status, report.error = "skipped", f"another run is syncing this source: {exc}"
            report.duration_seconds = round(time.monotonic() - started, 3)
            log.warning(
                "sync_skipped",
                holder=exc.info.holder,
                since=exc.info.acquired_at.isoformat(),
            )
            structlog.contextvars.unbind_contextvars("tenant", "source", "run_id")
            return report
        try:
            self._run(tenant, report, source, full, approve_deletes, approved_by, lease, started)
        finally:
            lease.release()
            structlog.contextvars.unbind_contextvars("tenant", "source", "run_id")
        return report

    def _run(
        self,
        tenant: TenantSettings,
        report: SyncReport,
        source: Source | None,
        full: bool | None,
        approve_deletes: bool,
        approved_by: str | None,
        lease: Lease,
        started: float,
    ) -> None:
        self.store.begin_run(
            report.run_id, report.tenant, report.source, full is not False, lease.holder
        )
        try:
            if source is None:
                source = build_source(tenant, tenant.source(report.source))
            with source:
                self._recover(source, report, lease)
                is_full = report.full = self._decide_full(source, tenant, report.source, full)
                log.info("sync_started", full=is_full)
                try:
                    self._read(source, report, tenant, is_full, lease)
                finally:
                    report.notes = list(source.notes)
            fault_point("after_read")
            approval = self._guard(tenant, report, approve_deletes, lease)
            self._publish(source, report, tenant, lease)
            self.store.save_bookmarks(
                report.tenant, report.source, source.bookmarks, fence=lease.fence
            )
            report.status = "success"
            if approval is not None:
                approved_by = approval.approved_by
            elif approve_deletes and report.planned_deletes:
                approved_by = approved_by or getpass.getuser()
        except DeletionGuardTripped as exc:
            report.status, report.error = "held", str(exc)
            self.store.hold_plan(report.run_id, fence=lease.fence)
            log.warning(
                "deletion_guard_tripped",
                planned_deletes=report.planned_deletes,
                entities_before=report.entities_before,
            )
        except (ConnectorError, PublishError, SettingsError, _DeadLetterLimit, LeaseLost) as exc:
            report.status, report.error = "failed", scrub(str(exc))
            log.error("sync_failed", error=report.error, error_type=type(exc).__name__)
        except Exception as exc:  # a defect: this source fails, every other source still runs
            report.status = "failed"
            report.error = f"unexpected {type(exc).__name__}: {scrub(str(exc))}"
            log.exception("sync_crashed", error_type=type(exc).__name__)
        finally:
            report.duration_seconds = round(time.monotonic() - started, 3)
            self._finish(report, approved_by if report.status == "success" else None)

    def _decide_full(
        self, source: Source, tenant: TenantSettings, source_id: str, requested: bool | None
    ) -> bool:
        """Full unless the source reads incrementally, has bookmarks, and is not due a full run.

        A full run is due when the source's `full_sync_every` has passed since the last
        successful full run, or when it had `full_sync_every_runs` successful incremental
        runs since; it reconciles, deleting what vanished without a trace.
        """
        if not source.supports_incremental:
            source.full_snapshot = True if requested is None else requested
            return source.full_snapshot
        source.bookmarks = self.store.bookmarks(tenant.id, source_id)
        if requested is None:
            settings = tenant.source(source_id)
            every = getattr(settings, "full_sync_every", None)
            every_runs = getattr(settings, "full_sync_every_runs", None)
            last = self.store.last_full_success(tenant.id, source_id)
            requested = (
                not source.bookmarks
                or last is None
                or (every is not None and full_read_due(last, every, now()))
                or (
                    every_runs is not None
                    and self.store.incremental_runs_since(tenant.id, source_id, last) >= every_runs
                )
            )
        if requested:
            source.bookmarks = {}
        source.full_snapshot = requested
        return requested

    # -- phases -------------------------------------------------------------------------

    def _recover(self, source: Source, report: SyncReport, lease: Lease) -> None:
        """Settle what earlier runs of this source left in doubt, from what Kafka holds.

        A run that died (or failed) while publishing may have put some of its staged
        events on Kafka without committing them. Before it published, it noted where each
        of its topics' partitions ended (`publish_marks`). The events after those marks
        tell exactly which of its changes landed: those are committed to the state as
        published; the rest never reached a consumer and are dropped, so this run's read
        diffs against what consumers really have. Nothing is published twice, and a stale
        change (a delete the source no longer means) is never sent. A run that died before
        publishing published nothing: its staging is dropped.
        """
        for dead in self.store.in_doubt_runs(report.tenant, report.source, report.run_id):
            marks = self.store.publish_marks(dead.run_id)
            landed = 0
            if dead.phase == "publishing" and marks:
                on_kafka = self.publisher.event_ids_since(marks)
                for batch in self.store.staged(dead.run_id, self.settings.kafka.batch_size):
                    rows = [
                        r
                        for r in batch
                        if r.op != DEAD_LETTER and _event_id(report.tenant, source, r) in on_kafka
                    ]
                    if rows:
                        self.store.apply(
                            dead.run_id, report.tenant, report.source, rows, fence=lease.fence
                        )
                    landed += len(rows)
            report.recovered += landed
            self.store.close_dead_run(
                dead.run_id,
                f"ended while {dead.phase}; run {report.run_id} found {landed} of its events "
                "on Kafka and committed them",
            )
            log.warning(
                "dead_run_settled",
                dead_run=dead.run_id,
                dead_holder=dead.holder,
                phase=dead.phase,
                events_found_on_kafka=landed,
            )

    def _read(
        self, source: Source, report: SyncReport, tenant: TenantSettings, full: bool, lease: Lease
    ) -> None:
        seq = 0
        batch: list[Entity] = []
        seen_types: dict[str, type[Entity]] = {t.entity: t for t in source.entity_types}
        staged: list[Staged] = []
        #: Keys of dead-lettered records: neither they nor links naming them are deleted.
        rejected_keys: set[str] = set()
        #: Entity types with a dead letter whose key is unknown: no deletions of that type.
        unsafe: set[str] = set()
        # The keys seen feed the sweep of a full read. A full read of a source the store
        # holds nothing of (a first sync; read after recovery, under the lease) has nothing
        # to sweep, so its keys are not written (offset-paged sources keep them: misses).
        track_seen = (
            not full
            or bool(source.offset_paged)
            or (self.store.count(report.tenant, report.source) > 0)
        )

        def flush() -> None:
            nonlocal seq, staged
            by_type: dict[str, list[Entity]] = {}
            for entity in batch:
                by_type.setdefault(entity.entity, []).append(entity)
            seen: list[tuple[str, str]] = []
            for name, entities in by_type.items():
                keys = [e.key for e in entities]
                known = self.store.lookup(report.tenant, report.source, name, keys)
                if track_seen:
                    seen.extend((name, key) for key in keys)
                for entity in entities:
                    row = stage_change(entity, known.get(entity.key), seq)
                    _count(report, row)
                    if row is not None:
                        staged.append(row)
                        seq += 1
            self.store.stage(report.run_id, staged, seen)
            batch.clear()
            staged = []

        for item in source.read():
            report.records_read += 1
            if isinstance(item, Rejected):
                staged.append(stage_dead_letter(item, seq))
                report.dead_lettered += 1
                seq += 1
                if item.key:
                    rejected_keys.add(item.key)
                    self.store.stage(report.run_id, (), [(item.entity, item.key)])
                else:
                    unsafe.add(item.entity)
            elif isinstance(item, Removed):
                known = self.store.lookup(
                    report.tenant, report.source, item.entity_type.entity, [item.key]
                ).get(item.key)
                # Marked seen, so a full run's sweep does not stage the delete a second time.
                self.store.stage(report.run_id, (), [(item.entity_type.entity, item.key)])
                if known is not None and known.live:
                    staged.append(self._delete(item.entity_type.entity, item.key, known, seq))
                    seq += 1
                    report.planned_deletes += 1
            else:
                seen_types.setdefault(item.entity, type(item))
                batch.append(item)
            if len(batch) >= self.STAGE_BATCH or len(staged) >= self.STAGE_BATCH:
                flush()
                lease.check()
                self._tick("read", report.records_read)
        flush()
        self._tick("read", report.records_read)
        log.info("source_read", records=report.records_read)
        if not full and source.full_snapshot:
            # The source could not read incrementally and read in full (OS2skoledata's 409).
            full = report.full = True
            log.info("sync_read_in_full", reason="the source fell back to a full read")
        if full:
            unsafe |= source.not_read  # a stream the source did not offer is no deletion
            self._sweep(source, report, tenant, seen_types, rejected_keys, unsafe, seq)

    def _sweep(
        self,
        source: Source,
        report: SyncReport,
        tenant: TenantSettings,
        types: dict[str, type[Entity]],
        rejected_keys: set[str],
        unsafe: set[str],
        seq: int,
    ) -> int:
        """Stage a delete for every known entity a full read did not see, where that is safe.

        Not deleted: the key of a dead-lettered record and links that name it (a record
        that turned malformed is still at the source); every entity of a type with a dead
        letter whose key is unknown; and, for offset-paged types, an unseen key the source
        has not confirmed gone (by a lookup, or by `offset_read_confirmations` misses).
        """
        for name, entity_type in types.items():
            if name in unsafe:
                withheld = sum(
                    1 for _ in self.store.unseen(report.run_id, report.tenant, report.source, name)
                )
                report.deletes_withheld += withheld
                log.warning(
                    "deletes_withheld",
                    entity=name,
                    unseen=withheld,
                    reason="not offered by the source this run"
                    if name in source.not_read
                    else "dead letter without a key",
                )
                continue
            candidates: list[tuple[str, Known]] = []
            for key, known in self.store.unseen(report.run_id, report.tenant, report.source, name):
                if key in rejected_keys or any(p in rejected_keys for p in key.split("|")):
                    continue
                candidates.append((key, known))
                if len(candidates) >= self.STAGE_BATCH:
                    seq = self._stage_deletes(source, report, tenant, entity_type, candidates, seq)
                    candidates = []
            seq = self._stage_deletes(source, report, tenant, entity_type, candidates, seq)
            if name in source.offset_paged:
                self.store.forget_misses(report.run_id, report.tenant, report.source, name)
        return seq

    def _stage_deletes(
        self,
        source: Source,
        report: SyncReport,
        tenant: TenantSettings,
        entity_type: type[Entity],
        rows: list[tuple[str, Known]],
        seq: int,
    ) -> int:
        """Stage the deletes of the unseen `rows` that may be deleted; return the next seq."""
        confirmed = self._confirmed(source, report, tenant, entity_type, rows)
        deletes = []
        for key, known in rows:
            if key in confirmed:
                deletes.append(self._delete(entity_type.entity, key, known, seq))
                seq += 1
        self.store.stage(report.run_id, deletes, ())
        report.planned_deletes += len(deletes)
        report.deletes_withheld += len(rows) - len(deletes)
        return seq

    def _confirmed(
        self,
        source: Source,
        report: SyncReport,
        tenant: TenantSettings,
        entity_type: type[Entity],
        rows: list[tuple[str, Known]],
    ) -> set[str]:
        """Which unseen keys may be deleted: all, unless the read paged by offset."""
        keys = [key for key, _ in rows]
        if entity_type.entity not in source.offset_paged or not keys:
            return set(keys)
        gone = source.confirm_gone(entity_type, keys)
        if gone is not None:
            alive = [k for k in keys if k not in gone]
            if alive:
                log.warning("unseen_keys_alive", entity=entity_type.entity, keys=len(alive))
                self.store.forget_misses(
                    report.run_id, report.tenant, report.source, entity_type.entity, alive
                )
            return set(gone) & set(keys)
        misses = self.store.count_misses(report.tenant, report.source, entity_type.entity, keys)
        return {k for k, n in misses.items() if n >= tenant.offset_read_confirmations}

    @staticmethod
    def _delete(entity: str, key: str, known: Known, seq: int) -> Staged:
        return Staged(
            seq,
            entity,
            key,
            "d",
            known.fingerprint or "",
            None,
            known.payload,
            (),
            None,
            known.version + 1,
        )

    def _guard(
        self, tenant: TenantSettings, report: SyncReport, approved: bool, lease: Lease
    ) -> Approval | None:
        """Hold a run that deletes too much, unless it was approved.

        Approval comes from the caller (`--approve-deletes`, for this run only) or from an
        operator's stored approval of an earlier held run (the Airflow run overview). A
        stored approval covers that run's planned deletions and no others, lapses after
        the tenant's `approval_ttl_hours`, is used by one run only, and is withdrawn by a
        run that needs none (its plan no longer describes the source).
        """
        report.entities_before = self.store.count(report.tenant, report.source)
        # Counted as staged: a run's `created` etc. become final only once published.
        guard = tenant.deletion_guard
        share = report.planned_deletes / report.entities_before if report.entities_before else 0
        if approved:
            return None
        if report.planned_deletes <= guard.max_deletes and share <= guard.max_share:
            if self.store.withdraw_approvals(report.tenant, report.source, report.run_id):
                log.info("approvals_withdrawn", reason="this run needed no approval")
            return None
        since = now() - timedelta(hours=tenant.approval_ttl_hours)
        stored = self.store.open_approval(report.tenant, report.source, since)
        covers = ""
        if stored is not None:
            unplanned = self.store.unplanned_deletes(report.run_id, stored)
            if unplanned == 0 and self.store.claim_approval(stored, report.run_id, lease.fence):
                log.info(
                    "deletions_approved",
                    approved_by=stored.approved_by,
                    held_run=stored.run_id,
                    planned_deletes=report.planned_deletes,
                )
                return stored
            covers = (
                f"; {stored.approved_by}'s approval of run {stored.run_id} covers "
                f"{stored.planned_deletes} planned deletions, and {unplanned} of this run's "
                "are not among them"
            )
        raise DeletionGuardTripped(
            f"would delete {report.planned_deletes} of {report.entities_before} entities "
            f"({share:.0%}); the limit is {guard.max_deletes} or {guard.max_share:.0%}{covers}. "
            f"Approve the held run in the Skolehub run overview in Airflow, or run "
            f"`hub sync {report.tenant} {report.source} --approve-deletes`"
        )

    def _publish(
        self, source: Source, report: SyncReport, tenant: TenantSettings, lease: Lease
    ) -> None:
        read = report.records_read
        share = report.dead_lettered / read if read else 0.0
        letters_only = (
            read >= tenant.dead_letter_min_records and share > tenant.max_dead_letter_share
        )
        if letters_only:
            self.store.discard_staged(report.run_id, keep_op=DEAD_LETTER)
        topics = sorted(
            {entity_topic(self.settings.kafka.topic_prefix, t) for t in source.entity_types}
        )
        # Where the topics end before this run publishes: should it die, the next run reads
        # from here to find which of its events landed.
        self.store.save_publish_marks(report.run_id, self.publisher.end_offsets(topics))
        self.store.set_phase(report.run_id, "publishing", fence=lease.fence)
        report.phase = "publishing"
        self._publish_staged(report.run_id, source, report, lease)
        report.topics = topics
        log.info(
            "events_published",
            created=report.created,
            updated=report.updated,
            deleted=report.planned_deletes,
            dead_lettered=report.dead_lettered,
            dead_letters_repeated=report.dead_letters_repeated,
        )
        if letters_only:
            raise _DeadLetterLimit(
                f"{report.dead_lettered} of {read} records read were dead-lettered "
                f"({share:.1%}), over the tenant's limit of {tenant.max_dead_letter_share:.1%}; "
                "only the dead letters were published"
            )
        report.deleted = report.planned_deletes

    def _publish_staged(self, run_id: str, source: Source, report: SyncReport, lease: Lease) -> int:
        """Publish a run's staged rows in order, committing each batch once acknowledged.

        A dead letter identical to the one last published for its record is not sent
        again. Returns how many staged rows were settled.
        """
        settled = 0
        for batch in self.store.staged(run_id, self.settings.kafka.batch_size):
            letters = [(r.entity, r.key) for r in batch if r.op == DEAD_LETTER]
            marks = self.store.dead_letter_marks(report.tenant, report.source, letters)
            fresh = [
                r
                for r in batch
                if r.op != DEAD_LETTER or marks.get((r.entity, r.key)) != r.fingerprint
            ]
            report.dead_letters_repeated += len(batch) - len(fresh)
            records = out_records(
                fresh,
                prefix=self.settings.kafka.topic_prefix,
                tenant=report.tenant,
                run_id=report.run_id,
                source=source,
            )
            self.publisher.publish(list(records))
            fault_point("after_ack")
            self.store.apply(run_id, report.tenant, report.source, batch, fence=lease.fence)
            settled += len(batch)
            self._tick("published", settled)
        return settled

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
            "phase": "done" if report.status == "success" else report.phase,
        }
        # A run that failed while publishing keeps what it staged: the next run republishes it.
        in_doubt = report.status != "success" and report.phase == "publishing"
        try:
            self.store.finish_run(
                report.run_id,
                report.status,
                keep_staged=in_doubt,
                approved_by=approved_by,
                **counts,
            )
        except Exception:  # the run itself is what the caller needs to hear about
            log.exception("run_record_failed")
        log.info("sync_finished", status=report.status, **{k: v for k, v in counts.items()})

    def _tick(self, what: str, count: int) -> None:
        if self.progress is not None:
            self.progress(what, count)


# -- staging and encoding: what becomes of one item (the fuzz suite runs these too) ------


def stage_change(entity: Entity, known: Known | None, seq: int) -> Staged | None:
    """The staged change of one entity against what the store knows; None when unchanged.

    An entity whose text cannot be encoded as UTF-8 (which validation should already have
    refused) becomes a dead letter naming its key, never an exception.
    """
    try:
        payload = entity.model_dump(mode="json")
        print_ = fingerprint(payload)
        body = json.dumps(payload, ensure_ascii=False)
        body.encode("utf-8")  # a lone surrogate fails here, not later at publishing
    except (UnicodeError, ValueError, TypeError, RecursionError) as exc:
        problem = (
            "text that cannot be encoded as UTF-8 (a lone surrogate?)"
            if isinstance(exc, UnicodeError)
            else f"a value that cannot be encoded ({type(exc).__name__})"
        )
        rejected = Rejected(
            entity=entity.entity,
            record_ref=entity.key,
            reason=f"{entity.entity} {entity.key}: {problem}",
            payload={"key": entity.key},
            key=entity.key,
        )
        return stage_dead_letter(rejected, seq)
    version = (known.version if known is not None else 0) + 1
    # Version 0: state from before the v2 topics, never published there: a create.
    if known is None or not known.live or known.version == 0:
        return Staged(seq, entity.entity, entity.key, "c", print_, body, None, (), None, version)
    if known.fingerprint == print_:
        return None
    before = json.loads(known.payload or "null")
    return Staged(
        seq,
        entity.entity,
        entity.key,
        "u",
        print_,
        body,
        known.payload,
        changed_fields(before, payload),
        None,
        version,
    )


def stage_dead_letter(item: Rejected, seq: int) -> Staged:
    """The staged dead letter of a rejected record (already scrubbed by `Rejected`)."""
    # ASCII-escaped: whatever the record held, the value is valid JSON bytes.
    body = json.dumps(item.payload, sort_keys=True)
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


def _count(report: SyncReport, row: Staged | None) -> None:
    if row is None:
        report.unchanged += 1
    elif row.op == "c":
        report.created += 1
    elif row.op == "u":
        report.updated += 1
    else:
        report.dead_lettered += 1


def out_records(
    batch: Sequence[Staged], *, prefix: str, tenant: str, run_id: str, source: Source
) -> Iterator[OutRecord]:
    """The Kafka records of staged rows: change events (and tombstones) or dead letters."""
    stamp = now()
    types = {t.entity: t for t in source.entity_types}
    instance = source.ref.instance
    origin = f"/tenants/{tenant}/{source.ref.system}/{instance}"
    for row in batch:
        key = str(RecordKey(tenant, instance, row.entity, row.key))
        if row.op == DEAD_LETTER:
            yield OutRecord(
                topic=dead_letter_topic(prefix),
                key=key,
                value=(row.after or "{}").encode("utf-8"),
                headers=[
                    ("dlq_error", _header(row.reason or "")),
                    ("dlq_source", _header(origin)),
                    ("dlq_run_id", run_id.encode()),
                    ("dlq_entity", _header(row.entity)),
                    ("dlq_record_ref", _header(row.key)),
                    ("content-type", b"application/json"),
                ],
            )
            continue
        op = Op(row.op)
        entity_type = types[row.entity]
        headers = CloudEventHeaders.for_key(
            entity_type, tenant, source.ref, row.key, op, row.fingerprint, stamp, row.version
        )
        topic = entity_topic(prefix, entity_type)
        # The staged JSON was produced from a validated entity: the codec embeds it as it is.
        value = encode_change(op, row.before, row.after, row.changed)
        yield OutRecord(topic, key, value, headers.to_kafka())
        if op is Op.DELETED:
            yield OutRecord(topic, key, None, [])


def _event_id(tenant: str, source: Source, row: Staged) -> str:
    return event_id(
        tenant, source.ref, row.entity, row.key, Op(row.op), row.fingerprint, row.version
    )


def _header(text: str) -> bytes:
    """A header value as UTF-8; characters that cannot be encoded are escaped, not fatal."""
    return text.encode("utf-8", errors="backslashreplace")


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
            try:
                report = runner.sync(
                    tenant_id, source_id, full=full, approve_deletes=approve_deletes
                )
            except Exception as exc:  # one source's defect never stops the sources after it
                log.exception("sync_crashed", tenant=tenant_id, source=source_id)
                report = SyncReport(
                    tenant=tenant_id,
                    source=source_id,
                    run_id="",
                    status="failed",
                    error=f"unexpected {type(exc).__name__}: {scrub(str(exc))}",
                )
            reports.append(report)
            done = getattr(ticker, "done", None)
            if done is not None:
                done()
    finally:
        publisher.close()
        store.close()
    return reports
