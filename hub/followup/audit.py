"""Audit published follow-up tables: could a reader work out a suppressed cell from them.

Every published figure is read as a linear constraint on the suppressed ones, the way a
reader with the extract folder, a spreadsheet and some patience would read it:

- **totals**: a course is the sum of its classes; the tenant's pupils, staff and children
  (the trend) are the sums of the units' headcounts; the roles of a unit's staff add up to
  the unit's staff headcount in every competence area;
- **equal cells**: a unit's staff of one role is the same people in every competence area
  (at `as_of`, and at each measurement of `competence_development`), and a grade's pupils
  the same in every digital-skills objective;
- **unit rows**: a unit's `competence_by_unit` row in an area is the sum of its
  `competence_summary` role cells there (staff, completed, within the requirement of the
  roles it is required of), its staff the same in every area and the unit's staff
  headcount; the tenant's competence shares (the trend) are the unit rows' sums too;
- **person rows**: the `staff_competence` rows of one unit, role and area count its
  `competence_summary` cell (its staff, completed and within-requirement figures);
- **shares times their denominators**: every share or ratio, in a row or tenant-wide,
  rounded to 4 decimals, bounds its numerator against its denominator
  (`(r - 0.00005) * den <= num <= (r + 0.00005) * den`);
- **parts**: a part of a cell is at most the cell (completed ≤ students, ...).

Suppressed figures are unknown non-negative integers; bound propagation over the
constraints tightens their intervals to a fixed point. A family of constraints that a fully
published instance contradicts (say, classes that share students, so that a course is
less than the sum of its classes) is not what the data are, and is dropped whole. A fully
published instance is checked as it is read and then let go: the audit keeps only the
relations that hold a suppressed figure, so its memory follows what is hidden, not the
size of the tenant (over 100,000 relations at 100,000 people, a few thousand hidden).

A **finding** is a suppressed cell (a count of people: a unit's headcount or exam pupils,
a competence cell's staff, a grade's pupils, a class's students) determined exactly or
bounded to an interval narrower than the minimum cell size; a count hidden by the
denominator rule (pupils meeting an objective, when fewer than the minimum were
assessed) determined exactly; a published cell of people under the minimum; or a
published share, or its numerator, over a denominator of people under the minimum.
`audit_extract` reads an extract folder; `audit_tables` is what the compiler's
complementary suppression (`hub.followup.suppression`) runs on the rows it would publish.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import re
import typing
from collections import defaultdict, deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from schemas.followup import RECORD_TYPES_BY_NAME, FollowupRecord

#: A published share's rounding: 4 decimals, so the true value is within half a unit of it.
ROUNDING = 0.00005 + 1e-9
_SLACK = 1e-7  # floating-point slack when rounding a bound to an integer
_INF = math.inf

Row = Mapping[str, Any]
Tables = Mapping[str, Sequence[Row]]

#: The figures that are a cell of people: what suppression protects, per record.
CELL_FIGURES: dict[str, tuple[str, ...]] = {
    "device_coverage": ("headcount", "exam_pupils"),
    "competence_summary": ("staff",),
    "digital_skills": ("pupils",),
    "course_participation": ("students",),
    "competence_development": ("staff",),
    "competence_by_unit": ("staff",),
    "licence_overview": ("held_by_active", "held_by_left"),
    "licence_use": ("holders",),
    "support_by_unit": ("users",),
}


@dataclass(frozen=True)
class RowShare:
    """A share (or ratio) of a row: `share = numerator / denominator`, 4 decimals."""

    record: str
    share: str
    numerator: str
    denominator: str
    #: The denominator counts people (the denominator rule applies to it).
    people: bool = True
    #: Which rows it applies to (device coverage's ratio reads either way).
    applies: Callable[[Row], bool] = lambda row: True


def _preschool(row: Row) -> bool:
    return row.get("population") == "preschool"


#: Every share a row publishes. The compiler's denominator rule and the audit both read it.
ROW_SHARES: tuple[RowShare, ...] = (
    RowShare(
        "device_coverage", "ratio", "devices", "headcount", applies=lambda r: not _preschool(r)
    ),
    RowShare("device_coverage", "ratio", "headcount", "devices", people=False, applies=_preschool),
    RowShare("device_coverage", "exam_ready_share", "exam_ready", "exam_pupils"),
    RowShare("device_coverage", "people_with_device_share", "people_with_device", "headcount"),
    RowShare("competence_summary", "completed_share", "completed", "staff"),
    RowShare("competence_summary", "within_share", "within_requirement", "staff"),
    RowShare("digital_skills", "assessed_share", "assessed", "pupils"),
    RowShare("digital_skills", "meeting_share", "meeting", "assessed"),
    RowShare("course_participation", "completion_rate", "completed", "students"),
    RowShare("competence_development", "completed_share", "completed", "staff"),
    RowShare("competence_by_unit", "completed_share", "completed", "staff"),
    RowShare("competence_by_unit", "within_share", "within_requirement", "staff"),
    RowShare("licence_overview", "use_share", "held_by_active", "bought", people=False),
)

#: Parts of a row's cell: a part is at most its whole.
_PARTS: tuple[tuple[str, str, str], ...] = (
    ("device_coverage", "people_with_device", "headcount"),
    ("device_coverage", "exam_pupils", "headcount"),
    ("device_coverage", "exam_ready", "exam_pupils"),
    ("competence_summary", "completed", "staff"),
    ("competence_summary", "within_requirement", "staff"),
    ("digital_skills", "assessed", "pupils"),
    ("digital_skills", "meeting", "assessed"),
    ("course_participation", "completed", "students"),
    ("competence_development", "completed", "staff"),
    ("competence_by_unit", "completed", "staff"),
    ("competence_by_unit", "within_requirement", "staff"),
)

_POPULATION_TOTALS = {"pupils": "pupils", "staff": "staff", "preschool": "children"}


def row_key(record: str, row: Row) -> str:
    """A row's key within its record, rebuilt from its columns (extracts leave `key` out)."""
    if record == "device_coverage":
        return f"{row['unit_key']}|{row['population']}"
    if record in ("competence_summary", "staff_competence"):
        return f"{row.get('unit_key') or ''}|{row['role']}|{row['area']}"
    if record == "digital_skills":
        return f"{row['unit_key']}|{row['grade']}|{row['objective']}"
    if record == "course_participation":
        own = row["class_key"] if row["level"] == "class" else row["course_key"]
        return f"{row['level']}|{row['lms_source']}|{own}"
    if record == "trend":
        return str(row["measure"])
    if record == "competence_development":
        return f"{row['measured_on']}|{row.get('unit_key') or ''}|{row['role']}|{row['area']}"
    if record == "competence_by_unit":
        return f"{row.get('unit_key') or ''}|{row['area']}"
    if record == "licence_overview":
        return f"{row['licence_source']}|{row['pool_key']}"
    if record == "licence_use":
        return f"{row['licence_source']}|{row['pool_key']}|{row.get('unit_key') or ''}"
    if record == "support_by_unit":
        return f"{row['unit_key']}|{row['category']}"
    return str(row.get("key", ""))


