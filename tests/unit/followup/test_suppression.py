"""Complementary suppression and the audit: the four attacks on the golden tenant's extract.

Each attack is tried on the extract as it was written before complementary suppression
(`complementary=False`, person rows not withheld), where it recovers a hidden cell, and on
the extract as written now, where the audit finds nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from hub.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, main
from hub.followup import compile_snapshot
from hub.followup.audit import (
    PERSON_ROWS,
    Cell,
    FindingKind,
    audit_extract,
    audit_tables,
    read_extract_tables,
)
from hub.followup.extract import write_extract
from hub.followup.suppression import _tables, suppress_complementary
from tests.conftest import TEST_HMAC_KEY
from tests.unit.followup import golden

KEY = TEST_HMAC_KEY.encode()


def extract(engine: sa.Engine, folder: Path, *, protected: bool) -> Path:
    """The golden tenant's pseudonymised CSV extract, with or without the new protection."""
    tenant = golden.tenant_settings()
    snapshot = compile_snapshot(
        engine, tenant, golden.AS_OF, pseudonym_key=KEY, complementary=protected
    )
    write_extract(snapshot, folder, policy=tenant.policy, pseudonym_key=KEY, withhold=protected)
    return folder


def found(folder: Path, *records: str) -> dict[Cell, tuple[FindingKind, float, float]]:
    """What the audit finds from the named files of the folder alone."""
    tables, min_cell_size = read_extract_tables(folder)
    audit = audit_tables({r: tables[r] for r in records}, min_cell_size)
    return {f.cell: (f.kind, f.low, f.high) for f in audit.findings}


