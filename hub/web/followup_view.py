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

from hub.followup.presentation import ENGLISH, PageLabels
from hub.followup.snapshots import Snapshot
from hub.web.charts import Bar, bar_chart, range_strip
from schemas.followup import (
    CompetenceByUnit,
    CompetenceDevelopment,
    CompetenceSummary,
    DataQuality,
    DeviceCoverage,
    DeviceLifecycle,
    DigitalSkills,
    EquipmentByUnit,
    Equity,
    LicenceOverview,
    LicenceUse,
    Population,
    RatioKind,
    SupportByUnit,
    Trend,
)

SUPPRESSED = "suppressed"


def share_text(value: float | None) -> str:
    """A share as a percentage, or a dash."""
    return "–" if value is None else f"{value * 100:.0f}%"


def _cell(row: Any, name: str, text: str, word: str = SUPPRESSED) -> str:
    return word if name in row.suppressed else text


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
    #: The role and the areas as the page's reader names them.
    title: str = ""
    area_titles: list[str] = field(default_factory=list)


@dataclass
class FollowupPage:
    """Everything the follow-up page of one tenant and day shows."""

    snapshot: Snapshot
    min_cell_size: int | None
    labels: PageLabels = ENGLISH
    coverage: list[CoverageSection] = field(default_factory=list)
    exam_chart: Markup | None = None
    competence: list[RoleMatrix] = field(default_factory=list)
    skills: list[DigitalSkills] = field(default_factory=list)
    equity: list[tuple[Equity, Markup]] = field(default_factory=list)
    trend: list[Trend] = field(default_factory=list)
    data_quality: list[DataQuality] = field(default_factory=list)
    unit_names: dict[str, str] = field(default_factory=dict)
    development: list[CompetenceDevelopment] = field(default_factory=list)
    #: Every role of a unit together, per area (`competence_by_unit`).
    by_unit: RoleMatrix | None = None
    #: Classrooms against the policy's minimum equipment, per school.
    equipment: list[EquipmentByUnit] = field(default_factory=list)
    #: Support tickets per school and category (`*` first).
    support: list[SupportByUnit] = field(default_factory=list)
    #: Purchased devices' life cycle per product family (`*` first).
    lifecycle: list[DeviceLifecycle] = field(default_factory=list)
    #: The central purchasing overview (`licence_overview`) and use per school.
    licences: list[LicenceOverview] = field(default_factory=list)
    licence_use: RoleMatrix | None = None


def _coverage_bar(row: DeviceCoverage, labels: PageLabels = ENGLISH) -> Bar:
    if row.ratio is None:
        reason = labels.suppressed if "ratio" in row.suppressed else labels.no_people
        return Bar(row.unit_key, row.unit_name, None, reason)
    if row.ratio_kind is RatioKind.CHILDREN_PER_DEVICE:
        text = f"{row.ratio:.1f} {labels.children_per_device}"
    else:
        text = f"{row.ratio:.2f} ({row.devices}/{row.headcount})"
    return Bar(row.unit_key, row.unit_name, row.ratio, text, row.meets_target)


def coverage_section(
    population: Population, rows: list[DeviceCoverage], labels: PageLabels = ENGLISH
) -> CoverageSection:
    """The chart of one population: one bar per unit and the target line."""
    rows = sorted(rows, key=lambda r: (r.unit_name, r.unit_key))
    target = rows[0].target if rows else None
    per_device = bool(rows) and rows[0].ratio_kind is RatioKind.CHILDREN_PER_DEVICE
    word = labels.target
    target_text = (
        "" if target is None else (f"{word} ≤ {target:g}" if per_device else f"{word} {target:g}")
    )
    title = labels.population_titles[population.value]
    chart = bar_chart(
        [_coverage_bar(r, labels) for r in rows],
        css_class=f"coverage coverage-{population.value}",
        title=title,
        target=target,
        target_text=target_text,
    )
    return CoverageSection(population, title, chart, rows, len(rows))


def exam_chart(rows: list[DeviceCoverage], labels: PageLabels = ENGLISH) -> Markup | None:
    """Exam readiness share per school, for the schools with pupils in the exam grades."""
    pupils = [r for r in rows if r.population is Population.PUPILS and r.exam_pupils != 0]
    if not pupils:
        return None
    bars = [
        Bar(
            r.unit_key,
            r.unit_name,
            r.exam_ready_share,
            _cell(
                r,
                "exam_ready_share",
                f"{share_text(r.exam_ready_share)} {labels.of} {r.exam_pupils}",
                labels.suppressed,
            ),
        )
        for r in sorted(pupils, key=lambda r: (r.unit_name, r.unit_key))
    ]
    return bar_chart(bars, css_class="exam", title=labels.exam_chart, scale=1.0)


