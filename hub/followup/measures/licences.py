"""Licences and apps: the central purchasing overview and each product's use per school.

For every licence pool (a product the owner holds in one source: a Microsoft 365 SKU, an
Apple app or book, a Google Workspace SKU, a Jamf Pro volume-purchasing app) the
`licence_overview` row gives the source's counts (bought, assigned, available), the cost
where the source gives a price, and who holds the licences, from the source's
assignments:

- **held by active people**: the holder is linked to a person of the directory (a
  licence assigned to an Apple device counts for the device's user, found through the
  device's `physical_key` in the MDMs);
- **held by people who left**: the holder's address, UPN or user name (or the device's
  user's) matches nobody in the directory: people no longer there, or identities
  matching cannot link (`unmatched_identities` lists those per source);
- **held by devices**: a shared device (no user) holds it.

An assignment whose device no MDM knows, or whose holder is named only by a system's own
user id that matches nobody, is none of these. `use_share` is the active people's
licences of those bought. `licence_use` splits the active people's licences by the
school (unit) of the person; the rows of a product
add up to its overview row, the unit left empty where the directory knows none. A person
holding a product twice (two assignments) counts once.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from hub.followup._common import Context, share, suppress
from hub.followup._state import LicenceAssignmentRow, LicencePoolRow
from schemas.followup import LicenceOverview, LicenceUse

#: Identifiers the directory itself holds: a holder named by one that matches nobody is no
#: longer there. A holder known only by a system's own user id (Apple's `clientUserId`)
#: who matches nobody is not counted as gone: the id may simply be unknown to the hub.
_DIRECTORY_NAMES = frozenset({"upn", "email", "username", "annotated"})
#: The people figures of an overview row (what its suppression empties).
OVERVIEW_FIGURES = ("held_by_active", "held_by_left", "use_share")
USE_FIGURES = ("holders",)


@dataclass
class _Holders:
    """Who holds one pool's licences."""

    active: dict[str, str | None] = field(default_factory=dict)  # person → unit
    left: set[str] = field(default_factory=set)
    devices: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class LicenceTotals:
    """The tenant's licences across its pools (of the pools that declare their counts)."""

    bought: int = 0
    held_by_active: int = 0


def licences(ctx: Context) -> tuple[list[LicenceOverview], list[LicenceUse], LicenceTotals]:
    """The purchasing overview per pool, the use per pool and unit, and the tenant totals."""
    holders = _holders(ctx)
    overview: list[LicenceOverview] = []
    use: list[LicenceUse] = []
    bought = active_total = 0
    for pool in sorted(ctx.state.licence_pools, key=lambda p: (p.source, p.key)):
        held = holders.get((pool.source, pool.key), _Holders())
        system, _, instance = pool.source.partition("/")
        active = len(held.active)
        values, hidden = _suppressed_people(ctx, active, len(held.left), pool)
        if pool.total is not None:
            bought += pool.total
            active_total += active
        overview.append(
            LicenceOverview(
                tenant=ctx.tenant,
                key=f"{instance}|{pool.key}",
                as_of=ctx.as_of,
                licence_source=instance,
                system=system,
                vendor=pool.vendor,
                pool_key=pool.key,
                product_id=pool.product_id,
                product_name=pool.product_name,
                kind=pool.kind,
                location=pool.location,
                bought=pool.total,
                assigned=pool.assigned,
                available=pool.available,
                unit_price=pool.unit_price,
                currency=pool.currency,
                cost=(
                    None
                    if pool.unit_price is None or pool.total is None
                    else round(pool.unit_price * pool.total, 2)
                ),
                held_by_devices=len(held.devices),
                suppressed=hidden,
                **values,
            )
        )
        per_unit: dict[str, int] = defaultdict(int)
        for unit in held.active.values():
            per_unit[unit or ""] += 1
        for unit, count in sorted(per_unit.items()):
            figures, gone = suppress({"holders": count}, USE_FIGURES, ctx.small(count))
            use.append(
                LicenceUse(
                    tenant=ctx.tenant,
                    key=f"{instance}|{pool.key}|{unit}",
                    as_of=ctx.as_of,
                    licence_source=instance,
                    pool_key=pool.key,
                    product_id=pool.product_id,
                    product_name=pool.product_name,
                    unit_key=unit,
                    suppressed=gone,
                    **figures,
                )
            )
    return overview, use, LicenceTotals(bought, active_total)


def _suppressed_people(
    ctx: Context, active: int, left: int, pool: LicencePoolRow
) -> tuple[dict[str, object], tuple[str, ...]]:
    """The overview's people figures, each small cell emptied (with the share it gives)."""
    values: dict[str, object] = {
        "held_by_active": active,
        "held_by_left": left,
        "use_share": share(active, pool.total),
    }
    hidden: list[str] = []
    if ctx.small(active):
        hidden += ["held_by_active", "use_share"]
    if ctx.small(left):
        hidden.append("held_by_left")
    for name in hidden:
        values[name] = None
    return values, tuple(hidden)


def _holders(ctx: Context) -> dict[tuple[str, str], _Holders]:
    """Per (source, pool key): who holds its licences."""
    directory = ctx.directory
    devices = _device_holders(ctx)
    found: dict[tuple[str, str], _Holders] = defaultdict(_Holders)
    for assignment in ctx.state.licence_assignments:
        held = found[(assignment.source, assignment.pool_key)]
        person, left = _holder(ctx, assignment, devices)
        if person is not None:
            row = directory.people.get(person)
            held.active[person] = None if row is None else directory.unit_of(row)
        elif left is not None:
            held.left.add(left)
        elif assignment.device_physical_key in devices:
            held.devices.add(assignment.device_physical_key or "")
    return found


def _holder(
    ctx: Context,
    assignment: LicenceAssignmentRow,
    devices: dict[str, tuple[str | None, bool]],
) -> tuple[str | None, str | None]:
    """(directory person, None) for an active holder; (None, holder id) for one who left."""
    person = ctx.directory.licence_holder(assignment.source, assignment.users)
    if person is not None:
        return person, None
    if any(kind in _DIRECTORY_NAMES for kind, _value in assignment.users):
        return None, f"{assignment.source}|{assignment.users}"
    if assignment.users:
        return None, None  # only a system's own user id: who it is cannot be told
    device = devices.get(assignment.device_physical_key or "")
    if device is None:
        return None, None
    user, has_user = device
    if user is not None:
        return user, None
    return None, (f"device|{assignment.device_physical_key}" if has_user else None)


def _device_holders(ctx: Context) -> dict[str, tuple[str | None, bool]]:
    """Physical key → (the device's directory user, whether any MDM names a user)."""
    found: dict[str, tuple[str | None, bool]] = {}
    for row in ctx.state.devices:
        if row.physical_key is None:
            continue
        user = ctx.directory.device_user(row.source, row.key)
        known, named = found.get(row.physical_key, (None, False))
        found[row.physical_key] = (known or user, named or row.named)
    return found
