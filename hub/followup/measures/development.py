"""Competence development: staff competence at the baseline and each follow-up measurement.

The Danish strategy follows staff competence from a starting point through dated
follow-up measurements. The policy names them (`baseline`, `measurements`); a snapshot
whose policy names measurements carries, per measurement day up to `as_of`, the
`competence_summary` cells of that day as they were published (the stored snapshot of the
day, compiled from the history when missing; `as_of`'s own cells after this snapshot's
suppression), and the change in each cell's completed share since the baseline.

Copying published cells, never recounting them, keeps a measurement's suppression what its
own snapshot published: a cell hidden then stays hidden in every later snapshot. The
change is a difference of two published shares, so it gives nothing away: it is empty
when either share is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from hub.policy import Policy
from schemas.followup import CompetenceDevelopment, CompetenceSummary

#: The figures a hidden baseline cell empties on the measurements' rows.
_FROM_BASELINE = ("baseline_share", "change")


def measurement_days(policy: Policy, baseline: date | None, as_of: date) -> list[date]:
    """The baseline and the follow-up measurements after it, up to `as_of`, oldest first.

    Empty when the policy names no measurements, or the baseline is after `as_of`.
    """
    if not policy.measurements or baseline is None or baseline > as_of:
        return []
    return [baseline, *sorted(d for d in set(policy.measurements) if baseline < d <= as_of)]


def _cell(row: CompetenceSummary) -> str:
    return f"{row.unit_key or ''}|{row.role}|{row.area}"


def competence_development(
    tenant: str,
    as_of: date,
    measured: Mapping[date, Sequence[CompetenceSummary]],
) -> list[CompetenceDevelopment]:
    """One row per measurement day × unit × role × area, copied from that day's cells.

    `measured` holds the published `competence_summary` rows of each day; its first day is
    the baseline. The change is filled in by `with_changes`, after suppression.
    """
    if not measured:
        return []
    baseline = min(measured)
    rows = [
        CompetenceDevelopment(
            tenant=tenant,
            key=f"{day}|{_cell(cell)}",
            as_of=as_of,
            measured_on=day,
            baseline_on=baseline,
            unit_key=cell.unit_key,
            role=cell.role,
            area=cell.area,
            staff=cell.staff,
            completed=cell.completed,
            completed_share=cell.completed_share,
            baseline_share=None,
            change=None,
            suppressed=tuple(
                n for n in cell.suppressed if n in ("staff", "completed", "completed_share")
            ),
        )
        for day, cells in sorted(measured.items())
        for cell in cells
    ]
    rows.sort(key=lambda r: r.key)
    return rows


def with_changes(rows: Sequence[CompetenceDevelopment]) -> list[CompetenceDevelopment]:
    """The rows with the baseline's share and the change since it, from the published shares."""
    at_baseline = {
        f"{r.unit_key or ''}|{r.role}|{r.area}": r for r in rows if r.measured_on == r.baseline_on
    }
    updated = []
    for row in rows:
        base = at_baseline.get(f"{row.unit_key or ''}|{row.role}|{row.area}")
        if row.measured_on == row.baseline_on or base is None or row.completed_share is None:
            updated.append(row)
            continue
        if base.completed_share is None:
            hidden = tuple(dict.fromkeys((*row.suppressed, *_FROM_BASELINE)))
            updated.append(row.model_copy(update={"suppressed": hidden}))
            continue
        updated.append(
            row.model_copy(
                update={
                    "baseline_share": base.completed_share,
                    "change": round(row.completed_share - base.completed_share, 4),
                }
            )
        )
    return updated


__all__ = ["competence_development", "measurement_days", "with_changes"]
