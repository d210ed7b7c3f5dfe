"""The main job at scale: `hub run`'s phases over one generated tenant, beside a bare producer.

For each size in `--people` (default 100,000; `--people 20000,100000` runs both), in one
run on one private Kafka broker:

1. builds a sandbox tenant of that many directory people (a Feide directory in a private
   slapd, its preschool children, a OneRoster LMS and three MDMs' device fleets served by
   the sandbox web server), in this process: setting up the sources is not measured;
2. runs `hub run`'s phases in a fresh child process (so its peak RSS is that size's own):
   each source's sync, materialise, compile (with the publish of the follow-up records),
   and the extract (CSV + XLSX, verified and audited), timing each (wall and CPU
   seconds: on a busy machine the CPU seconds are the per-core cost) and reading the
   process's peak RSS (`VmHWM`) after each;
3. sends as many messages as the syncs published, of the same average value and header
   size (weighted over the entity topics), with a bare kafka-python producer to the same
   broker (`bench/_harness.py`);

and prints a row per phase, then the targets of issue 15 as ratios: total ÷ bare
producer ≤ 1.5; materialise + compile + extract ≤ 25 % of the total; peak RSS < 400 MB
and, when two sizes ran, the larger's < 1.5× the smaller's.

    .venv/bin/python bench/scale.py --people 20000,100000

`--workers 1,2` measures instead the scale-out: the sync DAGs on the CeleryExecutor with
one, then two Celery workers over the same generated tenants (`bench/_workers.py`).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml
from _harness import ROOT, bare_producer, kafka_broker, sample_sizes
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.admin import NewTopic

TENANT = "lillevik"
MB = 1024 * 1024
#: Targets of issue 15 (target 3).
TOTAL_OVER_BARE = 1.5
FOLLOWUP_SHARE = 0.25
PEAK_RSS_MB = 400
RSS_GROWTH = 1.5


def _peak_mb() -> float:
    """The peak resident set of this program so far: `VmHWM` (KiB) of /proc/self/status.

    Not `ru_maxrss`: Linux keeps it across execve, so a child started by a parent that
    had generated a large tenant would report the parent's size as its own.
    """
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("/proc/self/status has no VmHWM line")


def _cpu_seconds() -> float:
    """User and system CPU time of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _rss_mb() -> float:
    """The resident set of this process now."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / MB


@dataclass
class Phase:
    """One timed phase of the child's run and the process's memory after it."""

    name: str
    seconds: float
    peak_mb: float
    rss_mb: float
    detail: str = ""
    #: CPU seconds (user + system) of the child in the phase: the per-core cost, which a
    #: busy machine does not inflate as it does the wall time.
    cpu_seconds: float = 0.0


@dataclass
class SizeRun:
    """What the child measured for one size."""

    people: int
    events: int = 0
    phases: list[Phase] = field(default_factory=list)
    baseline_mb: float = 0.0
    store_mb: float = 0.0

    def seconds(self, *names: str) -> float:
        """The summed time of the phases named (sync phases by their `sync ` prefix)."""
        return sum(
            p.seconds
            for p in self.phases
            if p.name in names or ("sync" in names and p.name.startswith("sync "))
        )

    @property
    def total(self) -> float:
        """Wall time of every phase."""
        return sum(p.seconds for p in self.phases)

    @property
    def cpu_seconds(self) -> float:
        """CPU time of every phase."""
        return sum(p.cpu_seconds for p in self.phases)

    @property
    def peak_mb(self) -> float:
        """The child's peak RSS over the whole run."""
        return max((p.peak_mb for p in self.phases), default=self.baseline_mb)


# -- the child: `hub run`'s phases in a fresh process -------------------------------------


