"""The device life cycle from the purchase register: past the leasing period, never managed.

Apple School Manager knows when each device was ordered; the MDMs know which devices are
enrolled. A purchased device past the policy's `leasing_months` since its order is due for
replacement; one whose physical key (manufacturer and serial, as every connector computes
it) no MDM record carries was bought and never enrolled: it cannot be followed, updated or
counted for a pupil. Per product family (`iPad`, `Mac`) and `*`; devices released from the
organisation on or before `as_of` are left out. Devices, not people: nothing is suppressed.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa

from hub.followup._common import Context, add_months, share
from hub.followup._state import _instant, _rows
from hub.followup.measures.summary import Measure
from schemas.followup import DeviceLifecycle

ALL = "*"


@dataclass(frozen=True, slots=True)
class PurchaseRow:
    """A purchased device as the register reports it."""

    physical_key: str | None
    family: str
    ordered_on: date | None
    assigned: bool
    released_on: date | None


def load_purchases(engine: sa.Engine, tenant: str, at: datetime) -> list[PurchaseRow]:
    """The tenant's purchased devices valid at `at`."""
    rows = []
    for _source, p in _rows(engine, tenant, "purchased_device", at):
        ordered, released = _instant(p.get("ordered_at")), _instant(p.get("released_at"))
        rows.append(
            PurchaseRow(
                p.get("physical_key"),
                p.get("product_family") or "-",
                ordered.date() if ordered else None,
                bool(p.get("assigned")),
                released.date() if released else None,
            )
        )
    return rows


def device_lifecycle(
    ctx: Context, purchases: list[PurchaseRow]
) -> tuple[list[DeviceLifecycle], dict[str, Measure]]:
    """Per product family and `*`: purchased, past the leasing period, never managed."""
    managed = {d.physical_key for d in ctx.state.devices if d.physical_key}
    cells: dict[str, list[PurchaseRow]] = defaultdict(list)
    for row in purchases:
        if row.released_on is not None and row.released_on <= ctx.as_of:
            continue
        cells[ALL].append(row)
        cells[row.family].append(row)
    records = []
    for family, rows in sorted(cells.items()):
        past = sum(
            1
            for r in rows
            if r.ordered_on is not None
            and add_months(r.ordered_on, ctx.policy.leasing_months) < ctx.as_of
        )
        unmanaged = [r for r in rows if r.physical_key not in managed]
        records.append(
            DeviceLifecycle(
                tenant=ctx.tenant,
                key=family,
                as_of=ctx.as_of,
                product_family=family,
                purchased=len(rows),
                past_leasing=past,
                past_leasing_share=share(past, len(rows)),
                not_managed=len(unmanaged),
                not_managed_share=share(len(unmanaged), len(rows)),
                assigned_not_enrolled=sum(1 for r in unmanaged if r.assigned),
            )
        )
    total = next((r for r in records if r.product_family == ALL), None)
    measures = {
        "purchased_devices_past_leasing_share": Measure(
            total.past_leasing_share if total else None
        ),
        "purchased_devices_not_managed_share": Measure(total.not_managed_share if total else None),
    }
    return records, measures
