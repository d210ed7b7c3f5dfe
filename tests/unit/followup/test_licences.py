"""The licence records of the golden tenant: holders, leavers, devices, and their suppression."""

from __future__ import annotations

import sqlalchemy as sa

from hub.followup import compile_snapshot
from hub.followup.audit import audit_tables
from hub.web.dependencies import _templates
from hub.web.followup_view import build_page
from tests.conftest import TEST_HMAC_KEY
from tests.unit.followup import golden

KEY = TEST_HMAC_KEY.encode()


def test_a_schools_hidden_licence_cell_is_protected_by_complementary_suppression(
    engine: sa.Engine,
):
    """Without the pass the audit works out Solbackens' 2 faculty holders; with it, nothing."""
    bare = compile_snapshot(
        engine, golden.tenant_settings(), golden.AS_OF, pseudonym_key=KEY, complementary=False
    )
    tables = {
        name: [r.model_dump(mode="json") for r in bare.rows(name)]
        for name in ("licence_overview", "licence_use")
    }
    found = audit_tables(tables, 3).lines()
    assert "licence_use [m365|fac|sol] holders: suppressed, but is exactly 2" in "\n".join(found)
    protected = compile_snapshot(engine, golden.tenant_settings(), golden.AS_OF, pseudonym_key=KEY)
    tables = {
        name: [r.model_dump(mode="json") for r in protected.rows(name)]
        for name in ("licence_overview", "licence_use")
    }
    assert [] == audit_tables(tables, 3).lines()


def test_a_device_licence_counts_for_the_devices_user_and_a_shared_device_for_itself(
    engine: sa.Engine,
):
    """Book Creator on d1's iPad is Björkskolan's; on the shared tablets, two devices.

    vpp-user-9, an MDM's user id that matches nobody, is not counted as someone who left.
    """
    snapshot = compile_snapshot(
        engine, golden.tenant_settings(min_cell_size=1), golden.AS_OF, pseudonym_key=KEY
    )
    use = {r.key: r.holders for r in snapshot.rows("licence_use")}  # type: ignore[attr-defined]
    (book,) = [r for r in snapshot.rows("licence_overview") if r.key.startswith("vpp|")]
    assert (1, 5) == (use["vpp|661166101|STDQ|bj"], use["vpp|661166101|STDQ|ek"])
    assert (6, 0, 2) == (book.held_by_active, book.held_by_left, book.held_by_devices)  # type: ignore[attr-defined]


def test_a_licence_of_someone_who_left_is_not_used_by_an_active_person(engine: sa.Engine):
    """left1's faculty licence counts as held by someone who left, not in the use share."""
    snapshot = compile_snapshot(
        engine, golden.tenant_settings(min_cell_size=1), golden.AS_OF, pseudonym_key=KEY
    )
    fac = next(r for r in snapshot.rows("licence_overview") if r.key == "m365|fac")
    assert (6, 1, 0.6) == (fac.held_by_active, fac.held_by_left, fac.use_share)  # type: ignore[attr-defined]


class _Viewer:
    """A signed-in user as the page template sees one."""

    def get_name(self) -> str:
        return "viewer"


def test_the_follow_up_page_shows_the_purchasing_overview_and_use_per_school(engine: sa.Engine):
    """The page lists each product with its counts, cost and use, hidden cells marked."""
    snapshot = compile_snapshot(engine, golden.tenant_settings(), golden.AS_OF, pseudonym_key=KEY)
    html = _templates.get_template("followup.html").render(
        tenant=golden.tenant_settings(),
        page=build_page(snapshot, 3),
        days=[golden.AS_OF],
        user=_Viewer(),
        base="",
    )
    overview = html[html.index('<table class="licences">') :]
    book = overview[overview.index('<tr data-key="vpp|661166101|STDQ">') :]
    assert "<td>348.00 SEK</td>" in book[: book.index("</tr>")]
    assert '<td class="suppressed"' in overview[overview.index('data-key="m365|fac"') :][:900]
    use = html[html.index('<table class="licence-use">') :]
    assert "<th>STANDARDWOFFPACK_STUDENT</th>" in use
    assert '<tr><td class="text">Björkskolan</td>' in use


def test_more_licences_held_than_bought_is_a_use_share_above_one():
    """Microsoft 365 lets consumption run past the purchase: 1.0641 is published, not refused."""
    from schemas.followup import LicenceOverview

    row = LicenceOverview.model_validate(
        {
            "tenant": "t", "as_of": "2026-12-07", "key": "m365|stu", "licence_source": "m365",
            "system": "microsoft_licences", "vendor": "microsoft", "pool_key": "stu",
            "product_id": "stu", "product_name": None, "kind": "subscription",
            "location": None, "bought": 47, "assigned": 50, "available": 0,
            "unit_price": None, "currency": None, "cost": None, "held_by_active": 50,
            "held_by_left": 0, "held_by_devices": 0, "use_share": 1.0641,
        }
    )  # fmt: skip
    assert 1.0641 == row.use_share