@dataclass(frozen=True, order=True, slots=True)
class Cell:
    """One figure of one published row."""

    record: str
    key: str
    field: str

    def __str__(self) -> str:
        return f"{self.record} [{self.key}] {self.field}"


@dataclass(frozen=True, slots=True)
class Term:
    """`coefficient × cell`, with the cell's published value (None when suppressed)."""

    coefficient: float
    cell: Cell
    value: float | None


@dataclass(frozen=True, slots=True)
class Constraint:
    """`low <= Σ terms <= high`, one instance of a family of relations between figures."""

    family: str
    terms: tuple[Term, ...]
    low: float
    high: float

    @property
    def unknowns(self) -> list[Term]:
        """The terms whose cell is suppressed."""
        return [t for t in self.terms if t.value is None]


class FindingKind(StrEnum):
    """How a cell is given away."""

    EXACT = "exact"
    NARROW = "narrow"
    SMALL_CELL = "small_cell"
    SMALL_DENOMINATOR = "small_denominator"


@dataclass(frozen=True, slots=True)
class Finding:
    """A cell a reader can work out (or that is published although it should not be)."""

    cell: Cell
    kind: FindingKind
    low: float
    high: float
    families: tuple[str, ...] = ()

    def describe(self, min_cell_size: int) -> str:
        """One line for a person."""
        via = f" (relations: {', '.join(self.families)})" if self.families else ""
        if self.kind is FindingKind.EXACT:
            return f"{self.cell}: suppressed, but is exactly {_num(self.low)}{via}"
        if self.kind is FindingKind.NARROW:
            return (
                f"{self.cell}: suppressed, but lies in [{_num(self.low)}, {_num(self.high)}], "
                f"narrower than the minimum cell size {min_cell_size}{via}"
            )
        if self.kind is FindingKind.SMALL_CELL:
            return f"{self.cell}: published cell of {_num(self.low)}, under {min_cell_size}"
        return (
            f"{self.cell}: published over a denominator of {_num(self.low)} people, "
            f"under {min_cell_size}"
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "record": self.cell.record,
            "key": self.cell.key,
            "field": self.cell.field,
            "kind": str(self.kind),
            "low": self.low,
            "high": None if self.high == _INF else self.high,
            "families": list(self.families),
        }


