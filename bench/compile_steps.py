"""Peak memory of each step of the follow-up compile, on a store `bench/scale.py --keep` left.

Compiles the folder's tenant for today (`compile_tenant(..., publish=False)`) in this
process and prints, per step of `hub.followup.compile` (loading the state, matching,
each measure, data quality, the suppression, saving), its time, the peak RSS while it
ran and the RSS after it. The peak is the kernel's high-water mark (`VmHWM`), reset
after each step (`/proc/self/clear_refs`), so a step's peak is its own (with the code
between it and the step before), not an earlier step's. Linux only.

    .venv/bin/python bench/scale.py --people 100000 --keep     # prints the work folder
    .venv/bin/python bench/compile_steps.py <work folder>/p100000

The compile takes the tenant's compile lease; a lease left by a killed run is cleared
first (nothing else may compile the folder meanwhile).
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: The steps of `hub.followup.compile` measured, in the order the compile runs them.
STEPS = (
    "load_state",
    "build_directory",
    "build_fleet",
    "device_coverage",
    "load_items",
    "classroom_equipment",
    "load_tickets",
    "support_by_unit",
    "load_purchases",
    "device_lifecycle",
    "staff_competence",
    "digital_skills",
    "course_participation",
    "licences",
    "unmatched_identities",
    "competence_by_unit",
    "data_quality",
    "suppress_complementary",
    "measured_summaries",
    "sorted_records",
)


def _mib(line_name: str) -> int:
    """A `/proc/self/status` figure (kB) in MiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(line_name + ":"):
                return int(line.split()[1]) // 1024
    raise RuntimeError(f"/proc/self/status has no {line_name}")


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")


def _measured(name: str, step: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(step)
    def run(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        result = step(*args, **kwargs)
        seconds = time.perf_counter() - started
        peak, after = _mib("VmHWM"), _mib("VmRSS")
        print(
            f"{name:<24} {seconds:7.1f} s   peak {peak:5d} MiB   after {after:5d} MiB", flush=True
        )
        _reset_peak()
        return result

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", type=Path, help="a size's folder of a kept bench/scale.py run")
    parser.add_argument("--tenant", default="lillevik")
    args = parser.parse_args()
    os.environ["HUB_VAR_DIR"] = str(args.folder)
    os.environ["HUB_ENV_FILE"] = str(args.folder / "sandbox" / "secrets.env")

    import sqlalchemy as sa

    import hub.followup.compile as compile_module
    from hub.followup.jobs import compile_tenant
    from hub.leases import leases
    from hub.logging import configure
    from hub.settings import load_env_file, load_settings

    configure(fmt="console", level="warning")
    load_env_file()
    settings = load_settings()
    engine = sa.create_engine(settings.store_url)
    with engine.begin() as conn:
        conn.execute(leases.delete())
    engine.dispose()
    for name in STEPS:
        setattr(compile_module, name, _measured(name, getattr(compile_module, name)))
    print(f"{'after imports':<24} {'':>9}   peak {_mib('VmHWM'):5d} MiB", flush=True)
    _reset_peak()
    started = time.perf_counter()
    outcome = compile_tenant(settings, args.tenant, publish=False)
    rows = sum(outcome.snapshot.counts.values())
    print(f"compiled {rows} rows in {time.perf_counter() - started:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
