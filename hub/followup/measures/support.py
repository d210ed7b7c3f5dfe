"""IT support (FITS) per school: volume, time to resolve and the service level, by category.

The Norwegian FITS framework and the Swedish guideline ask that technical support works:
the follow-up counts, per school and per ticket category (and `*`, all categories), the
tickets opened in the policy's period (`support.period_days` up to `as_of`), tickets per
100 users (the unit's pupils and staff in the directory, as device coverage counts them),
the median and 90th percentile of the hours from opening to resolution, and the share
resolved within the policy's service level (`support.service_level_hours`). That share is
over the tickets resolved, plus those still open past the service level; a ticket still
open within it has not yet missed or met it and is left out.

A ticket belongs to the unit its location names (by name or `unit_aliases`). Requesters
travel only as a pseudonymous link; a cell whose tickets come from fewer distinct requesters
than the minimum cell (a ticket without a link counts as its own requester), or whose
unit has that few users, is suppressed. When one category of a unit is hidden, its
smallest visible sibling is hidden too, so that the unit's `*` row minus the others does
not give it back; likewise a second unit when one unit's `*` row is hidden. A unit's users
(and tickets per 100 users) are hidden where its pupils' or staff's device-coverage cell
is (`hide_hidden_users`, after the complementary suppression).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta

import sqlalchemy as sa

from hub.followup._common import Context, median, rounded, share, suppress
from hub.followup._state import _instant, _rows
from hub.followup.measures.devices import Fleet
from hub.followup.measures.summary import Measure
from schemas.followup import DeviceCoverage, Direction, Population, SupportByUnit

ALL = "*"
SUPPORT_FIGURES = (
    "tickets",
    "tickets_per_100_users",
    "resolved",
    "median_hours_to_resolve",
    "p90_hours_to_resolve",
    "within_service_level_share",
)


@dataclass(frozen=True, slots=True)
class TicketRow:
    """A support ticket as a service desk reports it."""

    source: str
    key: str
    location: str | None
    category: str | None
    opened_at: datetime
    resolved_at: datetime | None
    requester: str | None


def load_tickets(engine: sa.Engine, tenant: str, at: datetime) -> list[TicketRow]:
    """The tenant's support tickets valid at `at`."""
    rows = []
    for source, p in _rows(engine, tenant, "support_ticket", at):
        opened = _instant(p.get("opened_at"))
        if opened is None:
            continue
        resolved = _instant(p.get("resolved_at")) or _instant(p.get("closed_at"))
        rows.append(
            TicketRow(
                source,
                p["key"],
                p.get("location"),
                p.get("category"),
                opened,
                resolved,
                p.get("requester_link"),
            )
        )
    return rows


@dataclass
class SupportTotals:
    """The tenant's ticket figures that the headline measures follow."""

    tickets: int = 0
    judged: int = 0
    within: int = 0
    hours: list[float] = field(default_factory=list)


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of a non-empty list (the 90th: `fraction` 0.9)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def support_by_unit(
    ctx: Context, fleet: Fleet, tickets: list[TicketRow]
) -> tuple[list[SupportByUnit], SupportTotals]:
    """Per unit and category (and `*`): volume, time to resolve, the service level."""
    policy = ctx.policy.support
    end = datetime.combine(ctx.as_of, time(), UTC) + timedelta(days=1)
    start = end - timedelta(days=policy.period_days)
    level = timedelta(hours=policy.service_level_hours)
    cells: dict[tuple[str, str], list[TicketRow]] = defaultdict(list)
    for ticket in tickets:
        if not start <= ticket.opened_at < end or not ticket.location:
            continue
        unit = ctx.directory.unit_by_hints([ticket.location])
        if unit is None:
            continue
        cells[(unit, ALL)].append(ticket)
        cells[(unit, (ticket.category or "").strip() or "-")].append(ticket)
    users = {
        unit: len(fleet.people.get((unit, Population.PUPILS), set()))
        + len(fleet.people.get((unit, Population.STAFF), set()))
        for unit in {u for u, _ in cells}
    }
    totals = SupportTotals()
    rows: list[SupportByUnit] = []
    for (unit, category), found in sorted(cells.items()):
        hours = [
            (t.resolved_at - t.opened_at).total_seconds() / 3600
            for t in found
            if t.resolved_at is not None and t.resolved_at < end
        ]
        open_past = sum(
            1 for t in found if (t.resolved_at is None or t.resolved_at >= end)
            and end - t.opened_at > level
        )  # fmt: skip
        within = sum(1 for h in hours if h <= policy.service_level_hours)
        requesters = len({t.requester for t in found if t.requester}) + sum(
            1 for t in found if not t.requester
        )
        if category == ALL:
            totals.tickets += len(found)
            totals.judged += len(hours) + open_past
            totals.within += within
            totals.hours.extend(hours)
        values, hidden = suppress(
            {
                "tickets": len(found),
                "tickets_per_100_users": rounded(100 * len(found) / users[unit])
                if users[unit]
                else None,
                "resolved": len(hours),
                "median_hours_to_resolve": rounded(median(hours)) if hours else None,
                "p90_hours_to_resolve": rounded(percentile(hours, 0.9)) if hours else None,
                "within_service_level_share": share(within, len(hours) + open_past),
            },
            SUPPORT_FIGURES,
            ctx.small(requesters) or ctx.small(users[unit]),
        )
        rows.append(
            SupportByUnit(
                tenant=ctx.tenant,
                key=f"{unit}|{category}",
                as_of=ctx.as_of,
                unit_key=unit,
                category=category,
                period_from=start.date(),
                users=None if ctx.small(users[unit]) else users[unit],
                suppressed=hidden,
                **values,
            )
        )
    return _complementary(rows), totals


