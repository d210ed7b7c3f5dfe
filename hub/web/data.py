"""What the pages show, gathered from the state and reporting store, Kafka and the extracts folder.

Nothing here knows about HTTP: the FastAPI app in `hub.web.app` renders these, and the
tests call them directly as well as through Airflow's API server.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from hub.followup.extract import MANIFEST, verify_extract
from hub.followup.jobs import extracts_dir
from hub.kafka_security import client_config
from hub.materialise import entity_topic_pattern, stored_offsets
from hub.settings import HubSettings, SettingsError
from hub.store import StateStore, now

#: How long a page waits for the broker before it says the broker is unreachable.
BROKER_TIMEOUT_MS = 3_000


@contextmanager
def open_store(settings: HubSettings) -> Iterator[StateStore]:
    """The hub's store (state, runs and reporting tables), closed afterwards."""
    store = StateStore(settings.store_url)
    try:
        yield store
    finally:
        store.close()


# -- runs ----------------------------------------------------------------------------------


@dataclass
class SourceRuns:
    """One configured source of one tenant: its latest run and last success."""

    tenant: str
    source: str
    source_type: str
    last_run: dict[str, Any] | None
    last_success_at: datetime | None
    #: The source's newest approval not yet used, withdrawn or expired, with `expires_at`.
    open_approval: dict[str, Any] | None = None

    @property
    def held(self) -> bool:
        """The latest run is held by the deletion guard."""
        return bool(self.last_run and self.last_run["status"] == "held")

    @property
    def approved_by(self) -> str | None:
        """Who approved the held run (its deletions wait for the next sync)."""
        return self.last_run.get("approved_by") if self.held and self.last_run else None

    def age_seconds(self, at: datetime) -> float | None:
        """Seconds since the last successful run finished, None if there never was one."""
        if self.last_success_at is None:
            return None
        return round((at - self.last_success_at).total_seconds(), 1)


def source_runs(settings: HubSettings, store: StateStore) -> list[SourceRuns]:
    """Every configured (tenant, source) with its latest run, in configuration order."""
    latest = store.latest_runs()
    successes = store.last_successes()
    approvals: dict[tuple[str, str], dict[str, Any]] = {}
    at = now()
    for approval in store.open_approvals():  # newest first
        try:
            ttl = settings.tenant(approval["tenant"]).approval_ttl_hours
        except SettingsError:
            continue  # a tenant no longer configured
        expires = approval["approved_at"] + timedelta(hours=ttl)
        if expires > at:
            approvals.setdefault(
                (approval["tenant"], approval["source"]), {**approval, "expires_at": expires}
            )
    return [
        SourceRuns(
            tenant=tenant.id,
            source=source.id,
            source_type=source.type,
            last_run=latest.get((tenant.id, source.id)),
            last_success_at=successes.get((tenant.id, source.id)),
            open_approval=approvals.get((tenant.id, source.id)),
        )
        for tenant in settings.tenants
        for source in tenant.sources
    ]


# -- Kafka ---------------------------------------------------------------------------------


@dataclass
class TopicLag:
    """How far the follow-up compiler is behind on one entity topic."""

    topic: str
    end: int
    consumed: int

    @property
    def lag(self) -> int:
        """Records on the topic the compiler has not materialised yet."""
        return self.end - self.consumed


@dataclass
class BrokerView:
    """The broker as the pages see it: reachable or not, and the compiler's lag."""

    bootstrap: str
    reachable: bool
    error: str | None = None
    topics: list[TopicLag] = field(default_factory=list)


def broker_view(settings: HubSettings, store: StateStore, lag: bool = True) -> BrokerView:
    """Ask the broker for its topics and (with `lag`) the compiler's lag per entity topic."""
    view = BrokerView(settings.bootstrap, reachable=False)
    try:
        # No diagnosis on failure: the health check answers within its budget.
        consumer = KafkaConsumer(
            **client_config(
                settings.bootstrap,
                settings.kafka.security,
                client_id="skolehub-web",
                enable_auto_commit=False,
                bootstrap_timeout_ms=BROKER_TIMEOUT_MS,
                request_timeout_ms=BROKER_TIMEOUT_MS * 2,
                session_timeout_ms=BROKER_TIMEOUT_MS,
                heartbeat_interval_ms=BROKER_TIMEOUT_MS // 3,
            )
        )
    except (KafkaError, SettingsError) as exc:
        view.error = f"{type(exc).__name__}: {exc}"
        return view
    try:
        pattern = entity_topic_pattern(settings.kafka.topic_prefix)
        topics = sorted(t for t in consumer.topics() if pattern.match(t))
        view.reachable = True
        if not lag or not topics:
            return view
        partitions = [
            TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t))
        ]
        ends = consumer.end_offsets(partitions)
        starts = consumer.beginning_offsets(partitions)
        stored = stored_offsets(store.engine, settings.followup.consumer_group)
        by_topic = {t: TopicLag(t, 0, 0) for t in topics}
        for tp in partitions:
            entry = by_topic[tp.topic]
            entry.end += ends[tp]
            entry.consumed += stored.get((tp.topic, tp.partition), starts[tp])
        view.topics = list(by_topic.values())
    except KafkaError as exc:
        view.reachable = False
        view.error = f"{type(exc).__name__}: {exc}"
    finally:
        consumer.close()
    return view


