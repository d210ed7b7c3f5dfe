"""The Danish golden tenant compiles to figures worked out by hand from its completion dates.

Staff per cell (min_cell_size 3): Havby Skole (s1) 4 lærere, 3 pædagoger, 3 ledere; Bakke
Skole (s2) 3 lærere and 1 leder. s2's leder cell (1) is hidden; the unit's staff headcount
(4, in device_coverage) minus its lærere would give it back, so its lærere (the only other
role there) are hidden too, in every area: every s2 cell is empty below.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from hub.followup import SnapshotStore, compile_snapshot
from hub.followup.audit import audit_tables
from hub.followup.presentation import DANISH, ENGLISH, page_labels
from hub.followup.suppression import suppress_complementary
from hub.policy import Policy
from schemas.followup import CompetenceByUnit, CompetenceDevelopment, CompetenceSummary
from schemas.lms import CompetenceArea
from tests.unit.followup import danish_golden as dk
from tests.unit.followup import golden
from tests.unit.followup.test_golden import KEY, table

SUMMARY_FIELDS = (
    "key", "staff", "completed", "completed_share", "required", "within_requirement",
    "within_share", "suppressed",
)  # fmt: skip
ALL = ("staff", "completed", "completed_share", "within_requirement", "within_share")
DEVELOPMENT_FIELDS = (
    "key", "staff", "completed", "completed_share", "baseline_share", "change", "suppressed",
)  # fmt: skip
CELL = ("staff", "completed", "completed_share")
EMPTY = (None, None, None, None, None, CELL)


@pytest.fixture
def engine(tmp_path: Path) -> sa.Engine:
    """A reporting store (SQLite) holding the Danish golden tenant's entities."""
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'report.db'}")
    golden.write_entities(engine, dk.entities())
    yield engine
    engine.dispose()


def summary_of(engine: sa.Engine, area: str) -> list[tuple[object, ...]]:
    snapshot = compile_snapshot(engine, dk.tenant_settings(), dk.AS_OF, pseudonym_key=KEY)
    return [r for r in table(snapshot, "competence_summary", SUMMARY_FIELDS) if area in r[0]]


def test_the_information_security_module_per_institution_and_role(engine: sa.Engine):
    """Completion, and completion within the policy's 12 months, of the module per cell."""
    assert [
        # p1 (2026-03-01) and p2 (2025-03-01) completed; only p1 since 2025-06-15.
        ("s1|preschool_teacher|information_security", 3, 2, 0.6667, True, 1, 0.3333, ()),
        # d1, d2 and d3, all since 2025-06-15.
        ("s1|school_leader|information_security", 3, 3, 1.0, True, 3, 1.0, ()),
        # l1, l2 and l3 of four, all since 2025-06-15.
        ("s1|teacher|information_security", 4, 3, 0.75, True, 3, 0.75, ()),
        ("s2|school_leader|information_security", None, None, None, True, None, None, ALL),
        ("s2|teacher|information_security", None, None, None, True, None, None, ALL),
    ] == summary_of(engine, "information_security")


def test_the_danish_areas_count_apart_per_role(engine: sa.Engine):
    """Robots and 3D printing and digital dannelse are areas of their own, pædagoger apart."""
    assert [
        ("s1|preschool_teacher|robots_3d_printing", 3, 1, 0.3333, False, None, None, ()),  # p1
        ("s1|school_leader|robots_3d_printing", 3, 0, 0.0, False, None, None, ()),
        ("s1|teacher|robots_3d_printing", 4, 2, 0.5, False, None, None, ()),  # l1, l2
        ("s2|school_leader|robots_3d_printing", None, None, None, False, None, None, ALL),
        ("s2|teacher|robots_3d_printing", None, None, None, False, None, None, ALL),
    ] == summary_of(engine, "robots_3d_printing")
    assert [
        ("s1|preschool_teacher|digital_citizenship", 3, 2, 0.6667, False, None, None, ()),
        ("s1|school_leader|digital_citizenship", 3, 1, 0.3333, False, None, None, ()),  # d1
        ("s1|teacher|digital_citizenship", 4, 0, 0.0, False, None, None, ()),
        ("s2|school_leader|digital_citizenship", None, None, None, False, None, None, ALL),
        ("s2|teacher|digital_citizenship", None, None, None, False, None, None, ALL),
    ] == summary_of(engine, "digital_citizenship")
    # Programming has no programme yet: every published cell is 0 of its staff.
    assert [
        ("s1|preschool_teacher|programming", 3, 0, 0.0, False, None, None, ()),
        ("s1|school_leader|programming", 3, 0, 0.0, False, None, None, ()),
        ("s1|teacher|programming", 4, 0, 0.0, False, None, None, ()),
        ("s2|school_leader|programming", None, None, None, False, None, None, ALL),
        ("s2|teacher|programming", None, None, None, False, None, None, ALL),
    ] == summary_of(engine, "|programming")