@dataclass
class Audit:
    """What the audit found, and the constraints it read."""

    min_cell_size: int
    findings: list[Finding] = field(default_factory=list)
    #: The relations that hold a suppressed figure (a fully published one is only checked).
    constraints: list[Constraint] = field(default_factory=list)
    #: Every relation read, fully published ones included.
    relations_read: int = 0
    bounds: dict[Cell, tuple[float, float]] = field(default_factory=dict)
    #: Families dropped because a fully published instance contradicts them.
    dropped: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No suppressed cell can be worked out and no small cell is published."""
        return not self.findings

    def lines(self) -> list[str]:
        """The findings, one line each."""
        return [f.describe(self.min_cell_size) for f in self.findings]


def _num(value: float) -> str:
    return "∞" if value == _INF else f"{value:g}"


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    return float(value)


class _Builder:
    """Collects the constraints on suppressed figures from published rows.

    A constraint without a suppressed figure is checked as it is made and not kept: its
    family is `broken` when it does not hold.
    """

    def __init__(self, tables: Tables) -> None:
        self.rows: dict[str, list[tuple[str, Row]]] = {
            record: [(row_key(record, row), row) for row in rows] for record, rows in tables.items()
        }
        self.constraints: list[Constraint] = []
        self.read = 0
        self.broken: set[str] = set()

    def term(self, coefficient: float, record: str, key: str, row: Row, name: str) -> Term:
        return Term(coefficient, Cell(record, key, name), _number(row.get(name)))

    def add(self, family: str, terms: Sequence[Term], low: float, high: float) -> None:
        if not terms:
            return
        self.read += 1
        constraint = Constraint(family, tuple(terms), low, high)
        if constraint.unknowns:
            self.constraints.append(constraint)
        elif not _consistent(constraint):
            self.broken.add(family)

    def total(self, family: str, parts: Sequence[Term], whole: Term | float) -> None:
        """Σ parts = whole (a published number or a cell)."""
        if isinstance(whole, Term):
            self.add(family, [*parts, Term(-whole.coefficient, whole.cell, whole.value)], 0, 0)
        else:
            self.add(family, parts, whole, whole)

    def ratio(
        self, family: str, share: float, numerator: Sequence[Term], denominator: Sequence[Term]
    ) -> None:
        """`share` (4 decimals) = Σ numerator / Σ denominator, as two inequalities."""
        for slope, low, high in ((share + ROUNDING, -_INF, 0.0), (share - ROUNDING, 0.0, _INF)):
            terms = [
                *numerator,
                *(Term(-slope * t.coefficient, t.cell, t.value) for t in denominator),
            ]
            self.add(family, terms, low, high)

    def build(self) -> list[Constraint]:
        self._row_relations()
        self._courses()
        self._competence()
        self._by_unit()
        self._skills()
        self._development()
        self._tenant()
        self._licences()
        self._support()
        return self.constraints

    def _row_relations(self) -> None:
        for spec in ROW_SHARES:
            for key, row in self.rows.get(spec.record, ()):
                value = _number(row.get(spec.share))
                if value is None or not spec.applies(row):
                    continue
                self.ratio(
                    f"{spec.record}.{spec.share}",
                    value,
                    [self.term(1, spec.record, key, row, spec.numerator)],
                    [self.term(1, spec.record, key, row, spec.denominator)],
                )
        for record, part, whole in _PARTS:
            for key, row in self.rows.get(record, ()):
                if row.get(part) is None and row.get(whole) is None:
                    continue
                self.add(
                    f"{record}.{part} <= {whole}",
                    [self.term(1, record, key, row, part), self.term(-1, record, key, row, whole)],
                    -_INF,
                    0,
                )

    def _licences(self) -> None:
        """A product's active holders are the sum of its rows per school."""
        units: dict[str, list[tuple[str, Row]]] = defaultdict(list)
        for key, row in self.rows.get("licence_use", ()):
            units[f"{row['licence_source']}|{row['pool_key']}"].append((key, row))
        for key, row in self.rows.get("licence_overview", ()):
            members = units.get(key)
            if members:
                self.total(
                    "product = Σ schools (licences held by active people)",
                    [self.term(1, "licence_use", k, r, "holders") for k, r in members],
                    self.term(1, "licence_overview", key, row, "held_by_active"),
                )

    def _support(self) -> None:
        """A school's support users are its pupils and staff as device coverage counts them."""
        coverage = dict(self.rows.get("device_coverage", ()))
        for key, row in self.rows.get("support_by_unit", ()):
            parts = [f"{row['unit_key']}|{population}" for population in ("pupils", "staff")]
            present = [(k, coverage[k]) for k in parts if k in coverage]
            if present:
                self.total(
                    "school's support users = its pupils + staff (device coverage)",
                    [self.term(1, "device_coverage", k, r, "headcount") for k, r in present],
                    self.term(1, "support_by_unit", key, row, "users"),
                )

    def _courses(self) -> None:
        record = "course_participation"
        classes: dict[tuple[str, str], list[tuple[str, Row]]] = defaultdict(list)
        courses: dict[tuple[str, str], tuple[str, Row]] = {}
        for key, row in self.rows.get(record, ()):
            where = (str(row["lms_source"]), str(row["course_key"]))
            if row["level"] == "class":
                classes[where].append((key, row))
            else:
                courses[where] = (key, row)
        for where, members in sorted(classes.items()):
            if where not in courses:
                continue
            course_key, course = courses[where]
            for name in ("students", "teachers", "others", "completed"):
                self.total(
                    f"course = Σ classes ({name})",
                    [self.term(1, record, k, r, name) for k, r in members],
                    self.term(1, record, course_key, course, name),
                )

    def _competence(self) -> None:
        summary = self.rows.get("competence_summary", ())
        people: dict[str, list[Row]] = defaultdict(list)
        for key, row in self.rows.get("staff_competence", ()):
            people[key].append(row)
        for key, row in summary:
            listed = people.get(key, [])
            if not listed:  # a suppressed cell's person rows are withheld, or there are none
                continue
            record = "competence_summary"
            self.total(
                "person rows = cell (staff)",
                [self.term(1, record, key, row, "staff")],
                sum(_person_rows(p) for p in listed),
            )
            self.total(
                "person rows = cell (completed)",
                [self.term(1, record, key, row, "completed")],
                sum(_person_rows(p) for p in listed if _truthy(p.get("completed"))),
            )
            if _truthy(row.get("required")):
                self.total(
                    "person rows = cell (within_requirement)",
                    [self.term(1, record, key, row, "within_requirement")],
                    sum(_person_rows(p) for p in listed if _truthy(p.get("within_requirement"))),
                )
        by_unit_role: dict[tuple[str, str], list[tuple[str, Row]]] = defaultdict(list)
        by_unit_area: dict[tuple[str, str], list[tuple[str, Row]]] = defaultdict(list)
        for key, row in summary:
            unit = row.get("unit_key") or ""
            by_unit_role[(unit, str(row["role"]))].append((key, row))
            by_unit_area[(unit, str(row["area"]))].append((key, row))
        for cells in by_unit_role.values():
            for (k1, r1), (k2, r2) in zip(cells, cells[1:], strict=False):
                self.total(
                    "a role's staff is the same in every area",
                    [self.term(1, "competence_summary", k1, r1, "staff")],
                    self.term(1, "competence_summary", k2, r2, "staff"),
                )
        coverage = dict(self.rows.get("device_coverage", ()))
        for (unit, _area), cells in sorted(by_unit_area.items()):
            staff_row = coverage.get(f"{unit}|staff")
            if not unit or staff_row is None:
                continue
            self.total(
                "roles = unit staff headcount",
                [self.term(1, "competence_summary", k, r, "staff") for k, r in cells],
                self.term(1, "device_coverage", f"{unit}|staff", staff_row, "headcount"),
            )

    def _by_unit(self) -> None:
        """A unit's all-roles row: the sum of its role cells, the same staff in every area."""
        record = "competence_by_unit"
        units = self.rows.get(record, ())
        if not units:
            return
        roles: dict[tuple[str, str], list[tuple[str, Row]]] = defaultdict(list)
        for key, row in self.rows.get("competence_summary", ()):
            roles[(row.get("unit_key") or "", str(row["area"]))].append((key, row))
        by_unit: dict[str, list[tuple[str, Row]]] = defaultdict(list)
        for key, row in units:
            unit = row.get("unit_key") or ""
            by_unit[unit].append((key, row))
            cells = roles.get((unit, str(row["area"])), [])
            if not cells:
                continue
            for name in ("staff", "completed"):
                self.total(
                    f"unit row = Σ role cells ({name})",
                    [self.term(1, "competence_summary", k, r, name) for k, r in cells],
                    self.term(1, record, key, row, name),
                )
            if _truthy(row.get("required")):
                self.total(
                    "unit row = Σ role cells (within_requirement)",
                    [
                        self.term(1, "competence_summary", k, r, "within_requirement")
                        for k, r in cells
                        if _truthy(r.get("required"))
                    ],
                    self.term(1, record, key, row, "within_requirement"),
                )
        coverage = dict(self.rows.get("device_coverage", ()))
        for unit, cells in by_unit.items():
            for (k1, r1), (k2, r2) in zip(cells, cells[1:], strict=False):
                self.total(
                    "a unit's staff is the same in every area",
                    [self.term(1, record, k1, r1, "staff")],
                    self.term(1, record, k2, r2, "staff"),
                )
            staff_row = coverage.get(f"{unit}|staff")
            if unit and staff_row is not None and cells:
                k, r = cells[0]
                self.total(
                    "unit row = unit staff headcount",
                    [self.term(1, record, k, r, "staff")],
                    self.term(1, "device_coverage", f"{unit}|staff", staff_row, "headcount"),
                )

    def _skills(self) -> None:
        by_grade: dict[tuple[str, str], list[tuple[str, Row]]] = defaultdict(list)
        for key, row in self.rows.get("digital_skills", ()):
            by_grade[(str(row["unit_key"]), str(row["grade"]))].append((key, row))
        for cells in by_grade.values():
            for (k1, r1), (k2, r2) in zip(cells, cells[1:], strict=False):
                self.total(
                    "a grade's pupils are the same in every objective",
                    [self.term(1, "digital_skills", k1, r1, "pupils")],
                    self.term(1, "digital_skills", k2, r2, "pupils"),
                )

    def _development(self) -> None:
        by_day_unit_role: dict[tuple[str, str, str], list[tuple[str, Row]]] = defaultdict(list)
        for key, row in self.rows.get("competence_development", ()):
            where = (str(row["measured_on"]), row.get("unit_key") or "", str(row["role"]))
            by_day_unit_role[where].append((key, row))
        for cells in by_day_unit_role.values():
            for (k1, r1), (k2, r2) in zip(cells, cells[1:], strict=False):
                self.total(
                    "a measurement's role staff is the same in every area",
                    [self.term(1, "competence_development", k1, r1, "staff")],
                    self.term(1, "competence_development", k2, r2, "staff"),
                )

    def _tenant(self) -> None:
        trend = {key: row for key, row in self.rows.get("trend", ())}
        coverage = self.rows.get("device_coverage", ())
        skills = self.rows.get("digital_skills", ())
        summary = self.rows.get("competence_summary", ())
        by_unit = self.rows.get("competence_by_unit", ())

        def of(record: str, rows: Sequence[tuple[str, Row]], name: str) -> list[Term]:
            return [self.term(1, record, k, r, name) for k, r in rows]

        def trend_value(measure: str) -> float | None:
            row = trend.get(measure)
            return None if row is None else _number(row.get("value"))

        for population, measure in _POPULATION_TOTALS.items():
            rows = [(k, r) for k, r in coverage if r.get("population") == population]
            if measure in trend and rows:
                self.total(
                    f"units = tenant {measure} (trend)",
                    of("device_coverage", rows, "headcount"),
                    self.term(1, "trend", measure, trend[measure], "value"),
                )
        shares: list[tuple[str, list[Term], list[Term]]] = []
        for population, measure, counted in (
            ("pupils", "devices_per_pupil", "devices"),
            ("staff", "devices_per_staff", "devices"),
            ("pupils", "pupils_with_device_share", "people_with_device"),
            ("staff", "staff_with_device_share", "people_with_device"),
        ):
            rows = [(k, r) for k, r in coverage if r.get("population") == population]
            shares.append(
                (
                    measure,
                    of("device_coverage", rows, counted),
                    of("device_coverage", rows, "headcount"),
                )
            )
        preschool = [(k, r) for k, r in coverage if r.get("population") == "preschool"]
        shares.append(
            (
                "preschool_children_per_shared_device",
                of("device_coverage", preschool, "headcount"),
                of("device_coverage", preschool, "devices"),
            )
        )
        pupils = [(k, r) for k, r in coverage if r.get("population") == "pupils"]
        shares.append(
            (
                "exam_ready_share",
                of("device_coverage", pupils, "exam_ready"),
                of("device_coverage", pupils, "exam_pupils"),
            )
        )
        shares.append(
            (
                "digital_skills_assessed_share",
                of("digital_skills", skills, "assessed"),
                of("digital_skills", skills, "pupils"),
            )
        )
        shares.append(
            (
                "digital_skills_meeting_share",
                of("digital_skills", skills, "meeting"),
                of("digital_skills", skills, "assessed"),
            )
        )
        for measure in trend:
            found = _AREA_SHARE.fullmatch(measure)
            if found is None:
                continue
            area, kind = found.groups()
            counted = "completed" if kind == "completed" else "within_requirement"
            cells = [(k, r) for k, r in summary if str(r["area"]) == area]
            required = [(k, r) for k, r in cells if _truthy(r.get("required"))]
            # The unit rows of the area add up to the same tenant figures: every staff
            # member counts in one unit; within the requirement only when the area is
            # required of every role (else the trend's denominator is the required staff).
            units = [(k, r) for k, r in by_unit if str(r["area"]) == area]
            if kind == "within" and not (cells and len(required) == len(cells)):
                units = []
            for record, rows in (
                ("competence_summary", required if kind == "within" else cells),
                ("competence_by_unit", units),
            ):
                if rows:
                    shares.append((measure, of(record, rows, counted), of(record, rows, "staff")))
        competence_courses = [
            (k, r)
            for k, r in self.rows.get("course_participation", ())
            if r["level"] == "course" and r.get("competence_areas")
        ]
        shares.append(
            (
                "competence_course_completion_rate",
                of("course_participation", competence_courses, "completed"),
                of("course_participation", competence_courses, "students"),
            )
        )
        for measure, numerator, denominator in shares:
            value = trend_value(measure)
            if value is not None and denominator:
                self.ratio(f"tenant {measure} (trend)", value, numerator, denominator)