def run_overview(settings: HubSettings) -> tuple[list[SourceRuns], BrokerView]:
    """What the run overview shows: every source's runs, and the broker with the lag."""
    with open_store(settings) as store:
        return source_runs(settings, store), broker_view(settings, store)


# -- health --------------------------------------------------------------------------------


def health(settings: HubSettings) -> dict[str, Any]:
    """A monitoring system's view: broker and store reachable, and each source's last success.

    `status` is `unhealthy` when the broker or the store cannot be reached, `degraded`
    when a source has not succeeded within `web.max_sync_age_hours` (or never), else `ok`.
    """
    at = now()
    checks: dict[str, Any] = {}
    sources: list[dict[str, Any]] = []
    safe_url = sa.engine.make_url(settings.store_url).render_as_string(hide_password=True)
    try:
        with open_store(settings) as store:
            with store.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            checks["store"] = {"ok": True, "url": safe_url}
            runs = source_runs(settings, store)
            broker = broker_view(settings, store, lag=False)
    except sa.exc.SQLAlchemyError as exc:
        checks["store"] = {"ok": False, "url": safe_url, "error": type(exc).__name__}
        runs = []
        broker = BrokerView(settings.bootstrap, reachable=False, error="not checked")
    checks["broker"] = {"ok": broker.reachable, "bootstrap": broker.bootstrap}
    if broker.error:
        checks["broker"]["error"] = broker.error
    limit = settings.web.max_sync_age_hours * 3600
    for entry in runs:
        age = entry.age_seconds(at)
        sources.append(
            {
                "tenant": entry.tenant,
                "source": entry.source,
                "type": entry.source_type,
                "last_status": entry.last_run["status"] if entry.last_run else None,
                "last_success_at": entry.last_success_at.isoformat()
                if entry.last_success_at
                else None,
                "age_seconds": age,
                "stale": age is None or age > limit,
            }
        )
    if not all(check["ok"] for check in checks.values()):
        status = "unhealthy"
    elif any(s["stale"] for s in sources):
        status = "degraded"
    else:
        status = "ok"
    return {"status": status, "checked_at": at.isoformat(), "checks": checks, "sources": sources}


# -- extracts ------------------------------------------------------------------------------


@dataclass
class ExtractEntry:
    """One extract folder under the extracts folder, with its manifest."""

    tenant: str
    name: str
    path: Path
    manifest: dict[str, Any]
    problems: list[str]

    @property
    def identified(self) -> bool:
        """The extract holds raw person keys (it was written with `--identified`)."""
        return bool(self.manifest.get("identified"))

    @property
    def file_names(self) -> list[str]:
        """The files the manifest lists."""
        return [entry["name"] for entry in self.manifest.get("files", [])]


def list_extracts(settings: HubSettings, tenant: str | None = None) -> list[ExtractEntry]:
    """Every extract of the configured tenants (newest first), each checked against its manifest."""
    entries = []
    for configured in settings.tenants:
        if tenant is not None and configured.id != tenant:
            continue
        folder = extracts_dir() / configured.id
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir(), reverse=True):
            manifest_path = path / MANIFEST
            if not manifest_path.is_file():
                continue
            try:
                manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                manifest, problems = {}, [f"{MANIFEST}: unreadable ({exc})"]
            else:
                problems = verify_extract(path).problems
            entries.append(ExtractEntry(configured.id, path.name, path, manifest, problems))
    return entries


def find_extract(settings: HubSettings, tenant: str, name: str) -> ExtractEntry | None:
    """One extract by tenant and folder name, or None."""
    for entry in list_extracts(settings, tenant):
        if entry.name == name:
            return entry
    return None