def test_all_staff_figures_and_their_trend_since_the_baseline(engine: sa.Engine):
    """Tenant-wide shares over all 14 staff, and the module's change since 15 January."""
    snapshot = compile_snapshot(engine, dk.tenant_settings(), dk.AS_OF, pseudonym_key=KEY)
    measures = snapshot.measures
    assert {
        # 10 of 14 completed the module; 9 since 2025-06-15 (all but p2).
        "competence_information_security_completed_share": 0.7143,
        "competence_information_security_within_share": 0.6429,
        "competence_robots_3d_printing_completed_share": 0.2857,  # l1, l2, p1, m2
        "competence_digital_citizenship_completed_share": 0.2143,  # p2, p3, d1
        "competence_programming_completed_share": 0.0,
    } == {name: measures[name] for name in (
        "competence_information_security_completed_share",
        "competence_information_security_within_share",
        "competence_robots_3d_printing_completed_share",
        "competence_digital_citizenship_completed_share",
        "competence_programming_completed_share",
    )}  # fmt: skip
    # By 2026-01-15: l1, p2, d1 and m1, 4 of 14; 0.7143 - 0.2857.
    assert [(date(2026, 1, 15), 0.2857, 0.7143, 0.4286)] == [
        (r.baseline_as_of, r.baseline, r.value, r.change)  # type: ignore[attr-defined]
        for r in snapshot.rows("trend")
        if r.key == "competence_information_security_completed_share"
    ]


def test_every_area_per_institution_all_roles_together(engine: sa.Engine):
    """Issue 16's figure: the module (and every area) per institution, all roles together.

    s1 has 10 staff (4 lærere, 3 pædagoger, 3 ledere), s2 4 (3 lærere, 1 leder). s2's
    role cells are hidden, but its unit row is not: its 4 are the published staff
    headcount, and its figures are the tenant's (the trend) minus s1's published ones.
    """
    snapshot = compile_snapshot(engine, dk.tenant_settings(), dk.AS_OF, pseudonym_key=KEY)
    assert [
        ("s1|digital_citizenship", 10, 3, 0.3, False, None, None, ()),  # p2, p3, d1
        ("s1|digital_didactics", 10, 0, 0.0, False, None, None, ()),
        # l1, l2, l3, p1, p2, d1, d2, d3 completed; all but p2 (2025-03-01) since 2025-06-15.
        ("s1|information_security", 10, 8, 0.8, True, 7, 0.7, ()),
        ("s1|learning_platforms", 10, 0, 0.0, False, None, None, ()),
        ("s1|programming", 10, 0, 0.0, False, None, None, ()),
        ("s1|robots_3d_printing", 10, 3, 0.3, False, None, None, ()),  # l1, l2, p1
        ("s2|digital_citizenship", 4, 0, 0.0, False, None, None, ()),
        ("s2|digital_didactics", 4, 0, 0.0, False, None, None, ()),
        # m1 (2026-01-10) and e1 (2026-02-01), both within 12 months.
        ("s2|information_security", 4, 2, 0.5, True, 2, 0.5, ()),
        ("s2|learning_platforms", 4, 0, 0.0, False, None, None, ()),
        ("s2|programming", 4, 0, 0.0, False, None, None, ()),
        ("s2|robots_3d_printing", 4, 1, 0.25, False, None, None, ()),  # m2
    ] == table(snapshot, "competence_by_unit", SUMMARY_FIELDS)
    # The tenant's 10 (and 9 within) of 14 are these rows' sums: 8 + 2 and 7 + 2.