_AREA_SHARE = re.compile(r"competence_(.+)_(completed|within)_share")


#: A person row that stands for this many alike (`hub.followup.suppression` counts the
#: person rows of a cell so); a row of an extract stands for one.
PERSON_ROWS = "person_rows"


def _person_rows(row: Row) -> int:
    return int(row.get(PERSON_ROWS) or 1)


def _truthy(value: Any) -> bool:
    return value is True or value == "true"


#: One constraint with its published terms summed into its limits:
#: `(coefficient, cell)` per distinct unknown, then the limits left for them.
Folded = tuple[list[tuple[float, Cell]], float, float]
#: A cell's integer interval, `[low, high]`.
Interval = Sequence[float]


def _fold(constraint: Constraint) -> Folded | None:
    """`constraint` as limits on its unknowns alone; None when it has none."""
    known = sum(t.coefficient * t.value for t in constraint.terms if t.value is not None)
    unknown: dict[Cell, float] = defaultdict(float)
    for t in constraint.terms:
        if t.value is None:
            unknown[t.cell] += t.coefficient
    terms = [(c, cell) for cell, c in unknown.items() if c != 0]
    if not terms:
        return None
    return terms, constraint.low - known, constraint.high - known


def _implied(
    folded: Folded, bounds: Mapping[Cell, Interval]
) -> Iterator[tuple[Cell, float, float]]:
    """Each unknown's real interval that the constraint leaves, the others within `bounds`."""
    terms, low, high = folded
    spans = []
    for coefficient, cell in terms:
        lo, hi = bounds[cell][0], bounds[cell][1]
        a, b = coefficient * lo, coefficient * hi
        spans.append((min(a, b), max(a, b)))
    min_finite = sum(s[0] for s in spans if s[0] != -_INF)
    min_inf = sum(1 for s in spans if s[0] == -_INF)
    max_finite = sum(s[1] for s in spans if s[1] != _INF)
    max_inf = sum(1 for s in spans if s[1] == _INF)
    for (coefficient, cell), (smin, smax) in zip(terms, spans, strict=True):
        rest_min = (
            -_INF if min_inf - (smin == -_INF) > 0 else min_finite - (smin if smin != -_INF else 0)
        )
        rest_max = (
            _INF if max_inf - (smax == _INF) > 0 else max_finite - (smax if smax != _INF else 0)
        )
        lower_sum = low - rest_max  # coefficient × cell >= this
        upper_sum = high - rest_min  # coefficient × cell <= this
        if coefficient > 0:
            yield cell, lower_sum / coefficient, upper_sum / coefficient
        else:
            yield cell, upper_sum / coefficient, lower_sum / coefficient


