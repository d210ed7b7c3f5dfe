"""Pushed changes: SS 12000 subscriptions, and the sync of only what a notification names.

A source that can push (SS 12000 with `subscribe: true`) gets a subscription on its API
whose `target` is the hub's webhook receiver (`hub listen`, `hub.push_receiver`):
`<receiver>/ss12000/<tenant>/<source>/<token>`, where the token is a keyed HMAC of the
tenant and source (`HUB_PUSH_SECRET`), so the receiver can tell a notification of the
subscription it registered from a guessed URL without keeping any state.
`ensure_subscriptions` creates the subscription, renews it before it expires, and removes
the hub's older subscriptions of another target; `hub listen` runs it at start and then
periodically, Airflow's `hub_identity_subscriptions` DAG does the same.

A notification is turned into a targeted incremental sync (`ChangeSync`): the source's
usual runner (lease, diff, publish, commit) over only the streams of the resource types
that changed, plus `/deletedEntities`, each from its `meta.modified` bookmark.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Collection, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import structlog

from connectors.errors import ConnectorError
from connectors.identity.ss12000 import SS12000, SS12000SourceSettings
from hub.kafka_io import Publisher, ensure_topics
from hub.logging import scrub
from hub.settings import HubSettings, SettingsError, TenantSettings
from hub.sources import build_source, entity_types_of
from hub.store import StateStore
from hub.sync import SyncReport, SyncRunner

log = structlog.get_logger(__name__)

#: The environment variable holding the key of the webhook URLs' tokens.
PUSH_SECRET_ENV = "HUB_PUSH_SECRET"
#: The environment variable holding the receiver's URL as the sources reach it.
PUSH_URL_ENV = "HUB_PUSH_URL"


def push_secret() -> str:
    """The webhook token key from the environment; `SettingsError` if it is unset or short."""
    secret = os.environ.get(PUSH_SECRET_ENV, "")
    if len(secret) < 16:
        raise SettingsError(f"{PUSH_SECRET_ENV} must hold a secret of at least 16 characters")
    return secret


def webhook_token(secret: str, tenant: str, source: str) -> str:
    """The token in a source's webhook URL: HMAC-SHA256 of tenant and source, 32 hex digits."""
    material = f"ss12000:{tenant}:{source}".encode()
    return hmac.new(secret.encode(), material, hashlib.sha256).hexdigest()[:32]


def webhook_url(receiver_url: str, secret: str, tenant: str, source: str) -> str:
    """The URL a source's subscription posts its notifications to."""
    token = webhook_token(secret, tenant, source)
    return f"{receiver_url.rstrip('/')}/ss12000/{tenant}/{source}/{token}"


def subscription_name(tenant: str, source: str) -> str:
    """The name the hub gives its subscription of a source (how it finds it again)."""
    return f"skolehub:{tenant}:{source}"


def push_sources(settings: HubSettings) -> Iterator[tuple[TenantSettings, SS12000SourceSettings]]:
    """Every configured SS 12000 source with `subscribe: true`, with its tenant."""
    for tenant in settings.tenants:
        for source in tenant.sources:
            if isinstance(source, SS12000SourceSettings) and source.subscribe:
                yield tenant, source


# -- subscriptions ------------------------------------------------------------------------


@dataclass
class SubscriptionStatus:
    """What `ensure_subscriptions` did for one source."""

    tenant: str
    source: str
    #: created, renewed, kept or failed.
    action: str
    subscription_id: str | None = None
    expires: str | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """As plain JSON (a task's return value)."""
        return asdict(self)


def ensure_subscriptions(
    settings: HubSettings, receiver_url: str, secret: str, *, now: datetime | None = None
) -> list[SubscriptionStatus]:
    """Make every push source's subscription current: create, renew or keep it.

    A subscription of the hub's name with another target (an older receiver URL) is
    deleted; one that the API no longer knows when renewed (it expired) is created anew.
    A source that fails is reported and the others go on.
    """
    statuses = []
    for tenant, source in push_sources(settings):
        status = SubscriptionStatus(tenant.id, source.id, "failed")
        try:
            connector = build_source(tenant, source)
            if not isinstance(connector, SS12000):
                raise SettingsError(f"{tenant.id}/{source.id} is not an SS 12000 source")
            with connector:
                found = _ensure_one(
                    connector,
                    subscription_name(tenant.id, source.id),
                    webhook_url(receiver_url, secret, tenant.id, source.id),
                    source,
                    now or datetime.now(UTC),
                )
            status.action, record = found
            status.subscription_id, status.expires = record.id, record.expires.isoformat()
        except (ConnectorError, SettingsError) as exc:
            status.error = scrub(str(exc))
            log.error("subscription_failed", tenant=tenant.id, source=source.id, error=status.error)
        else:
            log.info(
                f"subscription_{status.action}",
                tenant=tenant.id,
                source=source.id,
                expires=status.expires,
            )
        statuses.append(status)
    return statuses


def _ensure_one(
    connector: SS12000,
    name: str,
    target: str,
    source: SS12000SourceSettings,
    now: datetime,
) -> tuple[str, Any]:
    mine = [s for s in connector.subscriptions() if s.name == name]
    current = next((s for s in mine if s.target == target), None)
    for stale in mine:
        if stale is not current:
            connector.unsubscribe(stale.id)
    if current is None:
        return "created", connector.subscribe(name, target)
    if current.expires - now > source.subscription_renew_before:
        return "kept", current
    try:
        return "renewed", connector.renew_subscription(current.id)
    except ConnectorError as exc:
        if exc.status != 404:
            raise
        return "created", connector.subscribe(name, target)


# -- syncing what changed ---------------------------------------------------------------


class ChangeSync:
    """Targeted syncs of pushed changes, over one state store and one Kafka producer."""

    def __init__(self, settings: HubSettings) -> None:
        self.settings = settings
        self.store = StateStore(settings.store_url)
        self.publisher = Publisher(settings.bootstrap, settings.kafka)
        self._topics_for: set[tuple[str, str]] = set()

    def sync(
        self, tenant_id: str, source_id: str, streams: Collection[str], deleted: bool
    ) -> SyncReport:
        """Sync only `streams` (and `/deletedEntities`) of a source, incrementally.

        A source never synced before (no bookmarks) gets its usual run instead, since an
        incremental read needs a bookmark to start from.
        """
        tenant = self.settings.tenant(tenant_id)
        source_settings = tenant.source(source_id)
        if (tenant_id, source_id) not in self._topics_for:
            types = sorted(entity_types_of(source_settings), key=lambda t: t.topic_suffix())
            ensure_topics(self.settings.bootstrap, self.settings.kafka, types)
            self._topics_for.add((tenant_id, source_id))
        runner = SyncRunner(self.settings, self.store, self.publisher)
        if not self.store.bookmarks(tenant_id, source_id):
            log.info("push_sync_needs_a_first_run", tenant=tenant_id, source=source_id)
            return runner.sync(tenant_id, source_id)
        connector = build_source(tenant, source_settings)
        if not isinstance(connector, SS12000):
            raise SettingsError(f"{tenant_id}/{source_id} is not an SS 12000 source")
        connector.read_only(streams)
        log.info(
            "push_sync_started",
            tenant=tenant_id,
            source=source_id,
            streams=sorted(streams),
            deleted=deleted,
        )
        return runner.sync(tenant_id, source_id, full=False, source=connector)

    def close(self) -> None:
        """Close the producer and the store."""
        self.publisher.close()
        self.store.close()

    def __enter__(self) -> ChangeSync:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