def run_phases(people: int) -> SizeRun:
    """Sync every source, materialise, compile and extract the tenant, timing each phase.

    The same calls `hub run` makes (`hub.cli.cmd_run`, `hub.followup.jobs.run_followup`),
    one phase at a time; hub.yaml, the store and the secrets come from `HUB_VAR_DIR`.
    """
    from hub.followup.audit import audit_extract
    from hub.followup.jobs import compile_tenant, extract_tenant, materialise
    from hub.logging import configure
    from hub.settings import load_env_file, load_settings, var_dir
    from hub.sync import sync_targets

    configure(fmt="console", level="warning")
    load_env_file()
    settings = load_settings()
    run = SizeRun(people, baseline_mb=_peak_mb())
    tenant = settings.tenant(TENANT)

    cpu = [_cpu_seconds()]

    def phase(name: str, started: float, detail: str = "") -> None:
        used = _cpu_seconds()
        seconds = time.perf_counter() - started
        done = Phase(name, seconds, _peak_mb(), _rss_mb(), detail, used - cpu[0])
        cpu[0] = used
        run.phases.append(done)
        print(f"  {people:,}: {name} {done.seconds:.1f} s", file=sys.stderr, flush=True)

    for source in tenant.sources:
        started = time.perf_counter()
        (report,) = sync_targets(settings, [(TENANT, source.id)])
        if report.status != "success":
            raise SystemExit(f"the {source.id} sync failed: {report.error}")
        run.events += report.published
        phase(f"sync {source.id}", started, f"{report.published:,} events")
    started = time.perf_counter()
    progress = materialise(settings)
    phase("materialise", started, f"{progress.records:,} events")
    started = time.perf_counter()
    outcome = compile_tenant(settings, TENANT)
    rows = sum(outcome.snapshot.counts.values())
    phase("compile", started, f"{rows:,} rows, published")
    started = time.perf_counter()
    extract, verification = extract_tenant(
        settings, TENANT, outcome.snapshot.as_of, formats=("csv", "xlsx")
    )
    audit = audit_extract(extract.path)
    if not verification.ok or not audit.ok:
        raise SystemExit(f"the extract failed: {verification.problems} {audit.lines()}")
    phase("extract", started, "csv+xlsx, verified, audited")
    run.store_mb = sum(f.stat().st_size for f in var_dir().glob("hub.db*")) / MB
    return run


# -- the parent: sources, children, the bare producer --------------------------------------


@contextmanager
def var_folder(folder: Path) -> Any:
    """`HUB_VAR_DIR` set to `folder` while the sandbox is built (the web server inherits it)."""
    before = os.environ.get("HUB_VAR_DIR")
    os.environ["HUB_VAR_DIR"] = str(folder)
    try:
        yield folder
    finally:
        if before is None:
            os.environ.pop("HUB_VAR_DIR", None)
        else:
            os.environ["HUB_VAR_DIR"] = before


def build_sandbox(folder: Path, people: int, bootstrap: str, prefix: str) -> None:
    """Generate the tenant's sources under `folder` and point its hub.yaml at the broker."""
    from hub.dev.local_services import sandbox_up

    with var_folder(folder):
        sandbox_up(scale=people, tenants=TENANT, web_port=0)
    config_file = folder / "hub.yaml"
    config = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    config["kafka"].update(bootstrap=bootstrap, topic_prefix=prefix)
    for tenant in config["tenants"]:
        tenant["deletion_guard"] = {"max_deletes": 10**9, "max_share": 1.0}
    config_file.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))


def stop_sandbox(folder: Path) -> None:
    """Stop the size's slapd and web server."""
    from hub.dev.local_services import sandbox_down

    with var_folder(folder):
        sandbox_down()


def run_child(folder: Path, people: int) -> SizeRun:
    """Run the phases in a fresh interpreter; its last stdout line is the JSON result."""
    env = {
        **os.environ,
        "HUB_VAR_DIR": str(folder),
        "HUB_ENV_FILE": str(folder / "sandbox" / "secrets.env"),
    }
    env.pop("HUB_CONFIG", None)
    env.pop("HUB_DATABASE_URL", None)
    env.pop("HUB_KAFKA_BOOTSTRAP", None)
    command = [sys.executable, __file__, "--child", "--people", str(people)]
    result = subprocess.run(  # noqa: S603 - this script, fixed arguments
        command, env=env, stdout=subprocess.PIPE, text=True, check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"the {people:,}-person run failed (exit {result.returncode})")
    data = json.loads(result.stdout.strip().splitlines()[-1])
    phases = [Phase(**p) for p in data.pop("phases")]
    return SizeRun(**data, phases=phases)


def weighted_sizes(bootstrap: str, prefix: str) -> tuple[int, int]:
    """Mean value and header size of the entity topics' records, weighted by their counts."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        counts = {}
        for topic in sorted(consumer.topics()):
            if topic.startswith(f"{prefix}.") and ".followup." not in topic:
                partitions = consumer.partitions_for_topic(topic) or ()
                ends = consumer.end_offsets([TopicPartition(topic, p) for p in partitions])
                counts[topic] = sum(ends.values())
    finally:
        consumer.close()
    value_bytes = header_bytes = 0
    for topic, count in counts.items():
        if count:
            value_size, header_size = sample_sizes(bootstrap, topic, count=min(count, 500))
            value_bytes += count * value_size
            header_bytes += count * header_size
    records = sum(counts.values())
    return value_bytes // records, header_bytes // records


def bare_seconds(bootstrap: str, prefix: str, messages: int) -> tuple[float, int, int]:
    """Seconds a bare producer needs for `messages` messages of the hub's average size."""
    value_size, header_size = weighted_sizes(bootstrap, prefix)
    topic = f"{prefix}.bare"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(topic, 3, 1)])
    finally:
        admin.close()
    seconds = bare_producer(bootstrap, topic, messages, value_size, header_size, key_prefix=prefix)
    return seconds, value_size, header_size


