"""Compile a tenant's follow-up records for a day from the store's history and its policy."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
import structlog

from hub import __version__
from hub.followup._common import Context
from hub.followup._identity import build_directory
from hub.followup._state import PlacementRow, load_state
from hub.followup.measures.data_quality import data_quality
from hub.followup.measures.development import (
    competence_development,
    measurement_days,
    with_changes,
)
from hub.followup.measures.devices import build_fleet, device_coverage
from hub.followup.measures.equipment import (
    EquipmentTotals,
    classroom_equipment,
    equipment_equity,
    equipment_measures,
    load_items,
)
from hub.followup.measures.learning import (
    competence_by_unit,
    course_areas,
    course_participation,
    digital_skills,
    staff_competence,
)
from hub.followup.measures.licences import licences
from hub.followup.measures.lifecycle import device_lifecycle, load_purchases
from hub.followup.measures.summary import (
    Totals,
    equity,
    headline,
    trend,
    unmatched_identities,
)
from hub.followup.measures.support import (
    hide_hidden_users,
    load_tickets,
    support_by_unit,
    support_equity,
    support_measures,
)
from hub.followup.privacy import pseudonym
from hub.followup.snapshots import Snapshot, SnapshotStore, sorted_records
from hub.followup.suppression import suppress_complementary
from hub.leases import Lease
from hub.matching import UnmatchedReport
from hub.materialise import history_span, offset_labels, stored_offsets
from hub.settings import TenantSettings
from schemas.followup import CompetenceSummary, FollowupRecord

log = structlog.get_logger(__name__)

#: The materialiser's consumer group unless told otherwise.
DEFAULT_CONSUMER_GROUP = "skolehub-followup"


class HistoryError(ValueError):
    """A day the history cannot answer for: in the future, or before the history begins."""


def check_compilable(engine: sa.Engine, tenant: str, as_of: date) -> None:
    """Refuse, naming the days that can be compiled, a day the history does not cover.

    A day can be compiled from the first day of the tenant's history (or the retention's
    horizon) to today (UTC); a tenant with no history yet can be compiled for today only.
    """
    today = datetime.now(UTC).date()
    span = history_span(engine, tenant)
    first = span[0].date() if span is not None else today
    days = f"days from {first} to {today} can be compiled"
    if as_of > today:
        raise HistoryError(f"cannot compile {tenant} as of {as_of}: that is in the future; {days}")
    if as_of < first:
        begins = (
            f"the hub's history of {tenant} begins on {first}"
            if span is not None
            else f"the hub holds no history of {tenant} yet"
        )
        raise HistoryError(
            f"cannot compile {tenant} as of {as_of}: {begins}, and figures for an earlier day "
            f"would describe the entities as they are later; {days}"
        )


def end_of_day(day: date) -> datetime:
    """The last moment of `day` (UTC): a snapshot shows what the hub knew by then."""
    return datetime.combine(day + timedelta(days=1), datetime.min.time(), UTC) - timedelta(
        microseconds=1
    )


def compile_snapshot(
    engine: sa.Engine,
    tenant: TenantSettings,
    as_of: date,
    *,
    pseudonym_key: bytes,
    consumer_group: str = DEFAULT_CONSUMER_GROUP,
    store: SnapshotStore | None = None,
    lease: Lease | None = None,
    complementary: bool = True,
) -> Snapshot:
    """Compile every record of `tenant` for `as_of` from the history, and store the snapshot.

    The entities are the versions valid at the end of `as_of`, so a day compiled later
    gives the figures it gave on the day. A day the history does not cover raises
    `HistoryError`. The trend compares with the pinned baseline (`baseline_for`).
    `lease`, the tenant's compile lease when the caller holds it, fences the store's write.
    `complementary=False` leaves out the denominator rule and complementary suppression
    (`hub.followup.suppression`): the records as they were before, for the audit's tests.
    """
    check_compilable(engine, tenant.id, as_of)
    started = time.monotonic()
    store = store or SnapshotStore(engine)
    baseline_as_of, baseline = baseline_for(
        engine, tenant, as_of, store, pseudonym_key=pseudonym_key, consumer_group=consumer_group
    )
    compiled = _measure(engine, tenant, as_of, pseudonym_key, baseline_as_of, baseline)
    # Data quality reads the tenant's links from the store again: with the state and the
    # directory gone, it reuses their memory.
    compiled.records["data_quality"] = data_quality(
        engine,
        tenant.id,
        as_of,
        compiled.placements,
        compiled.unmatched_users,
        end_of_day(as_of),
    )
    # The tenant's state, directory and fleet are gone here, so the suppression's copy
    # of the rows and its audit reuse their memory.
    records = compiled.records
    policy = tenant.policy
    extra = 0
    if complementary:
        records, report = suppress_complementary(records, policy.min_cell_size)
        extra = report.extra_rows
    records["support_by_unit"] = list(
        hide_hidden_users(
            records["support_by_unit"],  # type: ignore[arg-type]
            records["device_coverage"],  # type: ignore[arg-type]
        )
    )
    # The measurements' cells as published (this day's after its suppression): see
    # `hub.followup.measures.development`.
    measured = measured_summaries(
        engine,
        tenant,
        as_of,
        store,
        records["competence_summary"],  # type: ignore[arg-type]
        pseudonym_key=pseudonym_key,
        consumer_group=consumer_group,
    )
    development = competence_development(tenant.id, as_of, measured)
    if development:
        records["competence_development"] = list(development)
        if complementary:
            records, report = suppress_complementary(records, policy.min_cell_size)
            extra += report.extra_rows
        records["competence_development"] = list(
            with_changes(records["competence_development"])  # type: ignore[arg-type]
        )
    # Equity from the rows as published, so that its spread shows no hidden cell.
    records["equity"] = list(
        equity(
            tenant.id,
            as_of,
            policy,
            records["device_coverage"],  # type: ignore[arg-type]
            records["competence_summary"],  # type: ignore[arg-type]
            records["digital_skills"],  # type: ignore[arg-type]
            extra={
                **equipment_equity(compiled.equipment_totals),
                **support_equity(records["support_by_unit"]),  # type: ignore[arg-type]
            },
        )
    )
    snapshot = Snapshot(
        tenant=tenant.id,
        as_of=as_of,
        policy_sha256=policy.fingerprint(),
        software_version=__version__,
        consumer_group=consumer_group,
        offsets=offset_labels(stored_offsets(engine, consumer_group)),
        entity_counts=compiled.entity_counts,
        records=sorted_records(records),
    )
    store.save(snapshot, lease)
    if tenant.policy.baseline == "first" and store.pinned_baseline(tenant.id) is None:
        store.pin_baseline(tenant.id, as_of)
    log.info(
        "followup_compiled",
        tenant=tenant.id,
        as_of=as_of.isoformat(),
        rows=sum(snapshot.counts().values()),
        complementary_rows=extra,
        load_seconds=round(compiled.load_seconds, 3),
        seconds=round(time.monotonic() - started, 3),
    )
    return snapshot


@dataclass
class _Measured:
    """The records of one day before the complementary suppression, and what they came from."""

    records: dict[str, Sequence[FollowupRecord]]
    entity_counts: dict[str, int]
    equipment_totals: EquipmentTotals
    load_seconds: float
    #: What data quality reads of the state and the directory (`data_quality`).
    placements: list[PlacementRow]
    unmatched_users: UnmatchedReport


def _measure(
    engine: sa.Engine,
    tenant: TenantSettings,
    as_of: date,
    pseudonym_key: bytes,
    baseline_as_of: date | None,
    baseline: dict[str, float | None],
) -> _Measured:
    """Load the tenant as of `as_of`, match its people, and compute every measure's rows.

    The state, directory and fleet live only here: the caller holds the records alone.
    """
    started = time.monotonic()
    state = load_state(engine, tenant.id, end_of_day(as_of))
    loaded = time.monotonic()
    policy = tenant.policy
    directory = build_directory(state, policy, pseudonym_key)
    ctx = Context(tenant.id, as_of, policy, state, directory)
    fleet = build_fleet(ctx)
    coverage, device_totals = device_coverage(ctx, fleet)
    # Equipment, tickets and purchases are held only while their records are computed:
    # their memory then serves the learning records.
    items = load_items(engine, tenant.id, end_of_day(as_of))
    classrooms, equipment_units, equipment_totals = classroom_equipment(ctx, items)
    tickets = load_tickets(engine, tenant.id, end_of_day(as_of))
    support, support_totals = support_by_unit(ctx, fleet, tickets)
    purchases = load_purchases(engine, tenant.id, end_of_day(as_of))
    lifecycle, lifecycle_measures = device_lifecycle(ctx, purchases)
    counted = {
        "equipment_items": len(items),
        "support_tickets": len(tickets),
        "purchased_devices": len(purchases),
    }
    del items, tickets, purchases
    areas = course_areas(ctx)
    staff, summary, competence_totals = staff_competence(ctx, areas)
    skills, skills_totals = digital_skills(ctx, fleet)
    courses, course_totals = course_participation(ctx, areas)
    licence_overview, licence_use, licence_totals = licences(ctx)
    unmatched = unmatched_identities(ctx, fleet, lambda value: pseudonym(pseudonym_key, value))
    totals = Totals(device_totals, competence_totals, skills_totals, course_totals, licence_totals)
    measures = dict(
        sorted(
            {
                **headline(ctx, fleet, totals, unmatched),
                **equipment_measures(equipment_totals),
                **support_measures(support_totals),
                **lifecycle_measures,
            }.items()
        )
    )
    records: dict[str, Sequence[FollowupRecord]] = {
        "device_coverage": list(coverage),
        "staff_competence": staff,
        "competence_summary": list(summary),
        "competence_by_unit": list(competence_by_unit(ctx, staff)),
        "digital_skills": list(skills),
        "course_participation": courses,
        "trend": list(trend(ctx, measures, baseline_as_of, baseline)),
        "unmatched_identities": list(unmatched),
        "classroom_equipment": list(classrooms),
        "equipment_by_unit": list(equipment_units),
        "support_by_unit": list(support),
        "device_lifecycle": list(lifecycle),
        "licence_overview": list(licence_overview),
        "licence_use": list(licence_use),
    }
    return _Measured(
        records,
        {**state.sizes, **counted},
        equipment_totals,
        loaded - started,
        state.placements,
        directory.unmatched,
    )


def measured_summaries(
    engine: sa.Engine,
    tenant: TenantSettings,
    as_of: date,
    store: SnapshotStore,
    current: list[CompetenceSummary],
    *,
    pseudonym_key: bytes,
    consumer_group: str = DEFAULT_CONSUMER_GROUP,
) -> dict[date, list[CompetenceSummary]]:
    """The published competence cells of the baseline and each measurement up to `as_of`.

    `current` is `as_of`'s own; another day's come from its stored snapshot, compiled from
    the history when missing. A day the history cannot give is left out (logged as
    `measurement_unknowable`); without the baseline there is nothing to compare with.
    """
    pinned = store.pinned_baseline(tenant.id)
    named = tenant.policy.baseline
    baseline = named if isinstance(named, date) else pinned or as_of
    found: dict[date, list[CompetenceSummary]] = {}
    for day in measurement_days(tenant.policy, baseline, as_of):
        if day == as_of:
            found[day] = current
            continue
        snapshot = store.load(tenant.id, day) or _compiled_earlier(
            engine, tenant, day, store, pseudonym_key, consumer_group, "measurement_unknowable"
        )
        if snapshot is None:
            continue
        found[day] = [
            r for r in snapshot.rows("competence_summary") if isinstance(r, CompetenceSummary)
        ]
    if baseline not in found:
        return {}
    return found


def baseline_for(
    engine: sa.Engine,
    tenant: TenantSettings,
    as_of: date,
    store: SnapshotStore,
    *,
    pseudonym_key: bytes,
    consumer_group: str = DEFAULT_CONSUMER_GROUP,
) -> tuple[date | None, dict[str, float | None]]:
    """The baseline day the trend of `as_of` compares with, and its headline measures.

    The policy's day (compiled from the history, and pinned, when it is not stored yet),
    or with `baseline: first` the day pinned when the tenant's first snapshot was
    compiled. None when the baseline is not before `as_of`, or the history cannot give
    the policy's day (logged as `baseline_unknowable`).
    """
    named = tenant.policy.baseline
    pinned = store.pinned_baseline(tenant.id)
    if isinstance(named, date):
        if pinned != named:
            store.pin_baseline(tenant.id, named)
        pinned = named
    if pinned is None or pinned >= as_of:
        return None, {}
    if pinned not in store.days(tenant.id) and not _compiled_earlier(
        engine, tenant, pinned, store, pseudonym_key, consumer_group, "baseline_unknowable"
    ):
        return None, {}
    return pinned, store.measures_of(tenant.id, pinned)


def _compiled_earlier(
    engine: sa.Engine,
    tenant: TenantSettings,
    day: date,
    store: SnapshotStore,
    pseudonym_key: bytes,
    consumer_group: str,
    unknowable: str,
) -> Snapshot | None:
    """An earlier day compiled and stored from the history; None (logged) if it cannot be."""
    try:
        return compile_snapshot(
            engine,
            tenant,
            day,
            pseudonym_key=pseudonym_key,
            consumer_group=consumer_group,
            store=store,
        )
    except HistoryError as exc:
        log.warning(unknowable, tenant=tenant.id, day=str(day), error=str(exc))
        return None
