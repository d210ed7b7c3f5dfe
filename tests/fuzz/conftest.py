"""The fuzz suite's summary: mutations tried, dead letters, entities and crashes."""

from __future__ import annotations

from typing import Any

from tests.fuzz.suite import STATS


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print one line per connector and a total, for the closing note of a run."""
    if not STATS:
        return
    terminalreporter.section("fuzz")
    totals: dict[str, int] = {}
    for name, stats in sorted(STATS.items()):
        for kind in ("mutations", "dead letters", "entities", "deletes", "crashes"):
            totals[kind] = totals.get(kind, 0) + stats[kind]
        terminalreporter.write_line(f"{name}: {_line(stats)}")
    terminalreporter.write_line(f"total: {_line(totals)}")


def _line(stats: Any) -> str:
    return (
        f"{stats['mutations']:,} mutations, {stats['dead letters']:,} dead letters, "
        f"{stats['entities']:,} entities, {stats['crashes']} crashes"
    )