def report(run: SizeRun, bare: float, value_size: int, header_size: int) -> list[str]:
    """The size's table: phases, totals, and the bare producer beside them."""
    lines = [
        f"== {run.people:,} people: {run.events:,} change events "
        f"(average value {value_size} B + {header_size} B headers)",
        f"{'phase':<20} {'seconds':>8} {'CPU s':>8} {'peak RSS MB':>12} {'RSS MB':>8}  detail",
    ]
    for p in run.phases:
        lines.append(
            f"{p.name:<20} {p.seconds:>8.1f} {p.cpu_seconds:>8.1f} {p.peak_mb:>12.0f} "
            f"{p.rss_mb:>8.0f}  {p.detail}"
        )
    followup = run.seconds("materialise", "compile", "extract")
    lines += [
        f"{'sync, all sources':<20} {run.seconds('sync'):>8.1f}",
        f"{'total':<20} {run.total:>8.1f} {run.cpu_seconds:>8.1f} {run.peak_mb:>12.0f}",
        f"{'bare producer':<20} {bare:>8.1f}                        "
        f"  {run.events:,} messages, {run.events / bare:,.0f}/s",
        f"store (SQLite): {run.store_mb:,.0f} MB; child RSS after imports "
        f"{run.baseline_mb:.0f} MB; machine load (15 min) {os.getloadavg()[2]:.1f} "
        f"on {os.cpu_count()} cores",
        f"total / bare producer:                  {run.total / bare:6.2f}  "
        f"(target <= {TOTAL_OVER_BARE})  {_verdict(run.total / bare <= TOTAL_OVER_BARE)}",
        f"materialise+compile+extract / total:    {followup / run.total:6.2f}  "
        f"(target <= {FOLLOWUP_SHARE})  {_verdict(followup / run.total <= FOLLOWUP_SHARE)}",
        f"peak RSS MB:                            {run.peak_mb:6.0f}  "
        f"(target < {PEAK_RSS_MB})  {_verdict(run.peak_mb < PEAK_RSS_MB)}",
    ]
    return lines


def _verdict(met: bool) -> str:
    return "met" if met else "NOT met"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (or, with `--child`, one size's phases) and print its figures."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--people", default="100000", help="directory people, comma-separated sizes"
    )
    parser.add_argument("--bootstrap", help="an existing broker (default: start a local one)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--workers",
        help="instead: the sync DAGs' throughput on this many Celery workers, comma-separated "
        "(`1,2`), over generated tenants (bench/_workers.py; its own options follow)",
    )
    args, rest = parser.parse_known_args(argv)
    if args.workers:
        from _workers import main as workers_main

        return workers_main(["--workers", args.workers, *rest])
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    sizes = [int(s.replace("_", "")) for s in args.people.split(",") if s.strip()]
    if args.child:
        print(json.dumps(asdict(run_phases(sizes[0]))))
        return 0
    work = Path(tempfile.mkdtemp(prefix="skolehub-bench-scale-"))
    runs: list[SizeRun] = []
    try:
        with kafka_broker(work, args.bootstrap) as bootstrap:
            for people in sizes:
                folder = work / f"p{people}"
                prefix = f"scale{people}"
                started = time.perf_counter()
                build_sandbox(folder, people, bootstrap, prefix)
                print(
                    f"sources of {people:,} people up in {time.perf_counter() - started:.0f} s",
                    flush=True,
                )
                try:
                    run = run_child(folder, people)
                finally:
                    stop_sandbox(folder)
                bare, value_size, header_size = bare_seconds(bootstrap, prefix, run.events)
                for line in report(run, bare, value_size, header_size):
                    print(line, flush=True)
                print(flush=True)
                runs.append(run)
        if len(runs) > 1:
            small, large = min(runs, key=lambda r: r.people), max(runs, key=lambda r: r.people)
            growth = large.peak_mb / small.peak_mb
            print(
                f"peak RSS {large.people:,} / {small.people:,} people: {growth:.2f}  "
                f"(target < {RSS_GROWTH})  {_verdict(growth < RSS_GROWTH)}"
            )
            per = [r.total / r.people * 1000 for r in (small, large)]
            print(f"seconds per 1,000 people: {per[0]:.2f} and {per[1]:.2f}")
    finally:
        if args.keep:
            print(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
