"""The connectors in Airflow's terms, from the registry: what the DAG files share.

The Kafka topics' Assets and each domain's sync tasks with their pools are defined once,
from the connector registry and the entity types, so a new connector adds its topics'
Assets and its pool to the DAGs without an edit to a DAG file. Importing this module does
no I/O: it reads declarations only.
"""

from __future__ import annotations

from dataclasses import dataclass

from airflow.sdk import Asset

from connectors import registry
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
#: The follow-up records' topics, which the compile DAG updates.
FOLLOWUP_ASSETS = [topic_asset(t) for t in FOLLOWUP_RECORD_TYPES]


@dataclass(frozen=True)
class SyncLane:
    """One mapped sync task of a domain's DAG: the connector types it runs, in one pool."""

    #: "" when the domain's syncs share one pool (tasks `plan` and `sync`), else
    #: `_<type>` (tasks `plan_intune`, `sync_intune`, …).
    suffix: str
    #: The Airflow pool; None is Airflow's `default_pool`.
    pool: str | None
    types: tuple[str, ...]


def sync_lanes(domain: str) -> list[SyncLane]:
    """The sync tasks of one domain's DAG: one per pool its connectors declare."""
    by_pool: dict[str | None, list[str]] = {}
    for spec in registry.of_domain(domain):
        by_pool.setdefault(spec.pool.name if spec.pool else None, []).append(spec.type)
    if len(by_pool) == 1:
        ((pool, types),) = by_pool.items()
        return [SyncLane("", pool, tuple(types))]
    return [
        SyncLane(
            f"_{types[0]}" if len(types) == 1 else f"_{pool or 'default_pool'}", pool, tuple(types)
        )
        for pool, types in by_pool.items()
    ]