def _role_cell(role: str, staff: int | None, completed: int | None) -> CompetenceSummary:
    share = None if staff is None or completed is None else round(completed / staff, 4)
    return CompetenceSummary(
        tenant=dk.TENANT, key=f"s1|{role}|information_security", as_of=dk.AS_OF,
        unit_key="s1", role=role, area=CompetenceArea.INFORMATION_SECURITY, staff=staff,
        completed=completed, completed_share=share, required=False, within_requirement=None,
        within_share=None, suppressed=() if staff is not None else ALL,
    )  # fmt: skip


def _unit_row(staff: int | None, completed: int | None) -> CompetenceByUnit:
    share = None if staff is None or completed is None else round(completed / staff, 4)
    return CompetenceByUnit(
        tenant=dk.TENANT, key="s1|information_security", as_of=dk.AS_OF, unit_key="s1",
        area=CompetenceArea.INFORMATION_SECURITY, staff=staff, completed=completed,
        completed_share=share, required=False, within_requirement=None, within_share=None,
        suppressed=() if staff is not None else ALL,
    )  # fmt: skip


def _findings(records: dict[str, list[object]]) -> list[str]:
    tables = {
        name: [r.model_dump(mode="json") for r in rows]  # type: ignore[attr-defined]
        for name, rows in records.items()
    }
    return [str(f.cell) for f in audit_tables(tables, 3).findings]


def test_a_cell_hidden_in_one_competence_record_is_not_given_by_the_other():
    """A unit row is the sum of its role cells: hidden in one record, the other gives it back.

    s1: 5 lærere (4 completed) and 2 ledere (1 completed), 7 staff in all (5 completed).
    """
    # The ledere hidden (2 < 3), the unit row published: 7 - 5 = 2 ledere.
    role_hidden = {
        "competence_summary": [
            _role_cell("school_leader", None, None),
            _role_cell("teacher", 5, 4),
        ],
        "competence_by_unit": [_unit_row(7, 5)],
    }
    assert ["competence_summary [s1|school_leader|information_security] staff"] == _findings(
        role_hidden
    )
    # The unit row hidden, both role cells published: 5 + 3 = 8 staff.
    unit_hidden = {
        "competence_summary": [_role_cell("school_leader", 3, 1), _role_cell("teacher", 5, 4)],
        "competence_by_unit": [_unit_row(None, None)],
    }
    assert ["competence_by_unit [s1|information_security] staff"] == _findings(unit_hidden)
    # Complementary suppression hides one more row of each, and nothing is left to find.
    for records in (role_hidden, unit_hidden):
        protected, report = suppress_complementary(records, 3)  # type: ignore[arg-type]
        assert ([], []) == (report.unresolved, _findings(protected))  # type: ignore[arg-type]
        assert 1 <= report.extra_rows


def development(engine: sa.Engine, area: str) -> list[tuple[object, ...]]:
    snapshot = compile_snapshot(engine, dk.tenant_settings(), dk.AS_OF, pseudonym_key=KEY)
    return [
        r
        for r in table(snapshot, "competence_development", DEVELOPMENT_FIELDS)
        if str(r[0]).endswith(f"|{area}")
    ]


def test_the_module_at_the_baseline_and_the_measurement_per_institution_and_role(
    engine: sa.Engine,
):
    """Each cell at 15 January and 15 April, and the change in its completed share."""
    assert [
        ("2026-01-15|s1|preschool_teacher|information_security", 3, 1, 0.3333, None, None, ()),
        ("2026-01-15|s1|school_leader|information_security", 3, 1, 0.3333, None, None, ()),
        ("2026-01-15|s1|teacher|information_security", 4, 1, 0.25, None, None, ()),
        ("2026-01-15|s2|school_leader|information_security", *EMPTY),
        ("2026-01-15|s2|teacher|information_security", *EMPTY),
        # p1 joined p2: 2/3; 0.6667 - 0.3333.
        ("2026-04-15|s1|preschool_teacher|information_security", 3, 2, 0.6667, 0.3333, 0.3334,
         ()),
        ("2026-04-15|s1|school_leader|information_security", 3, 1, 0.3333, 0.3333, 0.0, ()),
        # l2 joined l1: 2/4.
        ("2026-04-15|s1|teacher|information_security", 4, 2, 0.5, 0.25, 0.25, ()),
        ("2026-04-15|s2|school_leader|information_security", *EMPTY),
        ("2026-04-15|s2|teacher|information_security", *EMPTY),
    ] == development(engine, "information_security")  # fmt: skip


