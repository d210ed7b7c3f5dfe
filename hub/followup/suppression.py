"""Complementary suppression: hide the further cells that would let a reader work out a hidden one.

The measures hide each cell of fewer than `min_cell_size` people on its own (primary
suppression). That is not enough: a course minus its published classes gives the hidden
class, the tenant's pupils minus the published units give the hidden unit. This pass runs
over the compiled rows before they are stored, published or extracted:

1. **Denominator rule**: a share whose denominator is a count of people under the minimum
   is hidden with its numerator (pupils meeting an objective when fewer than the minimum
   were assessed), though the row's cell is large enough to show.
2. **Complementary cells**: the audit (`hub.followup.audit`) reads the rows as a reader
   would, every published figure a linear constraint on the hidden ones. For each hidden
   cell it can pin down (exactly, or to an interval narrower than the minimum), one more
   row is hidden: from the tightest relation that holds the cell (the one with the fewest
   unknowns), the published sibling with the smallest non-zero figure (another class of
   the course, another unit of the tenant, another role of the unit); with no sibling
   left, the total itself (the course, the unit's staff headcount, the trend's tenant
   total). A competence cell is hidden in every area of its unit and role (a unit's
   all-roles row in every area of its unit), and a
   digital-skills cell in every objective of its unit and grade, since they count the
   same people. This repeats until the audit finds nothing: a fixed point across the
   overlapping hierarchies.
3. **Person rows** (`staff_competence`) of a hidden competence cell are left out of a
   pseudonymised extract (`public_rows`): counted, they would give the cell back.

The heuristic is greedy and deterministic (ties go to the smaller key); it does not
promise the fewest possible cells, only that the audit finds none after it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog

from hub.followup.audit import (
    PERSON_ROWS,
    ROW_SHARES,
    Audit,
    Cell,
    Constraint,
    Interval,
    audit_tables,
    holds,
    implied_bounds,
    row_key,
)
from hub.followup.measures.devices import COVERAGE_FIGURES
from hub.followup.measures.licences import OVERVIEW_FIGURES, USE_FIGURES
from hub.followup.snapshots import PackedRows
from schemas.followup import CompetenceSummary, FollowupRecord, StaffCompetence

log = structlog.get_logger(__name__)

#: The figures a hidden row empties, per record (the measures' primary suppression empties
#: the same ones).
HIDDEN_FIGURES: dict[str, tuple[str, ...]] = {
    "device_coverage": COVERAGE_FIGURES,
    "competence_summary": (
        "staff", "completed", "completed_share", "within_requirement", "within_share",
    ),
    "digital_skills": ("pupils", "assessed", "meeting", "assessed_share", "meeting_share"),
    "course_participation": ("students", "teachers", "others", "completed", "completion_rate"),
    "trend": ("value", "change"),
    "competence_development": (
        "staff", "completed", "completed_share", "baseline_share", "change",
    ),
    "competence_by_unit": (
        "staff", "completed", "completed_share", "within_requirement", "within_share",
    ),
    "licence_overview": OVERVIEW_FIGURES,
    "licence_use": USE_FIGURES,
}  # fmt: skip

#: Rows that count the same people as another row of the same record: hidden together.
_SAME_PEOPLE: dict[str, tuple[str, ...]] = {
    "competence_summary": ("unit_key", "role"),
    "digital_skills": ("unit_key", "grade"),
    "competence_development": ("measured_on", "unit_key", "role"),
    "competence_by_unit": ("unit_key",),
}

_MAX_ROUNDS = 200
#: Findings in coarse hierarchies first: hiding a unit row may protect a role cell within it.
_COARSE_FIRST = {"device_coverage": 0, "digital_skills": 1, "course_participation": 2}


@dataclass
class SuppressionReport:
    """What the pass hid beyond the measures' own (primary) suppression."""

    #: Rows hidden as complements, per record.
    rows: dict[str, int] = field(default_factory=dict)
    #: Figures hidden by the denominator rule.
    denominator_cells: int = 0
    rounds: int = 0
    #: What the audit still finds when the rounds ran out (empty: all protected).
    unresolved: list[str] = field(default_factory=list)

    @property
    def extra_rows(self) -> int:
        """Rows hidden as complements, in all."""
        return sum(self.rows.values())


#: What the audit reads of a person row: its cell, and what it counts there.
_PERSON_ROW_FIELDS = ("unit_key", "role", "area", "completed", "within_requirement")
_PERSON_ROW_INCLUDE: set[str] = set(_PERSON_ROW_FIELDS)  # model_dump wants a set; never changed