def support_measures(totals: SupportTotals) -> dict[str, Measure]:
    """The tenant-wide support measures the trend follows: times and the service level.

    Tickets per 100 users is a unit figure only: a tenant-wide one would give the users,
    and with them a device-coverage headcount the complementary suppression hid.
    """
    return {
        "support_median_hours_to_resolve": Measure(
            rounded(median(totals.hours)) if totals.hours else None
        ),
        "support_within_service_level_share": Measure(share(totals.within, totals.judged)),
    }


def support_equity(
    rows: Sequence[SupportByUnit],
) -> dict[str, tuple[Direction, float | None, dict[str, float]]]:
    """The spread between schools of the share within the service level (published cells)."""
    values = {
        r.unit_key: r.within_service_level_share
        for r in rows
        if r.category == ALL and r.within_service_level_share is not None
    }
    return {"support_within_service_level_share": (Direction.HIGHER, None, values)}


def hide_hidden_users(
    rows: Sequence[SupportByUnit], coverage: Sequence[DeviceCoverage]
) -> list[SupportByUnit]:
    """Empty `users` and tickets per 100 users of a unit whose pupils' or staff headcount is hidden.

    Users are the unit's pupils plus staff: shown beside a published pupils headcount they
    would give back a staff headcount the device coverage hid (complementary suppression
    runs first). A row that hides other figures only (its exam pupils) keeps its
    headcount, and users hidden beside two published headcounts are their sum.
    """
    hidden = {
        r.unit_key
        for r in coverage
        if r.population in (Population.PUPILS, Population.STAFF) and "headcount" in r.suppressed
    }
    emptied = ("users", "tickets_per_100_users")
    return [
        row.model_copy(
            update={
                **dict.fromkeys(emptied),
                "suppressed": tuple(dict.fromkeys((*row.suppressed, *emptied))),
            }
        )
        if row.unit_key in hidden and row.users is not None
        else row
        for row in rows
    ]


def _complementary(rows: list[SupportByUnit]) -> list[SupportByUnit]:
    """Hide the smallest visible sibling of a lone hidden cell (categories of a unit; units)."""
    groups: dict[str, list[int]] = defaultdict(list)
    for index, row in enumerate(rows):
        groups[row.unit_key if row.category != ALL else ALL].append(index)
    hide: set[int] = set()
    for group in groups.values():
        hidden = [i for i in group if rows[i].suppressed]
        visible = [i for i in group if not rows[i].suppressed]
        if len(hidden) == 1 and visible:
            hide.add(min(visible, key=lambda i: (rows[i].tickets or 0, rows[i].key)))
    if not hide:
        return rows
    return [
        row.model_copy(update={**dict.fromkeys(SUPPORT_FIGURES), "suppressed": SUPPORT_FIGURES})
        if index in hide
        else row
        for index, row in enumerate(rows)
    ]