def _whole(lo: float, hi: float) -> tuple[float, float]:
    """A real interval narrowed to the integers in it (infinite or undefined ends stay open)."""
    low = -_INF if lo == -_INF or math.isnan(lo) else math.ceil(lo - _SLACK)
    high = _INF if hi == _INF or math.isnan(hi) else math.floor(hi + _SLACK)
    return low, high


def implied_bounds(
    constraint: Constraint, bounds: Mapping[Cell, Interval]
) -> dict[Cell, tuple[float, float]]:
    """Each unknown's integer interval that `constraint` alone leaves, the others in `bounds`."""
    folded = _fold(constraint)
    if folded is None:
        return {}
    return {cell: _whole(lo, hi) for cell, lo, hi in _implied(folded, bounds)}


def holds(implied: Interval, bound: Interval) -> bool:
    """Whether a relation's `implied` interval of a cell is its `bound`, beyond `[0, ∞)`.

    The relation then holds the cell there: loosening it may give the cell's range back.
    A tenant total over hundreds of hidden units holds none of them.
    """
    return (bound[0] > 0 and implied[0] >= bound[0]) or (
        bound[1] != _INF and implied[1] <= bound[1]
    )


class _Bounds:
    """Integer intervals of the suppressed cells, tightened by propagation."""

    def __init__(self, constraints: Sequence[Constraint]) -> None:
        self.folded: list[Folded] = []
        self.of_cell: dict[Cell, list[int]] = defaultdict(list)
        self.bounds: dict[Cell, list[float]] = {}
        for constraint in constraints:
            folded = _fold(constraint)
            if folded is None:
                continue
            index = len(self.folded)
            self.folded.append(folded)
            for _, cell in folded[0]:
                self.of_cell[cell].append(index)
                self.bounds.setdefault(cell, [0.0, _INF])

    def propagate(self, budget_per_constraint: int = 200) -> None:
        queue = deque(range(len(self.folded)))
        queued = set(queue)
        budget = budget_per_constraint * max(1, len(self.folded))
        while queue and budget > 0:
            budget -= 1
            index = queue.popleft()
            queued.discard(index)
            for cell in self._tighten(index):
                for other in self.of_cell[cell]:
                    if other not in queued:
                        queue.append(other)
                        queued.add(other)

    def _tighten(self, index: int) -> Iterator[Cell]:
        for cell, lo, hi in list(_implied(self.folded[index], self.bounds)):
            new_lo, new_hi = _whole(lo, hi)
            bound = self.bounds[cell]
            changed = False
            if new_lo > bound[0] and new_lo <= bound[1]:
                bound[0], changed = new_lo, True
            if new_hi < bound[1] and new_hi >= bound[0]:
                bound[1], changed = new_hi, True
            if changed:
                yield cell


