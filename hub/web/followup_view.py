"""A tenant's follow-up snapshot arranged for the page: charts and tables, suppression kept.

Every figure comes from the stored records as compiled, so a cell the compiler
suppressed (fewer people than the tenant's `min_cell_size`) is shown as suppressed here
exactly as it is empty in an extract; nothing on this page recomputes a figure from
the people behind it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup

from hub.followup.snapshots import Snapshot
from hub.web.charts import Bar, bar_chart, range_strip
from schemas.followup import (
    CompetenceSummary,
    DataQuality,
    DeviceCoverage,
    DigitalSkills,
    Equity,
    Population,
    RatioKind,
    Trend,
)

SUPPRESSED = "suppressed"
_POPULATION_TITLES = {
    Population.PUPILS: "Pupils: personal devices per pupil, per school",
    Population.STAFF: "Staff: personal devices per staff member, per unit",
    Population.PRESCHOOL: "Preschool: children per shared device, per unit (lower is better)",
}


def share_text(value: float | None) -> str:
    """A share as a percentage, or a dash."""
    return "–" if value is None else f"{value * 100:.0f}%"


def _cell(row: Any, name: str, text: str) -> str:
    return SUPPRESSED if name in row.suppressed else text


@dataclass
class CoverageSection:
    """One population's coverage chart and the per-unit device table under it."""

    population: Population
    title: str
    chart: Markup
    rows: list[DeviceCoverage]
    units: int


@dataclass(frozen=True)
class Cell:
    """One figure of a table: its text, and whether the compiler suppressed it."""

    text: str
    suppressed: bool = False
    required: bool = False


@dataclass
class RoleMatrix:
    """One staff role's competence: a row per unit, a column per competence area."""

    role: str
    areas: list[str]
    rows: list[tuple[str, list[Cell]]]


@dataclass
class FollowupPage:
    """Everything the follow-up page of one tenant and day shows."""

    snapshot: Snapshot
    min_cell_size: int | None
    coverage: list[CoverageSection] = field(default_factory=list)
    exam_chart: Markup | None = None
    competence: list[RoleMatrix] = field(default_factory=list)
    skills: list[DigitalSkills] = field(default_factory=list)
    equity: list[tuple[Equity, Markup]] = field(default_factory=list)
    trend: list[Trend] = field(default_factory=list)
    data_quality: list[DataQuality] = field(default_factory=list)
    unit_names: dict[str, str] = field(default_factory=dict)


def _coverage_bar(row: DeviceCoverage) -> Bar:
    if row.ratio is None:
        reason = SUPPRESSED if "ratio" in row.suppressed else "no people"
        return Bar(row.unit_key, row.unit_name, None, reason)
    if row.ratio_kind is RatioKind.CHILDREN_PER_DEVICE:
        text = f"{row.ratio:.1f} children/device"
    else:
        text = f"{row.ratio:.2f} ({row.devices}/{row.headcount})"
    return Bar(row.unit_key, row.unit_name, row.ratio, text, row.meets_target)


def coverage_section(population: Population, rows: list[DeviceCoverage]) -> CoverageSection:
    """The chart of one population: one bar per unit and the target line."""
    rows = sorted(rows, key=lambda r: (r.unit_name, r.unit_key))
    target = rows[0].target if rows else None
    per_device = bool(rows) and rows[0].ratio_kind is RatioKind.CHILDREN_PER_DEVICE
    target_text = (
        "" if target is None else (f"target ≤ {target:g}" if per_device else f"target {target:g}")
    )
    chart = bar_chart(
        [_coverage_bar(r) for r in rows],
        css_class=f"coverage coverage-{population.value}",
        title=_POPULATION_TITLES[population],
        target=target,
        target_text=target_text,
    )
    return CoverageSection(population, _POPULATION_TITLES[population], chart, rows, len(rows))


def exam_chart(rows: list[DeviceCoverage]) -> Markup | None:
    """Exam readiness share per school, for the schools with pupils in the exam grades."""
    pupils = [r for r in rows if r.population is Population.PUPILS and r.exam_pupils != 0]
    if not pupils:
        return None
    bars = [
        Bar(
            r.unit_key,
            r.unit_name,
            r.exam_ready_share,
            _cell(r, "exam_ready_share", f"{share_text(r.exam_ready_share)} of {r.exam_pupils}"),
        )
        for r in sorted(pupils, key=lambda r: (r.unit_name, r.unit_key))
    ]
    return bar_chart(bars, css_class="exam", title="Exam readiness per school", scale=1.0)


def _competence_cell(row: CompetenceSummary) -> Cell:
    """Within the requirement where the role must have the area, else completed at all."""
    name, value = (
        ("within_share", row.within_share)
        if row.required
        else ("completed_share", row.completed_share)
    )
    if name in row.suppressed:
        return Cell(SUPPRESSED, suppressed=True, required=row.required)
    return Cell(f"{share_text(value)} of {row.staff}", required=row.required)


def competence_matrices(
    summaries: list[CompetenceSummary], unit_names: dict[str, str]
) -> list[RoleMatrix]:
    """A unit × area matrix per role, units by name."""
    areas = sorted({r.area.value for r in summaries})
    cells: dict[str, dict[str, dict[str, Cell]]] = defaultdict(lambda: defaultdict(dict))
    for row in summaries:
        unit = unit_names.get(row.unit_key or "", row.unit_key or "(no unit)")
        cells[row.role][unit][row.area.value] = _competence_cell(row)
    return [
        RoleMatrix(
            role,
            areas,
            [
                (unit, [by_area.get(area, Cell("–")) for area in areas])
                for unit, by_area in sorted(units.items())
            ],
        )
        for role, units in sorted(cells.items())
    ]


def build_page(snapshot: Snapshot, min_cell_size: int | None) -> FollowupPage:
    """Arrange a snapshot's records for the page."""
    page = FollowupPage(snapshot, min_cell_size)
    coverage = [r for r in snapshot.rows("device_coverage") if isinstance(r, DeviceCoverage)]
    for population in Population:
        rows = [r for r in coverage if r.population is population]
        if rows:
            page.coverage.append(coverage_section(population, rows))
    page.exam_chart = exam_chart(coverage)

    names = {r.unit_key: r.unit_name for r in coverage}
    summaries = [r for r in snapshot.rows("competence_summary") if isinstance(r, CompetenceSummary)]
    page.competence = competence_matrices(summaries, names)
    page.unit_names = names
    page.skills = sorted(
        (r for r in snapshot.rows("digital_skills") if isinstance(r, DigitalSkills)),
        key=lambda r: (r.grade, r.unit_key, r.objective),
    )
    for row in snapshot.rows("equity"):
        if isinstance(row, Equity):
            scale = max(1.0, row.max or 0.0, row.target or 0.0)
            strip = range_strip(row.min, row.median, row.max, target=row.target, scale=scale)
            page.equity.append((row, strip))
    page.trend = [r for r in snapshot.rows("trend") if isinstance(r, Trend)]
    page.data_quality = [r for r in snapshot.rows("data_quality") if isinstance(r, DataQuality)]
    return page