def _tables(records: Mapping[str, Sequence[FollowupRecord]]) -> dict[str, list[dict[str, Any]]]:
    """The rows as plain values; person rows counted, alike ones as one row.

    Person rows are the largest record (every staff member in every area) and are never
    hidden here, only counted per cell by what they say, so the rows of one cell that
    say the same (completed or not, within the requirement or not) are one row that
    stands for them all (`PERSON_ROWS`).
    """
    tables: dict[str, list[dict[str, Any]]] = {
        name: [row.model_dump(mode="json") for row in rows]
        for name, rows in records.items()
        if name in HIDDEN_FIGURES
    }
    if StaffCompetence.entity in records:
        alike = Counter(_said(row) for row in records[StaffCompetence.entity])
        tables[StaffCompetence.entity] = [
            {**dict(zip(_PERSON_ROW_FIELDS, values, strict=True)), PERSON_ROWS: count}
            for values, count in alike.items()
        ]
    return tables


def _said(row: FollowupRecord) -> tuple[Any, ...]:
    """What the audit counts of a person row, in `_PERSON_ROW_FIELDS`' order."""
    said = row.model_dump(mode="json", include=_PERSON_ROW_INCLUDE)
    return tuple(said[name] for name in _PERSON_ROW_FIELDS)


def _hide(row: dict[str, Any], names: Iterable[str]) -> bool:
    """Empty `names` of a row and list them in `suppressed`; whether anything changed."""
    wanted = [n for n in names if n in row]
    already = list(row.get("suppressed") or ())
    added = [n for n in wanted if n not in already]
    for name in wanted:
        row[name] = None
    if added:
        row["suppressed"] = [*already, *added]
    return bool(added)


def denominator_rule(tables: Mapping[str, list[dict[str, Any]]], min_cell_size: int) -> int:
    """Hide each share (and its numerator) over a small denominator of people; cells hidden."""
    hidden = 0
    for spec in ROW_SHARES:
        if not spec.people:
            continue
        for row in tables.get(spec.record, ()):
            denominator = row.get(spec.denominator)
            if spec.applies(row) and denominator is not None and 0 < denominator < min_cell_size:
                if _hide(row, (spec.numerator, spec.share)):
                    hidden += 1
    return hidden


def _withheld(summary: Iterable[Mapping[str, Any]]) -> set[str]:
    """The competence cells whose person rows a pseudonymised extract leaves out: the hidden."""
    return {row_key(CompetenceSummary.entity, row) for row in summary if row.get("staff") is None}


def public_view(tables: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, list[Any]]:
    """The tables as a pseudonymised extract shows them: person rows of hidden cells left out."""
    view: dict[str, list[Any]] = {name: list(rows) for name, rows in tables.items()}
    hidden = _withheld(tables.get(CompetenceSummary.entity, ()))
    if StaffCompetence.entity in view:
        view[StaffCompetence.entity] = [
            row
            for row in view[StaffCompetence.entity]
            if row_key(StaffCompetence.entity, row) not in hidden
        ]
    return view


def public_rows(
    rows: Callable[[str], Iterable[FollowupRecord]], record: str
) -> Iterable[FollowupRecord]:
    """The rows of `record` a pseudonymised extract shows (person rows of hidden cells left out).

    `rows` gives a record type's rows (a snapshot's `rows`); they are read as they go.
    """
    if record != StaffCompetence.entity:
        return rows(record)
    hidden = _withheld(r.model_dump() for r in rows(CompetenceSummary.entity))
    return (
        r
        for r in rows(record)
        if isinstance(r, StaffCompetence)
        and row_key(record, {"unit_key": r.unit_key, "role": r.role, "area": r.area}) not in hidden
    )


#: A row of a record: (record, key).
Row = tuple[str, str]
#: A known figure that hiding its row would unpin a cell: (value, row), least first.
Option = tuple[float, Row]