ATTACKS = {
    # Attack 1: crs-is has 6 students; its class at Ekskolan shows 4, so the hidden
    # preschool class has 2.
    "course minus its classes": (
        ("course_participation",),
        Cell("course_participation", "class|oneroster/lms|cls-is-sol", "students"),
        (FindingKind.EXACT, 2, 2),
    ),
    # Attack 2: r1 is Ekskolan's only school leader: one person row per area.
    "person rows counted": (
        ("competence_summary", "staff_competence"),
        Cell("competence_summary", "ek|school_leader|information_security", "staff"),
        (FindingKind.EXACT, 1, 1),
    ),
    # Attack 3: 3 grade-3 pupils, 2 assessed: `meeting` (1) and its share over 2 pupils.
    "share over a small denominator": (
        ("digital_skills",),
        Cell("digital_skills", "ek|3|ak3.programmering", "meeting_share"),
        (FindingKind.SMALL_DENOMINATOR, 2, 2),
    ),
    # Attack 4: the tenant's 6 staff (trend) minus Ekskolan's 4 leaves Solbacken's 2.
    "tenant total minus the units": (
        ("device_coverage", "trend"),
        Cell("device_coverage", "sol|staff", "headcount"),
        (FindingKind.EXACT, 2, 2),
    ),
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_each_attack_recovers_the_cell_before_and_nothing_after(
    attack: str, engine: sa.Engine, tmp_path: Path
):
    """The attack gives the hidden cell away from the old extract; nothing from the new one."""
    records, cell, recovered = ATTACKS[attack]
    before = found(extract(engine, tmp_path / "before", protected=False), *records)
    assert recovered == before.get(cell)
    after = found(extract(engine, tmp_path / "after", protected=True), *records)
    assert {} == after


def test_the_whole_folder_audits_clean_only_after(engine: sa.Engine, tmp_path: Path):
    """Every file read together: the old extract gives cells away, the new one none."""
    before = audit_extract(extract(engine, tmp_path / "before", protected=False))
    assert {c for _, c, _ in ATTACKS.values()} <= {f.cell for f in before.findings}
    after = audit_extract(extract(engine, tmp_path / "after", protected=True))
    assert ([], []) == (after.lines(), after.dropped)


def test_hub_extract_audit_exits_1_on_a_folder_that_gives_cells_away(
    engine: sa.Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    """`hub extract --audit DIR` lists each cell it works out and exits 1; 0 when there is none."""
    assert EXIT_FAILED == main(
        ["extract", "--audit", str(extract(engine, tmp_path / "before", protected=False))]
    )
    out = capsys.readouterr().out
    assert "device_coverage [sol|staff] headcount: suppressed, but is exactly 2" in out
    assert EXIT_OK == main(
        ["extract", "--audit", str(extract(engine, tmp_path / "after", protected=True))]
    )
    assert "no hidden cell can be worked out" in capsys.readouterr().out


def test_complements_are_the_smallest_siblings_and_cost_three_rows(engine: sa.Engine):
    """The golden tenant needs three complements, and Ekskolan's all-roles rows.

    Ekskolan's staff row (for Solbackens' 2 staff), its security class (for cls-is-sol's
    2 students) and Solbackens' preschool row (for Lundens' 1 child). Ekskolan's
    `competence_by_unit` rows (4 staff, in both areas) are hidden too: 4 minus its 3
    published teachers would give its one school leader, and 4 is its hidden staff row.
    Two `licence_use` rows: Ekskolan's faculty licences (for Solbackens' 2) and its Book
    Creator licences (for Björkskolan's 1), each product's total giving the other back.
    """
    snapshot = compile_snapshot(
        engine, golden.tenant_settings(), golden.AS_OF, pseudonym_key=KEY, complementary=False
    )
    records, report = suppress_complementary(snapshot.records, 3)
    expected_rows = {
        "course_participation": 1,
        "device_coverage": 2,
        "competence_by_unit": 2,
        "licence_use": 2,
    }
    assert (expected_rows, 1, []) == (
        report.rows,
        report.denominator_cells,
        report.unresolved,
    )
    hidden = {
        (r.entity, r.key) for rows in records.values() for r in rows if getattr(r, "suppressed", ())
    }
    assert {
        ("device_coverage", "ek|staff"),
        ("device_coverage", "sol|preschool"),
        ("course_participation", "class|oneroster/lms|cls-is-ek"),
        ("competence_by_unit", "ek|digital_didactics"),
        ("competence_by_unit", "ek|information_security"),
    } <= hidden


def course_row(
    course: str,
    cls: str | None,
    students: int | None,
    teachers: int | None = 1,
    completed: int | None = 0,
    rate: float | None = 0.0,
) -> dict[str, object]:
    """A `course_participation` row as an extract has it (a course's when `cls` is None)."""
    return {
        "level": "course" if cls is None else "class", "lms_source": "lms",
        "course_key": course, "class_key": cls, "students": students, "teachers": teachers,
        "others": None if teachers is None else 0, "completed": completed,
        "completion_rate": rate,
    }  # fmt: skip


def test_a_total_that_does_not_hold_in_the_data_is_not_used():
    """Classes sharing students make a course less than their sum: that family is dropped."""
    rows = [
        course_row("c", None, 9), course_row("c", "a", 6), course_row("c", "b", 6),
        course_row("d", None, 8), course_row("d", "e", 6),
        course_row("d", "f", None, None, None, None),
    ]  # fmt: skip
    audit = audit_tables({"course_participation": rows}, 5)
    assert ["course = Σ classes (students)", "course = Σ classes (teachers)"] == audit.dropped
    assert [] == audit.findings


def test_the_audit_keeps_only_the_relations_that_hold_a_hidden_figure():
    """A fully published relation is checked and let go; one with a hidden figure is kept.

    Course c is published whole and course d has one hidden class: only d's relations on
    that class are kept, though c's were read (and c's broken total still drops its family).
    """
    rows = [
        course_row("c", None, 12, 2, 6, 0.5), course_row("c", "a", 6, 1, 3, 0.5),
        course_row("c", "b", 7, 1, 3, 0.4286),
        course_row("d", None, 9), course_row("d", "e", 6),
        course_row("d", "f", None, 0, None, None),
    ]  # fmt: skip
    audit = audit_tables({"course_participation": rows}, 5)
    hidden_class = "class|lms|f"
    assert audit.constraints
    assert all(
        any(t.value is None and t.cell.key == hidden_class for t in c.terms)
        for c in audit.constraints
    )
    assert audit.relations_read > len(audit.constraints)
    assert ["course = Σ classes (students)"] == audit.dropped


def test_an_xlsx_only_extract_is_audited_like_its_csv(engine: sa.Engine, tmp_path: Path):
    """Without CSV files the audit reads the workbooks and finds the same cells."""
    tenant = golden.tenant_settings()
    snapshot = compile_snapshot(
        engine, tenant, golden.AS_OF, pseudonym_key=KEY, complementary=False
    )
    for fmt in ("csv", "xlsx"):
        write_extract(
            snapshot, tmp_path / fmt, policy=tenant.policy, pseudonym_key=KEY,
            formats=[fmt], withhold=False,
        )  # fmt: skip
    from_csv, from_xlsx = (audit_extract(tmp_path / fmt).lines() for fmt in ("csv", "xlsx"))
    assert from_csv and from_csv == from_xlsx


def test_auditing_a_folder_without_a_manifest_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    """`hub extract --audit` on a folder that is not an extract exits 2 and says why."""
    assert EXIT_USAGE == main(["extract", "--audit", str(tmp_path)])
    assert "manifest.json is missing: not an extract folder" in capsys.readouterr().err


def test_the_audit_works_a_staff_cell_out_of_a_schools_support_users():
    """Support users are pupils + staff: published beside the pupils, they give the staff."""
    coverage = [
        {"unit_key": "ek", "population": "pupils", "headcount": 9, "suppressed": ""},
        {"unit_key": "ek", "population": "staff", "headcount": None, "suppressed": "headcount"},
    ]
    support = {"unit_key": "ek", "category": "*", "tickets": 6, "suppressed": ""}
    leaky = audit_tables(
        {"device_coverage": coverage, "support_by_unit": [{**support, "users": 11}]}, 3
    )
    assert ["device_coverage [ek|staff] headcount"] == [str(f.cell) for f in leaky.findings]
    hidden = audit_tables(
        {"device_coverage": coverage, "support_by_unit": [{**support, "users": None}]}, 3
    )
    assert [] == hidden.findings


def test_support_users_are_hidden_only_beside_a_hidden_headcount():
    """A school's support users are hidden when its pupils' or staff headcount is, only.

    A coverage row can hide other figures (its exam pupils, under the minimum) and keep
    its headcount. Users hidden then are the published pupils plus staff, which the
    audit reads back, as the Celery test's small sandbox tenant showed.
    """
    from hub.followup.measures.support import hide_hidden_users
    from schemas.followup import DeviceCoverage, Population, SupportByUnit

    def coverage(unit: str, population: Population, *hidden: str) -> DeviceCoverage:
        return DeviceCoverage.model_construct(
            unit_key=unit, population=population, headcount=None if hidden else 12,
            suppressed=hidden,
        )  # fmt: skip

    rows = [
        coverage("ek", Population.PUPILS, "exam_pupils", "exam_ready", "exam_ready_share"),
        coverage("ek", Population.STAFF),
        coverage("sol", Population.PUPILS),
        coverage("sol", Population.STAFF, "headcount", "devices"),
    ]
    rows[0] = rows[0].model_copy(update={"headcount": 12})  # only its exam figures hidden
    support = [
        SupportByUnit.model_construct(unit_key=unit, category="*", users=18, suppressed=())
        for unit in ("ek", "sol")
    ]
    users = {r.unit_key: r.users for r in hide_hidden_users(support, rows)}
    assert {"ek": 18, "sol": None} == users


def test_each_relations_best_figure_to_hide_is_the_least_of_all_its_terms(engine: sa.Engine):
    """The round's index picks what reading every term would, for every cell and relation.

    The index reads a relation's terms once per round (a tenant total over every unit is
    one relation); the reference here reads them all again for each cell, as the
    suppression did before, and must agree on the figure and on the rows relied on.
    """
    from collections import defaultdict

    from hub.followup.suppression import _Protector, _Relations, _tables, public_view

    snapshot = compile_snapshot(
        engine, golden.tenant_settings(), golden.AS_OF, pseudonym_key=KEY, complementary=False
    )
    protector = _Protector(_tables(snapshot.records), 3)
    audit = audit_tables(public_view(protector.tables), 3)
    by_cell: dict[Cell, list] = defaultdict(list)
    for constraint in audit.constraints:
        for term in constraint.unknowns:
            by_cell[term.cell].append(constraint)
    relations = _Relations(by_cell, protector.index, audit.bounds)

    def reference(constraint, cell):
        options = [
            (
                0 if (t.cell.record, t.cell.field) == (cell.record, cell.field)
                else 1 if t.cell.record == cell.record
                else 2,
                t.value,
                (t.cell.record, t.cell.key),
            )
            for t in constraint.terms
            if t.value is not None and t.value > 0
            and (t.cell.record, t.cell.key) in protector.index
        ]  # fmt: skip
        return min(options) if options else None

    pairs = [(cell, c) for cells in (by_cell, [f.cell for f in audit.findings]) for cell in cells
             for c in by_cell.get(cell, ())]  # fmt: skip
    assert len(pairs) > 10
    for cell, constraint in pairs:
        assert reference(constraint, cell) == relations.option(constraint, cell), (cell, constraint)

    touched: set[tuple[str, str]] = set()
    for finding in audit.findings:
        rows = {(t.cell.record, t.cell.key) for c in by_cell.get(finding.cell, ()) for t in c.terms}
        assert bool(rows & touched) == relations.relied_on(finding.cell)
        if not rows & touched:
            touched |= rows | {(finding.cell.record, finding.cell.key)}
            relations.rely_on(finding.cell)
    assert touched == relations.touched


def _units_with_small_roles(units: int) -> dict[str, list[dict]]:
    """`units` units of 24 staff: 20 teachers published, two roles of 2 hidden by the measures.

    In each unit the hidden roles add up to 4 (24 minus the teachers), so each lies in
    [0, 4]; the tenant's completed share (the trend) relates every unit's cells to every
    other unit's.
    """
    hidden = {"staff": None, "completed": None, "completed_share": None,
              "within_requirement": None, "within_share": None,
              "suppressed": ["staff", "completed", "completed_share"]}  # fmt: skip
    coverage, summary = [], []
    for n in range(units):
        unit = f"u{n:03}"
        coverage.append({"unit_key": unit, "population": "staff", "headcount": 24})
        teachers = {"staff": 20, "completed": 10, "completed_share": 0.5,
                    "within_requirement": None, "within_share": None, "suppressed": []}  # fmt: skip
        summary.append(
            {"unit_key": unit, "role": "teacher", "area": "digital_didactics", "required": False,
             **teachers}
        )  # fmt: skip
        for role in ("assistant", "school_leader"):
            summary.append({"unit_key": unit, "role": role, "area": "digital_didactics",
                            "required": False, **hidden})  # fmt: skip
    trend = [{"measure": "competence_digital_didactics_completed_share", "value": 0.5,
              "change": None, "suppressed": []}]  # fmt: skip
    return {"device_coverage": coverage, "competence_summary": summary, "trend": trend}


def test_a_tenant_wide_total_does_not_hold_back_the_units_findings():
    """Units' findings are protected in one round, though a tenant share relates them all.

    A round defers a finding when a row the round already relied on could protect it.
    Only the relations that hold a cell to its range count for that: the tenant's share
    over every unit holds none of them. Counting it made each round take one unit, so a
    tenant of more units than rounds (200) ended with cells a reader could narrow down.
    """
    from hub.followup.suppression import _MAX_ROUNDS, _Protector

    units = _MAX_ROUNDS + 10
    tables = _units_with_small_roles(units)
    before = audit_tables(tables, 5)
    assert 2 * units == len(before.findings)
    assert {FindingKind.NARROW} == {f.kind for f in before.findings}

    report = _Protector(tables, 5).run()

    assert [] == report.unresolved
    assert report.rounds <= 2
    assert {"competence_summary": units} == report.rows  # one complement per unit
    assert audit_tables(tables, 5).ok


def test_person_rows_counted_alike_tell_the_audit_what_each_person_row_does(
    engine: sa.Engine,
):
    snapshot = compile_snapshot(
        engine, golden.tenant_settings(), golden.AS_OF, pseudonym_key=KEY, complementary=False
    )
    summary = [r.model_dump(mode="json") for r in snapshot.rows("competence_summary")]
    each = [r.model_dump(mode="json") for r in snapshot.rows("staff_competence")]
    alike = _tables(snapshot.records)["staff_competence"]
    assert len(alike) < len(each)
    assert sum(row[PERSON_ROWS] for row in alike) == len(each)

    def constraints(person_rows: list[dict]) -> list[tuple]:
        audit = audit_tables({"competence_summary": summary, "staff_competence": person_rows}, 3)
        return sorted(
            (c.family, c.low, c.high, tuple((t.cell, t.coefficient, t.value) for t in c.terms))
            for c in audit.constraints
        )

    assert constraints(alike) == constraints(each)
    assert any(family.startswith("person rows") for family, *_ in constraints(alike))
