"""Classroom equipment and IT support in the follow-up: the policy's choices and the page."""

from __future__ import annotations

import sqlalchemy as sa

from hub.followup import compile_snapshot
from hub.followup.measures.support import percentile
from hub.web.dependencies import _templates
from hub.web.followup_view import build_page
from tests.unit.followup import expected, golden
from tests.unit.followup.test_golden import table

KEY = b"test-hmac-key-0123456789abcdef"


def test_the_minimum_comes_from_the_policy(engine: sa.Engine) -> None:
    """With a minimum of a picture source only, every room with a projector or board meets it."""
    tenant = golden.tenant_settings(
        classroom_equipment={"minimum": [["projector", "interactive_board"]]}
    )
    snapshot = compile_snapshot(engine, tenant, golden.AS_OF, pseudonym_key=KEY)
    assert [("bj", 2, 1, 0.5, 3, 0), ("ek", 3, 3, 1.0, 5, 1)] == table(
        snapshot, "equipment_by_unit", expected.EQUIPMENT_FIELDS
    )
    assert 0.8 == snapshot.measures["classrooms_meeting_minimum_share"]


def test_the_service_level_comes_from_the_policy(engine: sa.Engine) -> None:
    """A 120-hour service level counts Björkskolan's 80-hour ticket within it too."""
    tenant = golden.tenant_settings(support={"service_level_hours": 120})
    snapshot = compile_snapshot(engine, tenant, golden.AS_OF, pseudonym_key=KEY)
    rows = {r.key: r for r in snapshot.rows("support_by_unit")}
    assert 1.0 == rows["bj|*"].within_service_level_share  # type: ignore[attr-defined]


def test_a_larger_cell_size_hides_a_school_and_its_complement(engine: sa.Engine) -> None:
    """With a minimum cell of 4, Björkskolan's 3 requesters hide it, and Ekskolan's `*` too."""
    tenant = golden.tenant_settings(min_cell_size=4)
    snapshot = compile_snapshot(engine, tenant, golden.AS_OF, pseudonym_key=KEY)
    hidden = {r.key for r in snapshot.rows("support_by_unit") if r.suppressed}  # type: ignore[attr-defined]
    assert {"bj|*", "bj|Program", "ek|*"} <= hidden


def test_the_90th_percentile_is_the_nearest_rank() -> None:
    """Of ten values the 90th percentile is the ninth; of one, that one."""
    assert (9.0, 5.0) == (
        percentile([float(n) for n in range(10, 0, -1)], 0.9),
        percentile([5.0], 0.9),
    )


def test_the_follow_up_page_shows_equipment_and_support(engine: sa.Engine) -> None:
    """The page lists classrooms, support figures (hidden cells marked) and purchased devices."""
    snapshot = compile_snapshot(engine, golden.tenant_settings(), golden.AS_OF, pseudonym_key=KEY)
    html = _templates.get_template("followup.html").render(
        tenant=golden.tenant_settings(),
        page=build_page(snapshot, 3),
        days=[golden.AS_OF],
        user=_Viewer(),
        base="",
    )
    equipment = html[html.index('<table class="equipment">') :]
    assert (
        '<tr data-unit="ek"><td class="text">Ekskolan</td><td>3</td><td>2</td><td>66.7%</td>'
        in (equipment)
    )
    support = html[html.index('<table class="support">') :]
    assert 'data-unit="bj" data-category="*"' in support
    assert support.index('data-category="*"') < support.index('data-category="Program"')
    assert 'class="suppressed"' in support
    lifecycle = html[html.index('<table class="lifecycle">') :]
    assert '<tr data-family="*"><td class="text">*</td><td>6</td><td>3</td><td>50.0%</td>' in (
        lifecycle
    )


class _Viewer:
    """A signed-in user as the page template sees one."""

    def get_name(self) -> str:
        return "viewer"