class _Relations:
    """One round's constraints, indexed once for the round, so each finding costs little.

    Every finding of a round asks which relations hold its cell and which row to hide in
    them. Working that out anew per finding (the list of all constraints, and every term
    of every big relation, such as a tenant total over all its units) made a large
    tenant's suppression quadratic: at 100,000 people it ran for over twenty minutes. Here
    each constraint's terms are read once per round: its distinct unknown cells, its rows,
    and its best known figure to hide for each kind of cell a finding may be.
    """

    def __init__(
        self,
        by_cell: Mapping[Cell, list[Constraint]],
        hideable: Container[Row],
        bounds: Mapping[Cell, Interval],
    ) -> None:
        self.by_cell = by_cell
        self._bounds = bounds
        self._binding: dict[Cell, list[Constraint]] = {}
        self._implied: dict[int, dict[Cell, tuple[float, float]]] = {}
        #: Every (cell, constraint) pairing in order, as the tie-break between equal options.
        self.constraints = [c for cs in by_cell.values() for c in cs]
        self.index = {id(c): i for i, c in enumerate(self.constraints)}
        self._hideable = hideable
        self._facts: dict[int, _Facts] = {}
        #: Rows hidden or relied on this round, and the constraints that hold one of them.
        self.touched: set[Row] = set()
        self._hit: set[int] = set()
        self._spread: set[int] = set()
        self._row_constraints: dict[Row, list[int]] = defaultdict(list)
        for constraint in {id(c): c for c in self.constraints}.values():
            for row in self.facts(constraint).rows:
                self._row_constraints[row].append(id(constraint))

    def facts(self, constraint: Constraint) -> _Facts:
        """What a finding needs of `constraint`, from one reading of its terms."""
        found = self._facts.get(id(constraint))
        if found is None:
            found = self._facts[id(constraint)] = _Facts.of(constraint, self._hideable)
        return found

    def option(self, constraint: Constraint, cell: Cell) -> tuple[int, float, Row] | None:
        """The best known figure of `constraint` to hide for `cell`: (tier, value, row).

        Tier 0 is a figure of the same record and field as `cell`, 1 the same record, 2
        any other; the least tier, then value, then row wins.
        """
        facts = self.facts(constraint)
        for tier, best in (
            (0, facts.by_field.get((cell.record, cell.field))),
            (1, facts.by_record.get(cell.record)),
            (2, facts.anywhere),
        ):
            if best is not None:
                return tier, best[0], best[1]
        return None

    def binding(self, cell: Cell) -> list[Constraint]:
        """The relations that hold `cell` to its bound (all of its relations if none alone does).

        Only these can give a cell back: a row hidden elsewhere protects it when it loosens
        one of them. A tenant total over hundreds of hidden units is a relation of every
        unit's cells but holds none of them.
        """
        found = self._binding.get(cell)
        if found is None:
            relations = self.by_cell.get(cell, [])
            bound = self._bounds.get(cell)
            found = relations
            if bound is not None:
                found = [c for c in relations if holds(self._implied_of(c)[cell], bound)]
            self._binding[cell] = found = found or relations
        return found

    def _implied_of(self, constraint: Constraint) -> dict[Cell, tuple[float, float]]:
        found = self._implied.get(id(constraint))
        if found is None:
            found = self._implied[id(constraint)] = implied_bounds(constraint, self._bounds)
        return found

    def relied_on(self, cell: Cell) -> bool:
        """Whether a relation binding `cell` shares a row with what this round already chose."""
        return any(id(c) in self._hit for c in self.binding(cell))

    def rely_on(self, cell: Cell) -> None:
        """Mark the rows of the relations binding `cell` (and its own row) as this round's."""
        self._touch((cell.record, cell.key))
        for constraint in self.binding(cell):
            if id(constraint) in self._spread:
                continue
            self._spread.add(id(constraint))
            for row in self.facts(constraint).rows:
                self._touch(row)

    def _touch(self, row: Row) -> None:
        if row not in self.touched:
            self.touched.add(row)
            self._hit.update(self._row_constraints.get(row, ()))


@dataclass(frozen=True)
class _Facts:
    """One constraint's terms, read once: unknown cells, rows, best figures to hide."""

    unknown_cells: tuple[Cell, ...]
    rows: frozenset[Row]
    by_field: dict[tuple[str, str], Option]
    by_record: dict[str, Option]
    anywhere: Option | None

    @classmethod
    def of(cls, constraint: Constraint, hideable: Container[Row]) -> _Facts:
        unknown: dict[Cell, None] = {}
        rows: set[Row] = set()
        by_field: dict[tuple[str, str], Option] = {}
        by_record: dict[str, Option] = {}
        anywhere: Option | None = None
        for term in constraint.terms:
            where = (term.cell.record, term.cell.key)
            rows.add(where)
            if term.value is None:
                unknown.setdefault(term.cell)
                continue
            if term.value <= 0 or where not in hideable:
                continue
            option = (term.value, where)
            field_key = (term.cell.record, term.cell.field)
            if field_key not in by_field or option < by_field[field_key]:
                by_field[field_key] = option
            if term.cell.record not in by_record or option < by_record[term.cell.record]:
                by_record[term.cell.record] = option
            if anywhere is None or option < anywhere:
                anywhere = option
        return cls(tuple(unknown), frozenset(rows), by_field, by_record, anywhere)