def _consistent(constraint: Constraint) -> bool:
    total = sum(t.coefficient * (t.value or 0.0) for t in constraint.terms)
    return constraint.low - 1e-6 <= total <= constraint.high + 1e-6


def audit_tables(tables: Tables, min_cell_size: int) -> Audit:
    """Audit published rows (record → rows as plain values) against `min_cell_size`."""
    result = Audit(min_cell_size)
    builder = _Builder(tables)
    constraints = builder.build()
    result.relations_read = builder.read
    result.dropped = sorted(builder.broken)
    result.constraints = [c for c in constraints if c.family not in builder.broken]
    bounds = _Bounds(result.constraints)
    bounds.propagate()
    result.bounds = {cell: (b[0], b[1]) for cell, b in bounds.bounds.items()}
    families: dict[Cell, set[str]] = defaultdict(set)
    for constraint in result.constraints:
        for term in constraint.unknowns:
            families[term.cell].add(constraint.family)
    findings: dict[Cell, Finding] = {}
    for record, rows in tables.items():
        figures = CELL_FIGURES.get(record, ())
        for row in rows:
            key = row_key(record, row)
            for name in figures:
                cell = Cell(record, key, name)
                value = _number(row.get(name))
                if value is not None and 0 < value < min_cell_size:
                    findings[cell] = Finding(cell, FindingKind.SMALL_CELL, value, value)
                elif value is None and cell in result.bounds:
                    low, high = result.bounds[cell]
                    kind = (
                        FindingKind.EXACT
                        if low == high
                        else FindingKind.NARROW
                        if high - low < min_cell_size
                        else None
                    )
                    if kind is not None:
                        findings[cell] = Finding(
                            cell, kind, low, high, tuple(sorted(families[cell]))
                        )
    for spec in ROW_SHARES:
        if not spec.people:
            continue
        for row in tables.get(spec.record, ()):
            if not spec.applies(row):
                continue
            key = row_key(spec.record, row)
            denominator = _number(row.get(spec.denominator))
            if denominator is None:
                continue
            small = 0 < denominator < min_cell_size
            for name in (spec.share, spec.numerator):
                cell = Cell(spec.record, key, name)
                if small and row.get(name) is not None and cell not in findings:
                    findings[cell] = Finding(
                        cell, FindingKind.SMALL_DENOMINATOR, denominator, denominator
                    )
            numerator = Cell(spec.record, key, spec.numerator)
            if row.get(spec.numerator) is None and numerator in result.bounds:
                low, high = result.bounds[numerator]
                if low == high and numerator not in findings:
                    findings[numerator] = Finding(
                        numerator, FindingKind.EXACT, low, high, tuple(sorted(families[numerator]))
                    )
    result.findings = sorted(findings.values(), key=lambda f: f.cell)
    return result


