"""Compile a tenant's follow-up records for a day from the reporting store and its policy."""

from __future__ import annotations

import time
from datetime import date

import sqlalchemy as sa
import structlog

from hub import __version__
from hub.followup._common import Context
from hub.followup._identity import build_directory
from hub.followup._state import load_state
from hub.followup.measures.data_quality import data_quality
from hub.followup.measures.devices import build_fleet, device_coverage
from hub.followup.measures.learning import (
    course_areas,
    course_participation,
    digital_skills,
    staff_competence,
)
from hub.followup.measures.summary import (
    Totals,
    equity,
    headline,
    trend,
    unmatched_identities,
)
from hub.followup.privacy import pseudonym
from hub.followup.snapshots import Snapshot, SnapshotStore, sorted_records
from hub.leases import Lease
from hub.materialise import offset_labels, stored_offsets
from hub.settings import TenantSettings

log = structlog.get_logger(__name__)

#: The materialiser's consumer group unless told otherwise.
DEFAULT_CONSUMER_GROUP = "skolehub-followup"


def compile_snapshot(
    engine: sa.Engine,
    tenant: TenantSettings,
    as_of: date,
    *,
    pseudonym_key: bytes,
    consumer_group: str = DEFAULT_CONSUMER_GROUP,
    store: SnapshotStore | None = None,
    lease: Lease | None = None,
) -> Snapshot:
    """Compile every record of `tenant` for `as_of` and store the snapshot.

    `lease`, the tenant's compile lease when the caller holds it, fences the store's write.
    """
    started = time.monotonic()
    store = store or SnapshotStore(engine)
    state = load_state(engine, tenant.id)
    loaded = time.monotonic()
    policy = tenant.policy
    directory = build_directory(state, policy, pseudonym_key)
    ctx = Context(tenant.id, as_of, policy, state, directory)
    fleet = build_fleet(ctx)
    coverage, device_totals = device_coverage(ctx, fleet)
    areas = course_areas(ctx)
    staff, summary, competence_totals = staff_competence(ctx, areas)
    skills, skills_totals = digital_skills(ctx, fleet)
    courses, course_totals = course_participation(ctx, areas)
    unmatched = unmatched_identities(ctx, fleet, lambda value: pseudonym(pseudonym_key, value))
    totals = Totals(device_totals, competence_totals, skills_totals, course_totals)
    measures = headline(ctx, fleet, totals, unmatched)
    baseline_as_of, baseline = store.baseline(tenant.id, before=as_of)
    snapshot = Snapshot(
        tenant=tenant.id,
        as_of=as_of,
        policy_sha256=policy.fingerprint(),
        software_version=__version__,
        consumer_group=consumer_group,
        offsets=offset_labels(stored_offsets(engine, consumer_group)),
        entity_counts=state.sizes,
        records=sorted_records(
            {
                "device_coverage": coverage,
                "staff_competence": staff,
                "competence_summary": summary,
                "digital_skills": skills,
                "course_participation": courses,
                "equity": equity(ctx, coverage, summary, skills),
                "trend": trend(ctx, measures, baseline_as_of, baseline),
                "unmatched_identities": unmatched,
                "data_quality": data_quality(ctx, engine),
            }
        ),
    )
    store.save(snapshot, lease)
    log.info(
        "followup_compiled",
        tenant=tenant.id,
        as_of=as_of.isoformat(),
        rows=sum(snapshot.counts().values()),
        load_seconds=round(loaded - started, 3),
        seconds=round(time.monotonic() - started, 3),
    )
    return snapshot
