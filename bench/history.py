"""What the reporting store's history costs: bytes per 10,000 changes, and compile time.

Publishes the compile benchmark's tenant (`--people` directory people and what they
bring) as synced on day 1, materialises it, then publishes every entity again with other
values (`seed` 8) as day 2's changes and materialises those. Prints, from this one run:

- the store's size after each day (SQLite, after VACUUM), and the history's share of it;
- the growth per 10,000 changes (day 2's bytes over its events), which with the number
  of changes a school year brings gives the year's cost (docs/followup.md, "History");
- materialise throughput on both days, and the compile time of day 1 from the history
  against day 2's (a past day costs what today costs).

    .venv/bin/python bench/history.py --people 5000
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from _harness import kafka_broker
from compile import AS_OF, TENANT, publish

from hub.followup import compile_snapshot
from hub.logging import configure
from hub.materialise import Materialiser, report_history
from hub.settings import parse_settings
from hub.store import StateStore
from schemas.envelope import Op

KEY = b"bench-hmac-key-0123456789"


def vacuumed_size(path: Path) -> int:
    """The database's size after VACUUM, so free pages do not count."""
    with sqlite3.connect(path) as conn:
        conn.execute("VACUUM")
    return path.stat().st_size


def history_rows(engine: sa.Engine) -> int:
    """Versions in the history."""
    with engine.connect() as conn:
        return int(conn.scalar(sa.select(sa.func.count()).select_from(report_history)) or 0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--people", type=int, default=5_000, help="directory people")
    parser.add_argument("--bootstrap", help="an existing broker (default: start a local one)")
    args = parser.parse_args(argv)
    configure(fmt="console", level="warning")
    work = Path(tempfile.mkdtemp(prefix="skolehub-bench-history-"))
    database = work / "hub.db"
    day1 = datetime.combine(AS_OF, datetime.min.time(), UTC) + timedelta(hours=6)
    day2 = day1 + timedelta(days=1)
    tenant = parse_settings({"tenants": [{"id": TENANT, "name": "Bench"}]}).tenant(TENANT)
    with kafka_broker(work, args.bootstrap) as bootstrap:
        prefix = f"bench{uuid.uuid4().hex[:8]}"
        store = StateStore(f"sqlite:///{database}")
        engine = store.engine
        materialiser = Materialiser(engine, bootstrap, prefix, batch_size=5000)
        sizes, rates, events = [], [], []
        for seed, stamp, op in ((7, day1, Op.CREATED), (8, day2, Op.UPDATED)):
            _counts, sent = publish(bootstrap, prefix, args.people, seed=seed, stamp=stamp, op=op)
            started = time.monotonic()
            progress = materialiser.run(timeout=3600)
            rates.append(progress.records / (time.monotonic() - started))
            events.append(sent)
            sizes.append(vacuumed_size(database))
        versions = history_rows(engine)
        timings = []
        for day in (AS_OF, AS_OF + timedelta(days=1)):
            started = time.monotonic()
            compile_snapshot(engine, tenant, day, pseudonym_key=KEY)
            timings.append(time.monotonic() - started)
        with engine.begin() as conn:
            conn.execute(report_history.delete())
        without_history = vacuumed_size(database)
        store.close()

    growth = (sizes[1] - sizes[0]) / events[1] * 10_000
    print(f"day 1: {events[0]:,} events, store {sizes[0] / 1e6:,.1f} MB, "
          f"materialised at {rates[0]:,.0f} events/s")  # fmt: skip
    print(f"day 2: {events[1]:,} changes, store {sizes[1] / 1e6:,.1f} MB, "
          f"materialised at {rates[1]:,.0f} events/s")  # fmt: skip
    print(f"history: {versions:,} versions, {(sizes[1] - without_history) / 1e6:,.1f} MB "
          f"of the {sizes[1] / 1e6:,.1f} MB store")  # fmt: skip
    print()
    print(f"growth per 10,000 changes:        {growth / 1e6:.2f} MB")
    print(f"history share of the store:       {(sizes[1] - without_history) / sizes[1]:.2f}")
    print(f"day-2 / day-1 materialise rate:   {rates[1] / rates[0]:.2f}")
    print(f"compile of day 1 / of day 2:      {timings[0] / timings[1]:.2f} "
          f"({timings[0]:.1f} s, {timings[1]:.1f} s)")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