# ---------------------------------------------------------------------------------------
# Reading an extract folder


def _kinds(record_type: type[FollowupRecord]) -> dict[str, str]:
    """Each column's kind for parsing CSV text: int, float, bool, list or text."""
    kinds: dict[str, str] = {}
    for name, info in record_type.model_fields.items():
        kinds[name] = _kind(info.annotation)
    return kinds


def _kind(annotation: Any) -> str:
    found: set[Any] = set()
    stack = [annotation]
    while stack:
        current = stack.pop()
        origin = typing.get_origin(current)
        if origin is tuple or current is tuple:
            return "list"
        args = typing.get_args(current)
        if args and origin is not None:
            stack.extend(args)
        else:
            found.add(current)
    if bool in found:
        return "bool"
    if float in found:
        return "float"
    if int in found:
        return "int"
    return "text"


def _parse(text: str, kind: str) -> Any:
    if text == "" and kind != "text":
        return [] if kind == "list" else None
    if kind == "int":
        return int(text)
    if kind == "float":
        return float(text)
    if kind == "bool":
        return text == "true"
    if kind == "list":
        return text.split(";")
    return text or None


def read_extract_tables(path: Path) -> tuple[dict[str, list[dict[str, Any]]], int]:
    """The rows of every record in an extract folder, and the manifest's minimum cell size."""
    manifest_path = path / "manifest.json"
    if not manifest_path.is_file():
        raise AuditError(f"{manifest_path} is missing: not an extract folder")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        min_cell_size = int(manifest["min_cell_size"])
        entries = manifest["files"]
    except (ValueError, KeyError, TypeError) as exc:
        raise AuditError(f"{manifest_path} is not a valid manifest: {exc}") from exc
    by_record: dict[str, dict[str, str]] = defaultdict(dict)
    for entry in entries:
        by_record[entry["record"]][entry["format"]] = entry["name"]
    tables: dict[str, list[dict[str, Any]]] = {}
    for record, files in by_record.items():
        record_type = RECORD_TYPES_BY_NAME.get(record)
        if record_type is None:
            continue
        if "csv" in files:
            tables[record] = _read_csv(path / files["csv"], _kinds(record_type))
        elif "xlsx" in files:
            tables[record] = _read_xlsx(path / files["xlsx"], _kinds(record_type))
    return tables, min_cell_size