def test_the_danish_areas_at_the_baseline_and_the_measurement(engine: sa.Engine):
    """Robots and 3D printing and digital dannelse develop per cell from the baseline."""
    assert [
        ("2026-01-15|s1|preschool_teacher|robots_3d_printing", 3, 0, 0.0, None, None, ()),
        ("2026-01-15|s1|school_leader|robots_3d_printing", 3, 0, 0.0, None, None, ()),
        ("2026-01-15|s1|teacher|robots_3d_printing", 4, 0, 0.0, None, None, ()),
        ("2026-01-15|s2|school_leader|robots_3d_printing", *EMPTY),
        ("2026-01-15|s2|teacher|robots_3d_printing", *EMPTY),
        ("2026-04-15|s1|preschool_teacher|robots_3d_printing", 3, 1, 0.3333, 0.0, 0.3333, ()),
        ("2026-04-15|s1|school_leader|robots_3d_printing", 3, 0, 0.0, 0.0, 0.0, ()),
        ("2026-04-15|s1|teacher|robots_3d_printing", 4, 1, 0.25, 0.0, 0.25, ()),  # l1 (03-01)
        ("2026-04-15|s2|school_leader|robots_3d_printing", *EMPTY),
        ("2026-04-15|s2|teacher|robots_3d_printing", *EMPTY),
    ] == development(engine, "robots_3d_printing")  # fmt: skip
    assert [
        ("2026-01-15|s1|preschool_teacher|digital_citizenship", 3, 0, 0.0, None, None, ()),
        ("2026-01-15|s1|school_leader|digital_citizenship", 3, 1, 0.3333, None, None, ()),
        ("2026-01-15|s1|teacher|digital_citizenship", 4, 0, 0.0, None, None, ()),
        ("2026-01-15|s2|school_leader|digital_citizenship", *EMPTY),
        ("2026-01-15|s2|teacher|digital_citizenship", *EMPTY),
        # p2 (04-01) and p3 (04-10).
        ("2026-04-15|s1|preschool_teacher|digital_citizenship", 3, 2, 0.6667, 0.0, 0.6667, ()),
        ("2026-04-15|s1|school_leader|digital_citizenship", 3, 1, 0.3333, 0.3333, 0.0, ()),
        ("2026-04-15|s1|teacher|digital_citizenship", 4, 0, 0.0, 0.0, 0.0, ()),
        ("2026-04-15|s2|school_leader|digital_citizenship", *EMPTY),
        ("2026-04-15|s2|teacher|digital_citizenship", *EMPTY),
    ] == development(engine, "digital_citizenship")  # fmt: skip


def test_the_measurement_days_are_stored_as_snapshots_of_their_own(engine: sa.Engine):
    """Compiling June compiles and stores the baseline and the April measurement first."""
    store = SnapshotStore(engine)
    compile_snapshot(engine, dk.tenant_settings(), dk.AS_OF, pseudonym_key=KEY, store=store)
    assert [dk.BASELINE, dk.MEASUREMENT, dk.AS_OF] == store.days(dk.TENANT)


def test_a_policy_without_measurements_has_no_development_rows(engine: sa.Engine):
    """Without measurements in the policy the record is empty (the other tenants' case)."""
    snapshot = compile_snapshot(
        engine, dk.tenant_settings(measurements=[]), dk.AS_OF, pseudonym_key=KEY
    )
    assert [] == snapshot.rows("competence_development")


def test_the_default_policy_follows_the_four_nordic_areas_only():
    """The Danish areas are followed only where a policy names them."""
    assert {
        CompetenceArea.DIGITAL_DIDACTICS,
        CompetenceArea.LEARNING_PLATFORMS,
        CompetenceArea.PROGRAMMING_ROBOTICS,
        CompetenceArea.INFORMATION_SECURITY,
    } == set(Policy().competence_areas)


def _development_row(area: str, staff: int | None, completed: int | None) -> CompetenceDevelopment:
    share = None if staff is None or completed is None else round(completed / staff, 4)
    return CompetenceDevelopment(
        tenant=dk.TENANT, key=f"2026-04-15|s2|school_leader|{area}", as_of=dk.AS_OF,
        measured_on=dk.MEASUREMENT, baseline_on=dk.BASELINE, unit_key="s2",
        role="school_leader", area=CompetenceArea(area), staff=staff, completed=completed,
        completed_share=share, baseline_share=None, change=None,
        suppressed=() if staff is not None else CELL,
    )  # fmt: skip