def _competence_cell(
    row: CompetenceSummary | CompetenceByUnit, labels: PageLabels = ENGLISH
) -> Cell:
    """Within the requirement where the role must have the area, else completed at all."""
    name, value = (
        ("within_share", row.within_share)
        if row.required
        else ("completed_share", row.completed_share)
    )
    if name in row.suppressed:
        return Cell(labels.suppressed, suppressed=True, required=row.required)
    return Cell(f"{share_text(value)} {labels.of} {row.staff}", required=row.required)


def competence_matrices(
    summaries: list[CompetenceSummary], unit_names: dict[str, str], labels: PageLabels = ENGLISH
) -> list[RoleMatrix]:
    """A unit × area matrix per role, units by name."""
    areas = sorted({r.area.value for r in summaries})
    cells: dict[str, dict[str, dict[str, Cell]]] = defaultdict(lambda: defaultdict(dict))
    for row in summaries:
        unit = unit_names.get(row.unit_key or "", row.unit_key or labels.no_unit)
        cells[row.role][unit][row.area.value] = _competence_cell(row, labels)
    return [
        RoleMatrix(
            role,
            areas,
            [
                (unit, [by_area.get(area, Cell("–")) for area in areas])
                for unit, by_area in sorted(units.items())
            ],
            labels.role(role),
            [labels.area(a) for a in areas],
        )
        for role, units in sorted(cells.items())
    ]


def unit_matrix(
    rows: list[CompetenceByUnit], unit_names: dict[str, str], labels: PageLabels = ENGLISH
) -> RoleMatrix | None:
    """A unit × area matrix of all roles together, units by name; None without rows."""
    if not rows:
        return None
    areas = sorted({r.area.value for r in rows})
    cells: dict[str, dict[str, Cell]] = defaultdict(dict)
    for row in rows:
        unit = unit_names.get(row.unit_key or "", row.unit_key or labels.no_unit)
        cells[unit][row.area.value] = _competence_cell(row, labels)
    return RoleMatrix(
        "",
        areas,
        [
            (unit, [by_area.get(a, Cell("–")) for a in areas])
            for unit, by_area in sorted(cells.items())
        ],
        labels.by_unit,
        [labels.area(a) for a in areas],
    )


def build_page(
    snapshot: Snapshot, min_cell_size: int | None, labels: PageLabels = ENGLISH
) -> FollowupPage:
    """Arrange a snapshot's records for the page, in the words of `labels`."""
    page = FollowupPage(snapshot, min_cell_size, labels)
    coverage = [r for r in snapshot.rows("device_coverage") if isinstance(r, DeviceCoverage)]
    for population in Population:
        rows = [r for r in coverage if r.population is population]
        if rows:
            page.coverage.append(coverage_section(population, rows, labels))
    page.exam_chart = exam_chart(coverage, labels)

    names = {r.unit_key: r.unit_name for r in coverage}
    summaries = [r for r in snapshot.rows("competence_summary") if isinstance(r, CompetenceSummary)]
    page.competence = competence_matrices(summaries, names, labels)
    page.by_unit = unit_matrix(
        [r for r in snapshot.rows("competence_by_unit") if isinstance(r, CompetenceByUnit)],
        names,
        labels,
    )
    page.development = [
        r for r in snapshot.rows("competence_development") if isinstance(r, CompetenceDevelopment)
    ]
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
    page.equipment = [
        r for r in snapshot.rows("equipment_by_unit") if isinstance(r, EquipmentByUnit)
    ]
    page.support = sorted(
        (r for r in snapshot.rows("support_by_unit") if isinstance(r, SupportByUnit)),
        key=lambda r: (r.unit_key, r.category != "*", r.category),
    )
    page.lifecycle = sorted(
        (r for r in snapshot.rows("device_lifecycle") if isinstance(r, DeviceLifecycle)),
        key=lambda r: (r.product_family != "*", r.product_family),
    )
    from hub.web.licence_view import licence_matrix  # beside this module, which it builds on

    page.licences = [r for r in snapshot.rows("licence_overview") if isinstance(r, LicenceOverview)]
    page.licence_use = licence_matrix(
        [r for r in snapshot.rows("licence_use") if isinstance(r, LicenceUse)],
        page.licences,
        names,
        labels,
    )
    return page
