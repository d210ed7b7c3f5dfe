"""What the CLI and the DAGs call: materialise, compile, publish and extract, per tenant.

Everything reads hub.yaml's settings: the reporting store is the state store's database
(`HUB_DATABASE_URL`), the broker `HUB_KAFKA_BOOTSTRAP`, the pseudonym key `HUB_HMAC_KEY`.
Extracts go to `$HUB_VAR_DIR/extracts/<tenant>/<as_of>/` unless told otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import structlog
from kafka.errors import KafkaError

from hub.followup._state import protected_people
from hub.followup.audit import audit_extract
from hub.followup.compile import HistoryError, compile_snapshot, end_of_day
from hub.followup.extract import (
    Extract,
    Verification,
    default_extract_dir,
    verify_extract,
    write_extract,
)
from hub.followup.publish import PublishReport, publish_snapshot
from hub.followup.snapshots import Snapshot, SnapshotStore, SnapshotSummary
from hub.leases import Lease, LeaseHeld, lease_ttl
from hub.materialise import (
    MaterialiseProgress,
    Materialiser,
    history_span,
    prune_history,
    report_history,
)
from hub.settings import HubSettings, TenantSettings, hmac_key, var_dir
from hub.store import StateStore

log = structlog.get_logger(__name__)


def today() -> date:
    """Today in UTC: the default `as_of`."""
    return datetime.now(UTC).date()


def extracts_dir() -> Path:
    """Where extracts go by default."""
    return var_dir() / "extracts"


def _engine(settings: HubSettings) -> tuple[StateStore, sa.Engine]:
    store = StateStore(settings.store_url)
    return store, store.engine


def materialise(settings: HubSettings, group: str | None = None) -> MaterialiseProgress:
    """Consume every entity topic to its end into the reporting store.

    The consumer group is `followup.consumer_group` from hub.yaml unless one is given.
    """
    store, engine = _engine(settings)
    try:
        return Materialiser(
            engine,
            settings.bootstrap,
            settings.kafka.topic_prefix,
            group=group or settings.followup.consumer_group,
            history_days=settings.followup.history_days,
            security=settings.kafka.security,
        ).run()
    finally:
        store.close()


@dataclass
class Rebuilt:
    """What a rebuild of the reporting store read, and the days each tenant can be compiled for."""

    progress: MaterialiseProgress
    #: tenant → (first, last) day its rebuilt history covers.
    days: dict[str, tuple[date, date]]


def rebuild(settings: HubSettings, group: str | None = None) -> Rebuilt:
    """Empty the reporting store's entities, history and offsets, and consume the topics again.

    The history rebuilt is what the topics still hold: a compacted topic keeps each key's
    latest event only, so earlier versions (and entities deleted long ago) do not come
    back, and the rebuilt history is trusted from the newest event read onward
    (docs/followup.md, "History").
    """
    store, engine = _engine(settings)
    group = group or settings.followup.consumer_group
    try:
        materialiser = Materialiser(
            engine,
            settings.bootstrap,
            settings.kafka.topic_prefix,
            group=group,
            history_days=settings.followup.history_days,
            security=settings.kafka.security,
        )
        progress = materialiser.run(empty_first=True)
        # Compaction may have removed any version older than the newest event read, so the
        # rebuilt history is trusted only from there (and days before it are refused).
        h = report_history.c
        with engine.connect() as conn:
            opened, closed = conn.execute(
                sa.select(sa.func.max(h.valid_from), sa.func.max(h.valid_to))
            ).one()
        newest = max((m for m in (opened, closed) if m is not None), default=None)
        if newest is not None:
            prune_history(engine, newest)
        days = {}
        for tenant in settings.tenants:
            span = history_span(engine, tenant.id)
            if span is not None:
                days[tenant.id] = (span[0].date(), span[1].date())
        return Rebuilt(progress, days)
    finally:
        store.close()


@dataclass
class CompileOutcome:
    """What a compile made (its snapshot's summary: the rows are in the store) and published."""

    snapshot: SnapshotSummary
    published: PublishReport | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            "tenant": self.snapshot.tenant,
            "as_of": self.snapshot.as_of.isoformat(),
            "rows": self.snapshot.counts,
            "measures": self.snapshot.measures,
            "baseline_as_of": (self.snapshot.baseline_as_of or self.snapshot.as_of).isoformat(),
            "published": self.published.to_dict() if self.published else None,
        }


def compile_lease_name(tenant_id: str) -> str:
    """The lease one tenant's compile holds from reading the store to its last publish."""
    return f"compile:{tenant_id}"


def compile_tenant(
    settings: HubSettings,
    tenant_id: str,
    as_of: date | None = None,
    *,
    publish: bool = True,
    group: str | None = None,
) -> CompileOutcome:
    """Compile (and publish) one tenant's records from the reporting store as it stands.

    Holds the tenant's compile lease throughout, fencing the snapshot's and every published
    batch's commit; raises `LeaseHeld`, having done nothing, while another process holds it.
    """
    tenant = settings.tenant(tenant_id)
    store, engine = _engine(settings)
    day = as_of or today()
    try:
        with Lease(engine, compile_lease_name(tenant.id), lease_ttl()) as lease:
            compile_measurements(engine, tenant, day, group or settings.followup.consumer_group)
            snapshot = compile_snapshot(
                engine,
                tenant,
                day,
                pseudonym_key=hmac_key(),
                consumer_group=group or settings.followup.consumer_group,
                lease=lease,
            )
            published = (
                publish_snapshot(engine, settings, snapshot, pseudonym_key=hmac_key(), lease=lease)
                if publish
                else None
            )
        return CompileOutcome(snapshot.summary(), published)
    finally:
        store.close()


