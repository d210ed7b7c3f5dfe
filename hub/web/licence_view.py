"""The licence part of a tenant's follow-up page: the purchasing overview and use per school.

As for the rest of the page, every figure is the stored record's, suppression kept.
"""

from __future__ import annotations

from collections import defaultdict

from hub.followup.presentation import ENGLISH, PageLabels
from hub.web.followup_view import Cell, RoleMatrix
from schemas.followup import LicenceOverview, LicenceUse


def product_title(row: LicenceOverview | LicenceUse) -> str:
    """A product as its reader knows it: its name where the source gives one, else its id."""
    return row.product_name or row.product_id


def licence_matrix(
    rows: list[LicenceUse],
    overview: list[LicenceOverview],
    unit_names: dict[str, str],
    labels: PageLabels = ENGLISH,
) -> RoleMatrix | None:
    """Active people's licences: a row per school, a column per product; None without rows."""
    if not rows:
        return None
    products = [f"{r.licence_source}|{r.pool_key}" for r in overview]
    titles = {f"{r.licence_source}|{r.pool_key}": product_title(r) for r in overview}
    cells: dict[str, dict[str, Cell]] = defaultdict(dict)
    for row in rows:
        unit = unit_names.get(row.unit_key, row.unit_key) if row.unit_key else labels.no_unit
        hidden = "holders" in row.suppressed
        text = labels.suppressed if hidden else str(row.holders)
        cells[unit][f"{row.licence_source}|{row.pool_key}"] = Cell(text, hidden)
    used = [p for p in products if any(p in by for by in cells.values())]
    return RoleMatrix(
        "",
        used,
        [(unit, [by.get(p, Cell("–")) for p in used]) for unit, by in sorted(cells.items())],
        labels.licence_use,
        [titles.get(p, p) for p in used],
    )