def _read_csv(path: Path, kinds: Mapping[str, str]) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return [
            {name: _parse(text, kinds.get(name, "text")) for name, text in row.items()}
            for row in csv.DictReader(handle)
        ]


def _read_xlsx(path: Path, kinds: Mapping[str, str]) -> list[dict[str, Any]]:
    from openpyxl import load_workbook  # only XLSX-only extracts need it

    workbook = load_workbook(path, read_only=True)
    try:
        sheet = workbook.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        header = [str(h) for h in next(rows, ())]
        found = []
        for values in rows:
            row: dict[str, Any] = {}
            # A writer may leave out a row's empty cells at its end: they are empty.
            cells = itertools.chain(values, itertools.repeat(None))
            for name, value in zip(header, cells, strict=False):
                kind = kinds.get(name, "text")
                if value is None or isinstance(value, str):
                    row[name] = _parse(value or "", kind)
                else:
                    row[name] = value
            found.append(row)
        return found
    finally:
        workbook.close()


class AuditError(Exception):
    """An extract folder cannot be audited (the message says why)."""


def audit_extract(path: Path) -> Audit:
    """Audit every published figure of an extract folder (see the module's docstring)."""
    tables, min_cell_size = read_extract_tables(path)
    return audit_tables(tables, min_cell_size)


__all__ = [
    "CELL_FIGURES",
    "ROW_SHARES",
    "Audit",
    "AuditError",
    "Cell",
    "Constraint",
    "Finding",
    "FindingKind",
    "Term",
    "audit_extract",
    "audit_tables",
    "read_extract_tables",
    "row_key",
]
