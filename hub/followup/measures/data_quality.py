"""Data quality per tenant and source: what the figures stand on, never a reason to drop anyone.

A person whose identity number failed its checks is published without its HMAC
(`nin_invalid`) and counted here; a record the connector could not map is a dead letter
and counted here from the source's last successful run; links that point at nothing the
same source publishes, and users no matching rule linked, are counted too.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import date, datetime

import sqlalchemy as sa

from hub.followup._state import PlacementRow, _rows
from hub.matching import UnmatchedReport
from hub.store import sync_runs
from schemas.followup import DataQuality

#: Matching outcomes that leave a user unlinked (`UnmatchedIdentities` reasons).
_UNMATCHED = frozenset({"not_found", "ambiguous", "no_identifier"})
#: Entity → its link fields and the entity each must resolve to, within one source.
_LINKS: dict[str, tuple[tuple[str, str], ...]] = {
    "person": (("unit_keys", "organisation"),),
    "membership": (("group_key", "group"), ("person_key", "person")),
    "enrollment": (("class_key", "class"), ("person_key", "person")),
    "placement": (("unit_key", "organisation"), ("person_key", "person")),
}
#: The entities read, each after every entity its links point at.
_ENTITIES = ("organisation", "group", "class", "person", "membership", "enrollment")
#: The entities links point at: only their keys are kept.
_TARGETS = frozenset(target for links in _LINKS.values() for _field, target in links)


def data_quality(
    engine: sa.Engine,
    tenant: str,
    as_of: date,
    placements: Iterable[PlacementRow],
    unmatched_users: UnmatchedReport,
    at: datetime | None = None,
) -> list[DataQuality]:
    """One record per source of the tenant that published people or links or dead letters.

    `placements` are the tenant's (`TenantState.placements`), `unmatched_users` what the
    directory's matching left unlinked. `at`: the moment the entities are read as of (the
    history), as the compiler reads them. The entities are read from the store again, so
    the compiler calls this once the tenant's state and directory are gone.
    """
    # Links are checked as they stream past: every entity a link may point at comes before
    # the entities that link to it (`_ENTITIES`), so only the targets' keys are held.
    keys: dict[tuple[str, str], set[str]] = defaultdict(set)  # (source, target) → keys
    sources: set[str] = set()
    people: Counter[str] = Counter()
    invalid: Counter[str] = Counter()
    unresolved: Counter[str] = Counter()

    def check(links: Iterable[tuple[str, str, str]]) -> None:
        for source, target, key in links:
            sources.add(source)
            if key not in keys[(source, target)]:
                unresolved[source] += 1

    for entity in _ENTITIES:
        for source, payload in _rows(engine, tenant, entity, at):
            sources.add(source)
            if entity in _TARGETS:
                keys[(source, entity)].add(str(payload.get("key")))
            if entity == "person":
                people[source] += 1
                invalid[source] += bool(payload.get("nin_invalid"))
            check(_links_of(source, entity, payload))
    for row in placements:
        check(
            [
                (row.source, "organisation", row.unit_key),
                (row.source, "person", row.person_key),
            ]
        )
    unmatched: Counter[str] = Counter()
    for unmatched_row in unmatched_users.rows():
        if unmatched_row["reason"] in _UNMATCHED:
            unmatched[str(unmatched_row["source"])] += int(unmatched_row["count"])  # type: ignore[call-overload]
    dead = _dead_lettered(engine, tenant, sources | set(unmatched))
    return [
        DataQuality(
            tenant=tenant,
            key=source,
            as_of=as_of,
            source_ref=source,
            people=people[source],
            invalid_identifiers=invalid[source],
            dead_lettered=dead.get(source, 0),
            unresolved_links=unresolved[source],
            unmatched_users=unmatched[source],
        )
        for source in sorted(set(people) | set(unresolved) | set(unmatched) | set(dead))
    ]


def _links_of(
    source: str, entity: str, payload: dict[str, object]
) -> Iterable[tuple[str, str, str]]:
    for field, target in _LINKS.get(entity, ()):
        value = payload.get(field)
        values = value if isinstance(value, list) else [value] if value else []
        for key in values:
            yield source, target, str(key)


def _dead_lettered(engine: sa.Engine, tenant: str, refs: set[str]) -> dict[str, int]:
    """`<system>/<instance>` → dead letters of the instance's last successful run.

    Runs name the source by its configured id (the instance); a source with dead letters
    but nothing published is named by its id alone.
    """
    by_instance = {ref.rpartition("/")[2]: ref for ref in refs}
    r = sync_runs.c
    latest = (
        sa.select(r.source, sa.func.max(r.finished_at).label("finished"))
        .where(r.tenant == tenant, r.status == "success")
        .group_by(r.source)
        .subquery()
    )
    query = (
        sa.select(r.source, r.dead_lettered)
        .join(latest, sa.and_(r.source == latest.c.source, r.finished_at == latest.c.finished))
        .where(r.tenant == tenant)
    )
    if not sa.inspect(engine).has_table(sync_runs.name):
        return {}  # a reporting store apart from the state store: no runs to read
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return {by_instance.get(source, source): int(count or 0) for source, count in rows}
