"""The connectors in Airflow's terms, from the registry: what the DAG files share.

The Kafka topics' Assets and each domain's sync tasks with their pools are defined once,
from the connector registry and the entity types, so a new connector adds its topics'
Assets and its pool to the DAGs without an edit to a DAG file. Importing this module does
no I/O: it reads declarations only.

It also holds the hook class of each connection type that `connectors.provider` lists
(`IntuneHook`, `JamfProHook`, …), whose `test_connection` is the connector's own check,
the code path of `hub check`.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import Any, ClassVar

from airflow.sdk import Asset, BaseHook

from connectors import provider, registry
from connectors._redact import scrub
from connectors.identity._ss12000_subscriptions import (
    NOTIFICATIONS_ASSET_NAME,
    NOTIFICATIONS_ASSET_URI,
)
from schemas.entities import ENTITY_TYPES, Entity
from schemas.followup import FOLLOWUP_RECORD_TYPES
from schemas.lms import LMS_ENTITY_TYPES
from schemas.mdm import MDM_ENTITY_TYPES
from schemas.ss12000 import SS12000_ENTITY_TYPES


def topic_asset(record_type: type[Entity]) -> Asset:
    """The Asset of a record type's Kafka topic, as every DAG names it."""
    suffix = record_type.versioned_suffix()
    return Asset(name=f"hub.{suffix}", uri=f"kafka://skolehub/{suffix}")


def domain_assets(domain: str) -> list[Asset]:
    """The Assets of every topic the connectors of one domain publish to."""
    types = (t for spec in registry.of_domain(domain) for t in spec.entity_types)
    return [topic_asset(t) for t in dict.fromkeys(types)]


#: How often the sync DAGs run to look for due sources (each source's `schedule`, else its
#: domain's cadence, `hub.sync_tasks.DOMAIN_SCHEDULES`): the finest cadence honoured.
SYNC_TICK = timedelta(minutes=5)

#: Every entity topic a sync DAG can update: what schedules the follow-up compile.
ENTITY_ASSETS = [
    topic_asset(t)
    for t in dict.fromkeys(
        (
            *ENTITY_TYPES,
            *SS12000_ENTITY_TYPES,
            *LMS_ENTITY_TYPES,
            *MDM_ENTITY_TYPES,
            *(t for spec in registry.specs() for t in spec.entity_types),
        )
    )
]
#: Updated by the webhook receiver per SS 12000 notification (`hub listen --airflow`).
NOTIFICATIONS_ASSET = Asset(name=NOTIFICATIONS_ASSET_NAME, uri=NOTIFICATIONS_ASSET_URI)
#: The follow-up records' topics, which the compile DAG updates.
FOLLOWUP_ASSETS = [topic_asset(t) for t in FOLLOWUP_RECORD_TYPES]


@dataclass(frozen=True)
class SyncLane:
    """One mapped sync task of a domain's DAG: the connector types it runs, in one pool."""

    #: "" for the tasks `plan` and `sync` (the domain's only group, or the group in
    #: Airflow's `default_pool`), else `_<type>` (`plan_intune`, …) or `_<pool>`.
    suffix: str
    #: The Airflow pool; None is Airflow's `default_pool`.
    pool: str | None
    types: tuple[str, ...]


def sync_lanes(domain: str) -> list[SyncLane]:
    """The sync tasks of one domain's DAG: one per pool its connectors declare."""
    by_pool: dict[str | None, list[str]] = {}
    for spec in registry.of_domain(domain):
        by_pool.setdefault(spec.pool.name if spec.pool else None, []).append(spec.type)
    lanes = []
    for pool, types in by_pool.items():
        if len(by_pool) == 1 or pool is None:
            suffix = ""
        else:
            suffix = f"_{types[0]}" if len(types) == 1 else f"_{pool}"
        lanes.append(SyncLane(suffix, pool, tuple(types)))
    return lanes


# --- One hook class per connector type ---------------------------------------------------

#: A throwaway key for connection tests: a check publishes nothing, so no pseudonym outlives it.
_CHECK_ONLY_KEY = secrets.token_bytes(32)


class SourceHook(BaseHook):
    """A source system as an Airflow connection: its connector, built from the connection.

    One subclass per connector type (`hook_class`); `test_connection` is the connector's
    own check, through `registry.check_source`, the path `hub check` takes too.
    """

    spec: ClassVar[registry.ConnectorSpec[Any]]
    conn_name_attr = "skolehub_conn_id"
    conn_type: ClassVar[str]
    hook_name: ClassVar[str]

    def __init__(self, skolehub_conn_id: str, tenant: str = "airflow") -> None:
        super().__init__()
        self.skolehub_conn_id = skolehub_conn_id
        self.tenant = tenant

    def source_settings(self) -> Any:
        """The source settings the connection describes."""
        conn = self.get_connection(self.skolehub_conn_id)
        return provider.connection_settings(
            self.spec,
            self.skolehub_conn_id,
            host=conn.host,
            login=conn.login,
            extra=conn.extra_dejson,
        )

    def test_connection(self) -> tuple[bool, str]:
        """Check that the source answers with the connection's credentials (Airflow's Test)."""
        try:
            settings = self.source_settings()
            country = str(self.get_connection(self.skolehub_conn_id).extra_dejson.get("country"))
            context = registry.SourceContext(
                tenant=self.tenant,
                country=country if country in ("NO", "SE", "DK", "FI") else "NO",
                hmac_key=lambda: _CHECK_ONLY_KEY,
            )
            notes = registry.check_source(settings, context)
        except Exception as exc:
            return False, f"{self.hook_name}: {scrub(str(exc))}"
        return True, "; ".join([f"{self.hook_name} answered: connection checked", *notes])


@cache
def hook_class(spec: registry.ConnectorSpec[Any]) -> type[SourceHook]:
    """The hook class of one connector type, e.g. `IntuneHook` for `intune`."""
    return type(
        f"{spec.connector.__name__}Hook",
        (SourceHook,),
        {
            "spec": spec,
            "conn_type": spec.type,
            "hook_name": spec.title,
            "default_conn_name": f"{spec.type}_default",
            "__module__": __name__,
            "__doc__": f"{spec.title} as an Airflow connection (type `{spec.type}`).",
        },
    )


def __getattr__(name: str) -> type[SourceHook]:
    """Resolve `connectors.airflow.<Connector>Hook`, as Airflow imports a hook class by name."""
    for spec in registry.specs():
        if f"{spec.connector.__name__}Hook" == name:
            return hook_class(spec)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