def test_a_measurement_cell_hidden_in_one_area_is_hidden_in_all():
    """A role's staff at a measurement is the same in every area: the audit and the pass know."""
    records = {
        "competence_development": [
            _development_row("information_security", None, None),
            _development_row("robots_3d_printing", 4, 1),
        ]
    }
    tables = {name: [r.model_dump(mode="json") for r in rows] for name, rows in records.items()}
    found = audit_tables(tables, 3)
    assert ["competence_development [2026-04-15|s2|school_leader|information_security] staff"] == [
        str(f.cell) for f in found.findings
    ]
    protected, _report = suppress_complementary(records, 3)  # type: ignore[arg-type]
    assert [None, None] == [r.staff for r in protected["competence_development"]]  # type: ignore[attr-defined]


class _Viewer:
    """A signed-in user as the page template sees one."""

    def get_name(self) -> str:
        return "viewer"


def danish_page(engine: sa.Engine) -> str:
    from hub.web.dependencies import _templates
    from hub.web.followup_view import build_page

    tenant = dk.tenant_settings()
    snapshot = compile_snapshot(engine, tenant, dk.AS_OF, pseudonym_key=KEY)
    page = build_page(snapshot, 3, page_labels(tenant.country))
    return _templates.get_template("followup.html").render(
        tenant=tenant, page=page, days=[dk.AS_OF], user=_Viewer(), base=""
    )


def test_a_danish_tenant_reads_its_page_in_danish(engine: sa.Engine):
    """Headings, roles, areas and suppressed cells in Danish; no English heading left."""
    html = danish_page(engine)
    for words in (
        "opfølgning pr. 2026-06-15",
        "<h2>Enhedsdækning i forhold til målet</h2>",
        "<h2>Personalets digitale kompetencer efter rolle og område</h2>",
        "<h3>Pædagog</h3>",
        "<h3>Lærer</h3>",
        "<h3>Leder</h3>",
        "<th>Robotter og 3D-print</th>",
        "<th>Digital dannelse</th>",
        "<th>It-didaktik</th>",
        "<h2>Kompetenceudvikling: udgangspunkt og opfølgning</h2>",
        "<h2>Udvikling siden udgangspunktet</h2>",
        "<h3>Alt personale pr. institution, alle roller samlet</h3>",
    ):
        assert words in html
    for english in ("Device coverage against target", "Staff competence by role and area"):
        assert english not in html
    # p1 and p2 of three pædagoger completed the module by 15 April, from 1 of 3 in January.
    row = html[html.index('data-key="2026-04-15|s1|preschool_teacher|information_security"') :]
    row = row[: row.index("</tr>")]
    cells = ("<td>3</td>", "<td>67%</td>", "<td>33%</td>", "<td>33.3%</td>")
    assert all(c in row for c in cells), row
    hidden = html[html.index('data-key="2026-04-15|s2|teacher|information_security"') :]
    assert '<td class="suppressed" title="færre end 3 personer">diskretioneret</td>' in hidden
    # The module per institution, all roles: s1's 7 of 10 and s2's 2 of 4 within 12 months.
    table_html = html[html.index('<table class="competence-by-unit">') :]
    table_html = table_html[: table_html.index("</table>")]
    assert "<strong>70% af 10</strong>" in table_html
    assert "<strong>50% af 4</strong>" in table_html


def test_other_countries_read_the_page_in_english():
    """Only a Danish tenant's page changes language; the others keep the English words."""
    assert (DANISH, ENGLISH, ENGLISH, ENGLISH) == tuple(
        page_labels(c) for c in ("DK", "NO", "SE", "FI")
    )
    assert "Device coverage against target" == ENGLISH.coverage


def test_a_baseline_the_history_cannot_give_leaves_the_development_empty(engine: sa.Engine):
    """A baseline before the history begins (2025-01-01) has no cells to compare with.

    The April measurement is still compiled and stored, as `compile_measurements` does.
    """
    snapshot = compile_snapshot(
        engine, dk.tenant_settings(baseline="2024-12-01"), dk.AS_OF, pseudonym_key=KEY
    )
    assert [] == snapshot.rows("competence_development")
    assert [dk.MEASUREMENT, dk.AS_OF] == SnapshotStore(engine).days(dk.TENANT)