class _Protector:
    """One pass of complementary suppression over plain rows."""

    def __init__(self, tables: dict[str, list[dict[str, Any]]], min_cell_size: int) -> None:
        self.tables = tables
        self.min_cell_size = min_cell_size
        self.index: dict[tuple[str, str], dict[str, Any]] = {
            (record, row_key(record, row)): row
            for record, rows in tables.items()
            if record in HIDDEN_FIGURES
            for row in rows
        }
        self.report = SuppressionReport()

    def run(self) -> SuppressionReport:
        self.report.denominator_cells = denominator_rule(self.tables, self.min_cell_size)
        audit = self._audit()
        while audit.findings and self.report.rounds < _MAX_ROUNDS:
            self.report.rounds += 1
            chosen = self._choose(audit)
            if not chosen:
                break
            # The next audit is built without this one beside it: at 100,000 people each
            # holds over a million terms.
            del audit
            for record, key in sorted(chosen):
                self._hide_row(record, key)
            audit = self._audit()
        self.report.unresolved = audit.lines()
        return self.report

    def _choose(self, audit: Audit) -> set[Row]:
        """The rows one round hides: a complement for each finding not deferred."""
        by_cell: dict[Cell, list[Constraint]] = defaultdict(list)
        for constraint in audit.constraints:
            for term in constraint.unknowns:
                by_cell[term.cell].append(constraint)
        relations = _Relations(by_cell, self.index, audit.bounds)
        chosen: set[Row] = set()
        for finding in sorted(audit.findings, key=lambda f: _COARSE_FIRST.get(f.cell.record, 9)):
            found = self._complement(finding.cell, relations)
            if found is None:
                continue
            where, _constraint = found
            if relations.relied_on(finding.cell):
                continue  # hiding this round's rows may protect it already: audit again first
            relations.rely_on(finding.cell)
            chosen.add(where)
        return chosen

    def _audit(self) -> Audit:
        return audit_tables(public_view(self.tables), self.min_cell_size)

    def _complement(
        self, cell: Cell, relations: _Relations
    ) -> tuple[tuple[str, str], Constraint] | None:
        """The row to hide so that `cell` is no longer pinned down, and the relation it is in."""
        seen: set[Cell] = set()
        frontier = [cell]
        by_cell, constraints, index = relations.by_cell, relations.constraints, relations.index
        for _depth in range(3):
            options = []
            following: list[Cell] = []
            for current in frontier:
                seen.add(current)
                for constraint in by_cell.get(current, ()):
                    facts = relations.facts(constraint)
                    following.extend(c for c in facts.unknown_cells if c not in seen)
                    best = relations.option(constraint, cell)
                    if best is not None:
                        tier, value, where = best
                        unknowns = len(facts.unknown_cells)
                        options.append((unknowns, tier, value, where, index[id(constraint)]))
            if options:
                best_option = min(options)
                return best_option[3], constraints[best_option[4]]
            frontier = following
        return None

    def _hide_row(self, record: str, key: str) -> None:
        row = self.index[(record, key)]
        together = [row]
        if record in _SAME_PEOPLE:
            names = _SAME_PEOPLE[record]
            together = [
                r for r in self.tables[record] if all(r.get(n) == row.get(n) for n in names)
            ]
        for member in together:
            if _hide(member, HIDDEN_FIGURES[record]):
                self.report.rows[record] = self.report.rows.get(record, 0) + 1


def suppress_complementary(
    records: Mapping[str, Sequence[FollowupRecord]], min_cell_size: int
) -> tuple[dict[str, Sequence[FollowupRecord]], SuppressionReport]:
    """The records with the denominator rule and complementary suppression applied."""
    tables = _tables(records)
    report = _Protector(tables, min_cell_size).run()
    if report.unresolved:
        log.warning(
            "suppression_unresolved", cells=len(report.unresolved), first=report.unresolved[0]
        )
    result: dict[str, Sequence[FollowupRecord]] = {}
    for name, rows in records.items():
        if name not in HIDDEN_FIGURES:
            result[name] = rows
            continue
        updated: list[FollowupRecord] | PackedRows[FollowupRecord] = (
            PackedRows(rows.model) if isinstance(rows, PackedRows) else []
        )
        for row, plain in zip(rows, tables[name], strict=True):
            hidden = tuple(plain.get("suppressed") or ())
            if hidden == tuple(getattr(row, "suppressed", ())):
                updated.append(row)
                continue
            updated.append(
                row.model_copy(update={**{n: None for n in hidden}, "suppressed": hidden})
            )
        result[name] = updated
    return result, report


__all__ = [
    "HIDDEN_FIGURES",
    "SuppressionReport",
    "denominator_rule",
    "public_rows",
    "public_view",
    "suppress_complementary",
]