def compile_measurements(
    engine: sa.Engine, tenant: TenantSettings, until: date, group: str
) -> None:
    """Compile (store only) the policy's measurement days up to `until` not stored yet.

    Each from the history; a day the history does not cover is logged and left out.
    """
    snapshots = SnapshotStore(engine)
    stored = set(snapshots.days(tenant.id))
    for day in sorted(tenant.policy.measurements):
        if day >= until or day in stored:
            continue
        try:
            compile_snapshot(
                engine, tenant, day, pseudonym_key=hmac_key(), consumer_group=group, store=snapshots
            )
        except HistoryError as exc:
            log.warning("measurement_unknowable", tenant=tenant.id, day=str(day), error=str(exc))


def _stored_or_compiled(engine: sa.Engine, tenant: TenantSettings, as_of: date | None) -> Snapshot:
    """The stored snapshot of `as_of` (default: the latest), compiled from the store if none.

    A stored snapshot's rows are read from `engine` when asked for.
    """
    snapshots = SnapshotStore(engine)
    day = as_of
    if day is None:
        days = snapshots.days(tenant.id)
        day = days[-1] if days else today()
    found = snapshots.load(tenant.id, day)
    if found is not None:
        return found
    with Lease(engine, compile_lease_name(tenant.id), lease_ttl()) as lease:
        return compile_snapshot(
            engine, tenant, day, pseudonym_key=hmac_key(), store=snapshots, lease=lease
        )


def extract_tenant(
    settings: HubSettings,
    tenant_id: str,
    as_of: date | None = None,
    *,
    formats: Sequence[str] = ("csv",),
    identified: bool = False,
    out: Path | None = None,
) -> tuple[Extract, Verification]:
    """Write one tenant's extract for `as_of` and verify it against its manifest.

    The rows are read from the store a record type at a time, as the files are written.
    """
    tenant = settings.tenant(tenant_id)
    store, engine = _engine(settings)
    try:
        snapshot = _stored_or_compiled(engine, tenant, as_of)
        folder = out or default_extract_dir(extracts_dir(), tenant.id, snapshot.as_of)
        protected: frozenset[str] = frozenset()
        if identified:
            protected = protected_people(engine, tenant.id, end_of_day(snapshot.as_of))
        extract = write_extract(
            snapshot,
            folder,
            policy=tenant.policy,
            pseudonym_key=hmac_key(),
            formats=formats,
            identified=identified,
            protected=protected,
        )
    finally:
        store.close()
    return extract, verify_extract(folder)


@dataclass
class FollowupResult:
    """One tenant's part of `hub run`: compile, publish, extract, verify, audit."""

    tenant: str
    status: str = "success"
    outcome: CompileOutcome | None = None
    extract: Path | None = None
    verified: bool = False
    #: The extract was audited and no hidden cell can be worked out from it.
    audited: bool = False
    problems: list[str] = field(default_factory=list)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            "tenant": self.tenant,
            "status": self.status,
            **(self.outcome.to_dict() if self.outcome else {}),
            "extract": str(self.extract) if self.extract else None,
            "verified": self.verified,
            "audited": self.audited,
            "problems": self.problems,
            "error": self.error,
        }


def run_followup(
    settings: HubSettings,
    as_of: date | None = None,
    formats: Sequence[str] = ("csv", "xlsx"),
) -> list[FollowupResult]:
    """Materialise once, then compile, publish, extract, verify and audit every tenant.

    A tenant whose extract does not verify, or whose audit works out a hidden cell, fails.

    While another process materialises, every tenant is `skipped` (that process is
    bringing the store up to date); while another compiles a tenant, that tenant is.
    """
    try:
        materialise(settings)
    except LeaseHeld as exc:
        return [FollowupResult(t.id, status="skipped", error=str(exc)) for t in settings.tenants]
    except (KafkaError, TimeoutError) as exc:
        error = f"could not consume the topics: {type(exc).__name__}: {exc}"
        return [FollowupResult(t.id, status="failed", error=error) for t in settings.tenants]
    results = []
    for tenant in settings.tenants:
        result = FollowupResult(tenant.id)
        try:
            result.outcome = compile_tenant(settings, tenant.id, as_of)
            extract, verification = extract_tenant(
                settings, tenant.id, result.outcome.snapshot.as_of, formats=formats
            )
            result.extract, result.verified = extract.path, verification.ok
            result.problems = verification.problems
            audit = audit_extract(extract.path)
            result.audited = audit.ok
            result.problems += [f"audit: {line}" for line in audit.lines()]
            if not verification.ok or not audit.ok:
                result.status = "failed"
        except LeaseHeld as exc:
            result.status, result.error = "skipped", str(exc)
        except Exception as exc:  # one tenant's failure must not hide the others'
            result.status, result.error = "failed", f"{type(exc).__name__}: {exc}"
        results.append(result)
    return results
