"""How follow-up figures read in a terminal and on the hub's pages: the headline table.

`hub run` prints `headline_table`; the web pages show the same `HEADLINE` measures,
formatted by `format_measure`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hub.followup.jobs import FollowupResult

#: The measures `hub run` prints per tenant: (measure, column title).
HEADLINE = (
    ("pupils", "pupils"),
    ("pupils_with_device_share", "pupils w/dev"),
    ("devices_per_pupil", "dev/pupil"),
    ("devices_per_staff", "dev/staff"),
    ("preschool_children_per_shared_device", "children/dev"),
    ("exam_ready_share", "exam-ready"),
    ("competence_information_security_within_share", "infosec"),
    ("devices_past_life_cycle_share", "old dev"),
    ("unmatched_identities", "unmatched"),
)


def format_measure(value: float | None, measure: str) -> str:
    """A headline figure for a terminal: counts as integers, shares as percentages."""
    if value is None:
        return "-"
    if measure.endswith("_share"):
        return f"{value * 100:.1f}%"
    if measure in ("pupils", "staff", "children", "unmatched_identities", "school_devices"):
        return f"{int(value):,}"
    return f"{value:.2f}"


def headline_table(results: Sequence[FollowupResult]) -> list[str]:
    """The per-tenant headline figures as lines of a table."""
    header = f"{'tenant':<14} {'as_of':<10} " + " ".join(f"{t:>12}" for _, t in HEADLINE)
    lines = [header, "-" * len(header)]
    for r in results:
        if r.outcome is None:
            lines.append(f"{r.tenant:<14} {'':<10} {r.status}: {r.error}")
            continue
        measures = r.outcome.snapshot.measures
        lines.append(
            f"{r.tenant:<14} {r.outcome.snapshot.as_of.isoformat():<10} "
            + " ".join(f"{format_measure(measures.get(m), m):>12}" for m, _ in HEADLINE)
        )
    return lines
