"""The `hub` command: run the main job, sync, compile and extract, check, local services.

Every command ends with a one-screen summary; `--json` prints one machine-readable JSON
document as the last thing on standard output. Exit codes: 0 success, 1 a failure,
2 bad usage or configuration, 3 a run held by the deletion guard (and nothing failed),
4 skipped: another process holds the lease of this work (a sync of the same source, the
materialiser, or that tenant's compile runs elsewhere) and nothing failed or was held;
nothing was done, the message names the holder and since when.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import structlog

from hub import __version__
from hub.kafka_security import KafkaAccessError
from hub.leases import LeaseHeld
from hub.logging import configure
from hub.settings import SettingsError, load_env_file, load_settings, var_dir
from hub.sync import sync_targets

log = structlog.get_logger(__name__)

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_HELD, EXIT_SKIPPED = 0, 1, 2, 3, 4


class _Progress:
    """Progress on standard error: one rewritten line on a terminal, a line a while otherwise."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.tty = sys.stderr.isatty()
        self.last = 0.0

    def __call__(self, what: str, count: int) -> None:
        now = time.monotonic()
        if now - self.last < (0.2 if self.tty else 10.0):
            return
        self.last = now
        text = f"  {self.label}: {what} {count:,}"
        if self.tty:
            print(f"\r{text:<70}", end="", file=sys.stderr, flush=True)
        else:
            print(text, file=sys.stderr, flush=True)

    def done(self) -> None:
        if self.tty:
            print("\r" + " " * 72 + "\r", end="", file=sys.stderr, flush=True)


def _print_reports(reports: list[Any]) -> None:
    width = max([12, *(len(r.source) for r in reports)])  # the longest source id sets it
    header = (
        f"{'tenant':<14} {'source':<{width}} {'status':<8} {'created':>8} {'updated':>8} "
        f"{'deleted':>8} {'unchanged':>9} {'dlq':>5} {'secs':>6}"
    )
    print(header)
    print("-" * len(header))
    for r in reports:
        deleted = r.deleted if r.status == "success" else r.planned_deletes
        print(
            f"{r.tenant:<14} {r.source:<{width}} {r.status:<8} {r.created:>8,} {r.updated:>8,} "
            f"{deleted:>8,} {r.unchanged:>9,} {r.dead_lettered:>5,} {r.duration_seconds:>6.1f}"
        )
    for r in reports:
        if r.error:
            print(f"\n{r.tenant}/{r.source} {r.status}: {r.error}")
        notes = [
            f"committed {r.recovered:,} events a dead run had got onto Kafka" * bool(r.recovered),
            f"kept {r.deletes_withheld:,} unseen entities until their deletion is confirmed"
            * bool(r.deletes_withheld),
            f"{r.dead_letters_repeated:,} dead letters unchanged since an earlier run, not resent"
            * bool(r.dead_letters_repeated),
            *r.notes,
        ]
        for note in filter(None, notes):
            print(f"{r.tenant}/{r.source}: {note}")
    published = sum(r.published for r in reports)
    print()
    if published:
        print(f"Published {published:,} change events (plus a tombstone per delete).")
    else:
        print("No changes: nothing was published.")


def _exit_code(reports: list[Any]) -> int:
    if any(r.status == "failed" for r in reports):
        return EXIT_FAILED
    if any(r.status == "held" for r in reports):
        return EXIT_HELD
    if any(r.status == "skipped" for r in reports):
        return EXIT_SKIPPED
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    """Sync every source of every tenant, then compile, publish and extract the follow-up."""
    from hub.followup.jobs import run_followup
    from hub.followup.presentation import headline_table

    settings = load_settings()
    targets = [(t.id, s.id) for t in settings.tenants for s in t.sources]
    reports = sync_targets(settings, targets, progress=_Progress)
    _print_reports(reports)
    followup = run_followup(settings)
    failed = [r for r in reports if r.status != "success"]
    if failed:
        print("\nThe follow-up was compiled from the sources that succeeded; not synced now:")
        for r in failed:
            print(f"  {r.tenant}/{r.source} ({r.status}): its last successful sync counts")
    print("\nFollow-up (headline figures per tenant):")
    for line in headline_table(followup):
        print(line)
    print()
    for result in followup:
        if result.extract is not None:
            verdict = "manifest verifies" if result.verified else "MANIFEST DOES NOT VERIFY"
            audit = (
                "audit: no hidden cell can be worked out"
                if result.audited
                else "AUDIT WORKS OUT HIDDEN CELLS"
            )
            print(f"{result.tenant}: extract {result.extract} ({verdict}; {audit})")
        for problem in result.problems:
            print(f"  {problem}")
    if args.json:
        print(
            json.dumps(
                {
                    "version": __version__,
                    "syncs": [r.to_dict() for r in reports],
                    "followup": [r.to_dict() for r in followup],
                }
            )
        )
    code = _exit_code(reports)
    return EXIT_FAILED if any(r.status == "failed" for r in followup) else code


def cmd_sync(args: argparse.Namespace) -> int:
    """Sync one source of one tenant."""
    settings = load_settings()
    settings.tenant(args.tenant).source(args.source)
    reports = sync_targets(
        settings,
        [(args.tenant, args.source)],
        full=True if args.full else None,
        approve_deletes=args.approve_deletes,
        progress=_Progress,
    )
    _finish(args, reports)
    return _exit_code(reports)


def _finish(args: argparse.Namespace, reports: list[Any]) -> None:
    _print_reports(reports)
    if args.json:
        print(json.dumps({"version": __version__, "syncs": [r.to_dict() for r in reports]}))


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {value!r}") from None


def _skipped(args: argparse.Namespace, exc: LeaseHeld, **context: str) -> int:
    """Say that another process holds the work's lease; nothing was done (exit code 4)."""
    print(f"hub: skipped: {exc}", file=sys.stderr)
    if getattr(args, "json", False):
        info = exc.info
        print(
            json.dumps(
                {
                    "version": __version__,
                    **context,
                    "status": "skipped",
                    "lease": info.name,
                    "holder": info.holder,
                    "since": info.acquired_at.isoformat(),
                    "expires_at": info.expires_at.isoformat(),
                }
            )
        )
    return EXIT_SKIPPED


def cmd_compile(args: argparse.Namespace) -> int:
    """Consume the topics into the reporting store, compile one tenant's records, publish them."""
    from kafka.errors import KafkaError

    from hub.followup.compile import HistoryError
    from hub.followup.jobs import compile_tenant, materialise
    from hub.followup.presentation import format_measure
    from hub.kafka_io import PublishError

    settings = load_settings()
    settings.tenant(args.tenant)
    try:
        if not args.store_only:
            progress = materialise(settings)
            print(f"Consumed {progress.records:,} events into the reporting store.")
        outcome = compile_tenant(settings, args.tenant, args.as_of, publish=not args.store_only)
    except LeaseHeld as exc:
        return _skipped(args, exc, tenant=args.tenant)
    except HistoryError as exc:
        print(f"hub: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (KafkaError, PublishError, TimeoutError) as exc:
        print(f"hub: Kafka at {settings.bootstrap}: {type(exc).__name__}: {exc}", file=sys.stderr)
        print("(`--store-only` compiles the reporting store without Kafka)", file=sys.stderr)
        return EXIT_FAILED
    snapshot = outcome.snapshot
    baseline = snapshot.baseline_as_of
    print(f"Compiled {snapshot.tenant} as of {snapshot.as_of} (baseline {baseline}):")
    for record, count in snapshot.counts.items():
        print(f"  {record:<22} {count:>8,} rows")
    print("Headline figures:")
    for measure, value in snapshot.measures.items():
        print(f"  {measure:<48} {format_measure(value, measure):>10}")
    if outcome.published is not None:
        p = outcome.published
        print(
            f"Published: {p.created:,} created, {p.updated:,} updated, {p.deleted:,} deleted"
            + (f" (skipped: {p.skipped})" if p.skipped else "")
        )
    if args.json:
        print(json.dumps({"version": __version__, **outcome.to_dict()}))
    return EXIT_OK


def cmd_rebuild(args: argparse.Namespace) -> int:
    """Rebuild the reporting store and its history from the entity topics."""
    from kafka.errors import KafkaError

    from hub.followup.jobs import rebuild

    settings = load_settings()
    try:
        rebuilt = rebuild(settings)
    except LeaseHeld as exc:
        return _skipped(args, exc)
    except (KafkaError, TimeoutError) as exc:
        print(f"hub: Kafka at {settings.bootstrap}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"Rebuilt the reporting store from {rebuilt.progress.records:,} events.")
    for tenant in settings.tenants:
        days = rebuilt.days.get(tenant.id)
        covered = f"{days[0]} to today" if days else "nothing (no events)"
        print(f"  {tenant.id:<16} can be compiled for {covered}")
    print("Earlier days are not in the topics (compaction keeps each entity's latest event).")
    return EXIT_OK


def cmd_extract(args: argparse.Namespace) -> int:
    """Write one tenant's extract for a day, or verify or audit an extract folder."""
    from hub.followup.audit import audit_extract
    from hub.followup.compile import HistoryError
    from hub.followup.extract import ExtractError, verify_extract
    from hub.followup.jobs import extract_tenant

    if args.audit is not None:
        return _audit_folder(args.audit, args.json)
    if args.verify is not None:
        verification = verify_extract(args.verify)
        for problem in verification.problems:
            print(f"  {problem}")
        verdict = "verifies" if verification.ok else "does NOT verify"
        print(f"{args.verify}: {verification.files} files, manifest {verdict}")
        return EXIT_OK if verification.ok else EXIT_FAILED
    if args.tenant is None:
        print("hub extract: give a TENANT, or --verify DIR, or --audit DIR", file=sys.stderr)
        return EXIT_USAGE
    settings = load_settings()
    formats = [f.strip() for f in args.format.split(",") if f.strip()]
    try:
        extract, verification = extract_tenant(
            settings,
            args.tenant,
            args.as_of,
            formats=formats,
            identified=args.identified,
            out=args.out,
        )
    except (ExtractError, HistoryError) as exc:
        print(f"hub: {exc}", file=sys.stderr)
        return EXIT_USAGE
    manifest = extract.manifest
    print(f"Extract of {manifest['tenant']} as of {manifest['as_of']}: {extract.path}")
    for entry in manifest["files"]:
        print(f"  {entry['name']:<30} {entry['rows']:>8,} rows  sha256 {entry['sha256'][:16]}…")
    people = "identified" if manifest["identified"] else "pseudonymised"
    verdict = "manifest verifies" if verification.ok else "manifest does NOT verify"
    print(f"People {people}; {verdict}.")
    audited = True
    if not manifest["identified"]:  # an identified extract holds every person row: not public
        audit = audit_extract(extract.path)
        audited = audit.ok
        for line in audit.lines():
            print(f"  {line}")
        print(
            "Audit: no hidden cell can be worked out."
            if audit.ok
            else f"Audit: {len(audit.findings)} hidden cells can be worked out; a snapshot "
            f"compiled by an earlier version needs `hub compile {manifest['tenant']} --as-of "
            f"{manifest['as_of']}` again."
        )
    if args.json:
        print(
            json.dumps(
                {
                    "path": str(extract.path),
                    "verified": verification.ok,
                    "audited": audited,
                    **manifest,
                }
            )
        )
    return EXIT_OK if verification.ok and audited else EXIT_FAILED


def _audit_folder(folder: Path, as_json: bool) -> int:
    """`hub extract --audit DIR`: exit 1 when a hidden cell can be worked out from the folder."""
    from hub.followup.audit import AuditError, audit_extract

    try:
        audit = audit_extract(folder)
    except AuditError as exc:
        print(f"hub: {exc}", file=sys.stderr)
        return EXIT_USAGE
    for line in audit.lines():
        print(f"  {line}")
    hidden = len(audit.bounds)
    if audit.ok:
        print(
            f"{folder}: {audit.relations_read:,} relations read, {len(audit.constraints):,} of "
            f"them over {hidden:,} hidden figures; no hidden cell can be worked out "
            f"(minimum cell size {audit.min_cell_size})"
        )
    else:
        print(
            f"{folder}: {len(audit.findings)} cells given away "
            f"(minimum cell size {audit.min_cell_size})"
        )
    if as_json:
        print(
            json.dumps(
                {
                    "path": str(folder),
                    "ok": audit.ok,
                    "min_cell_size": audit.min_cell_size,
                    "findings": [f.to_dict() for f in audit.findings],
                }
            )
        )
    return EXIT_OK if audit.ok else EXIT_FAILED


def cmd_check(args: argparse.Namespace) -> int:
    """Check the configuration and that every source, the broker and the store answer."""
    from hub.kafka_security import probe
    from hub.sources import check_source
    from hub.store import StateStore

    settings = load_settings()
    results: list[tuple[str, str, str]] = [("config", "ok", f"{len(settings.tenants)} tenants")]
    try:
        found = probe(settings.bootstrap, settings.kafka)
        results.append(("kafka", "ok", f"{settings.bootstrap} {found.describe()}"))
    except KafkaAccessError as exc:
        results.append(("kafka", "FAILED", str(exc)))
    except Exception as exc:
        results.append(("kafka", "FAILED", f"{settings.bootstrap}: {type(exc).__name__}"))
    try:
        store = StateStore(settings.store_url)
        store.count("-", "-")
        store.close()
        results.append(("store", "ok", settings.store_url.split("@")[-1]))
    except Exception as exc:
        results.append(("store", "FAILED", f"{type(exc).__name__}: {exc}"))
    for tenant in settings.tenants:
        for source_settings in tenant.sources:
            name = f"{tenant.id}/{source_settings.id}"
            try:
                notes = check_source(tenant, source_settings)
                detail = "; ".join([source_settings.type, *notes])
                results.append((name, "ok", detail))
            except Exception as exc:
                results.append((name, "FAILED", str(exc)))
    for what, status, detail in results:
        print(f"{what:<28} {status:<7} {detail}")
    failed = [r for r in results if r[1] != "ok"]
    print(f"\n{len(results) - len(failed)} ok, {len(failed)} failed")
    if args.json:
        print(
            json.dumps(
                {
                    "checks": [
                        dict(zip(("what", "status", "detail"), r, strict=True)) for r in results
                    ]
                }
            )
        )
    return EXIT_FAILED if failed else EXIT_OK


def _receiver_url(args: argparse.Namespace, default: str | None = None) -> str:
    """The receiver's URL as the sources reach it: `--url`, `HUB_PUSH_URL`, or `default`."""
    import os

    from hub.push import PUSH_URL_ENV

    url = args.url or os.environ.get(PUSH_URL_ENV) or default
    if not url:
        raise SettingsError(
            f"give the receiver's URL as the sources reach it (--url or {PUSH_URL_ENV})"
        )
    return str(url)


def _print_subscriptions(statuses: list[Any]) -> None:
    for s in statuses:
        detail = s.error or f"{s.subscription_id} expires {s.expires}"
        print(f"{s.tenant + '/' + s.source:<28} {s.action:<8} {detail}")


def cmd_subscribe(args: argparse.Namespace) -> int:
    """Create or renew every push source's subscription once (cron, or a check)."""
    from hub.push import ensure_subscriptions, push_secret

    settings = load_settings()
    statuses = ensure_subscriptions(settings, _receiver_url(args), push_secret())
    _print_subscriptions(statuses)
    failed = [s for s in statuses if s.action == "failed"]
    print(f"\n{len(statuses) - len(failed)} current, {len(failed)} failed")
    if args.json:
        print(json.dumps({"subscriptions": [s.to_dict() for s in statuses]}))
    return EXIT_FAILED if failed else EXIT_OK


def cmd_listen(args: argparse.Namespace) -> int:
    """Receive SS 12000 notifications and sync (or schedule in Airflow) what changed."""
    import os
    import threading

    from hub.push import ensure_subscriptions, push_secret, push_sources
    from hub.push_receiver import (
        AirflowAssetEvents,
        ChangeHandler,
        Dispatcher,
        Listener,
        LocalSync,
        Receiver,
        renew_forever,
    )

    settings = load_settings()
    secret = push_secret()
    sources = list(push_sources(settings))
    if not sources:
        raise SettingsError("no source has `subscribe: true`; nothing would push to the receiver")
    handler: ChangeHandler
    if args.airflow:
        handler = AirflowAssetEvents(
            args.airflow,
            os.environ.get("HUB_AIRFLOW_USERNAME", ""),
            os.environ.get("HUB_AIRFLOW_PASSWORD", ""),
        )
    else:
        handler = LocalSync(settings)
    listener = Listener(
        Receiver.for_settings(settings, secret, Dispatcher(handler)), args.host, args.port
    ).start()
    public = _receiver_url(args, default=listener.url)
    mode = f"asset events in Airflow at {args.airflow}" if args.airflow else "syncs here"
    print(f"listening on {listener.url} ({mode}); sources post to {public}/ss12000/...")
    stopped = threading.Event()
    try:
        _print_subscriptions(ensure_subscriptions(settings, public, secret))
        every = args.renew_every or min(
            s.subscription_renew_before.total_seconds() / 2 for _, s in sources
        )
        renew_forever(lambda: ensure_subscriptions(settings, public, secret), every, stopped)
        while not stopped.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        stopped.set()
        listener.stop()
        if isinstance(handler, LocalSync):
            handler.close()
    handled = listener.receiver.dispatcher.handled
    ok = sum(1 for *_, status in handled if status == "success")
    print(f"\nstopped: {len(handled)} changes handled, {ok} succeeded")
    return EXIT_OK


def _workbench(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """A command of the development package (`hub.dev`), imported only when it runs.

    Without `hub.dev` (the production image) the command exits 2 saying so. A local broker
    or slapd that cannot start ends it with its message and exit 1; the product's commands
    never load `hub.dev`, so they never see these errors.
    """

    @functools.wraps(command)
    def run(args: argparse.Namespace) -> int:
        try:
            from hub.dev.kafka_local import KafkaLocalError
            from hub.dev.sandbox.slapd import SlapdError
        except ModuleNotFoundError as exc:
            if not (exc.name or "").startswith("hub.dev"):
                raise
            print(
                f"hub: `hub {args.command}` is a development command and hub.dev, the "
                "development package, is not installed here (the production image leaves it out)",
                file=sys.stderr,
            )
            return EXIT_USAGE
        try:
            return command(args)
        except (KafkaLocalError, SlapdError) as exc:
            print(f"hub: {exc}", file=sys.stderr)
            return EXIT_FAILED

    return run


@_workbench
def cmd_kafka(args: argparse.Namespace) -> int:
    """Start, stop or describe the local Kafka broker."""
    from hub.dev.local_services import (
        KAFKA_PASSWORD_ENV,
        local_kafka,
        secure_kafka_up,
        secure_local_kafka,
    )

    if args.secure and args.action == "up":
        bootstrap, section = secure_kafka_up(port=args.port)
        secrets_env = secure_local_kafka(args.port).home / "secrets.env"
        print(f"Secured Kafka is up: bootstrap {bootstrap} (SASL_SSL, SCRAM-SHA-512, ACLs)")
        print(f"The hub user's password is {KAFKA_PASSWORD_ENV} in {secrets_env};")
        print("load it (HUB_ENV_FILE or export) and use this kafka section in hub.yaml:\n")
        print(section)
        return EXIT_OK
    kafka = secure_local_kafka(port=args.port) if args.secure else local_kafka(port=args.port)
    if args.action == "up":
        print(f"Kafka is up: bootstrap {kafka.up()}")
    elif args.action == "down":
        kafka.down()
        print("Kafka is down")
    else:
        status = kafka.status()
        if not status or not status.get("running"):
            print("Kafka is not running")
            return EXIT_FAILED
        print(f"Kafka is running: bootstrap {status['bootstrap']} (pid {status['pid']})")
    return EXIT_OK


@_workbench
def cmd_sandbox(args: argparse.Namespace) -> int:
    """Start or stop the simulated school owner, and write its hub.yaml."""
    from hub.dev.local_services import sandbox_down, sandbox_status, sandbox_up

    if args.action == "up":
        summary = sandbox_up(
            scale=args.scale,
            tenants=args.tenants,
            faults=args.faults,
            web_port=args.web_port,
            variants=args.variants,
            lms=args.lms,
        )
        for line in summary:
            print(line)
    elif args.action == "down":
        sandbox_down()
        print("Sandbox is down")
    else:
        lines = sandbox_status()
        for line in lines:
            print(line)
    return EXIT_OK


@_workbench
def cmd_airflow(args: argparse.Namespace) -> int:
    """Start (in the foreground, or `--detach`ed), stop or describe the local Airflow."""
    from hub.dev.airflow_local import DETACHED_HINT, AirflowLocalError, local_airflow

    try:
        airflow = local_airflow(home=args.home, port=args.port, workers=args.workers)
        if args.action == "up" and not args.detach:
            return (
                EXIT_OK if airflow.serve(say=lambda line: print(line, flush=True)) else EXIT_FAILED
            )
        if args.action == "up":
            print("\n".join([*airflow.summary(airflow.up()), DETACHED_HINT]))
        elif args.action == "down":
            stopped = airflow.down()
            print("Airflow is down" + (f" (stopped {', '.join(stopped)})" if stopped else ""))
        else:
            print("\n".join(airflow.status_lines()))
            status = airflow.status()
            return EXIT_OK if status is not None and status.running else EXIT_FAILED
    except AirflowLocalError as exc:
        print(f"hub: {exc}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the `hub` command."""
    parser = argparse.ArgumentParser(prog="hub", description="Skolehub integration hub.")
    parser.add_argument("--version", action="version", version=f"skolehub {__version__}")
    parser.add_argument("--log-level", default="warning", help="log level (default: warning)")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="sync every source of every tenant, compile and extract")
    run.add_argument("--json", action="store_true", help="end with a JSON summary on stdout")
    run.set_defaults(func=cmd_run)

    sync = sub.add_parser("sync", help="sync one source of one tenant")
    sync.add_argument("tenant")
    sync.add_argument("source")
    sync.add_argument("--full", action="store_true", help="read everything and reconcile")
    sync.add_argument(
        "--approve-deletes", action="store_true", help="release a run held by the deletion guard"
    )
    sync.add_argument("--json", action="store_true", help="end with a JSON summary on stdout")
    sync.set_defaults(func=cmd_sync)

    compile_ = sub.add_parser("compile", help="compile one tenant's follow-up records")
    compile_.add_argument("tenant")
    compile_.add_argument("--as-of", type=_day, default=None, help="YYYY-MM-DD (default: today)")
    compile_.add_argument(
        "--store-only",
        action="store_true",
        help="compile from the reporting store as it is: do not consume or publish",
    )
    compile_.add_argument("--json", action="store_true", help="end with a JSON summary on stdout")
    compile_.set_defaults(func=cmd_compile)

    rebuild = sub.add_parser(
        "rebuild", help="rebuild the reporting store and its history from the entity topics"
    )
    rebuild.set_defaults(func=cmd_rebuild)

    extract = sub.add_parser("extract", help="write (or verify) a follow-up extract")
    extract.add_argument("tenant", nargs="?")
    extract.add_argument(
        "--as-of", type=_day, default=None, help="YYYY-MM-DD (default: the latest snapshot)"
    )
    extract.add_argument("--format", default="csv", help="csv, xlsx or csv,xlsx (default: csv)")
    extract.add_argument(
        "--identified", action="store_true", help="name people (the tenant's policy must allow it)"
    )
    extract.add_argument("--out", type=Path, default=None, help="folder to write")
    extract.add_argument(
        "--verify", type=Path, default=None, metavar="DIR", help="verify an extract folder"
    )
    extract.add_argument(
        "--audit",
        type=Path,
        default=None,
        metavar="DIR",
        help="try to work out the hidden cells of an extract folder (exit 1 if any)",
    )
    extract.add_argument("--json", action="store_true", help="end with a JSON summary on stdout")
    extract.set_defaults(func=cmd_extract)

    check = sub.add_parser("check", help="check config, sources, broker and store")
    check.add_argument("--json", action="store_true")
    check.set_defaults(func=cmd_check)

    listen = sub.add_parser(
        "listen", help="receive SS 12000 change notifications and sync what changed"
    )
    listen.add_argument("--host", default="127.0.0.1", help="address to listen on")
    listen.add_argument("--port", type=int, default=18090, help="port (default 18090)")
    listen.add_argument(
        "--url", default=None, help="the receiver's URL as the sources reach it ($HUB_PUSH_URL)"
    )
    listen.add_argument(
        "--airflow",
        default=None,
        metavar="URL",
        help="create asset events in this Airflow (hub_identity_push syncs) instead of syncing",
    )
    listen.add_argument(
        "--renew-every", type=float, default=None, help="seconds between subscription renewals"
    )
    listen.set_defaults(func=cmd_listen)

    subscribe = sub.add_parser("subscribe", help="create or renew the SS 12000 subscriptions")
    subscribe.add_argument(
        "--url", default=None, help="the receiver's URL as the sources reach it ($HUB_PUSH_URL)"
    )
    subscribe.add_argument("--json", action="store_true")
    subscribe.set_defaults(func=cmd_subscribe)

    kafka = sub.add_parser("kafka", help="the local Kafka broker")
    kafka.add_argument("action", choices=["up", "down", "status"])
    kafka.add_argument(
        "--port", type=int, default=None, help="loopback port (default 19092, secured 19093)"
    )
    kafka.add_argument(
        "--secure",
        action="store_true",
        help="the secured broker: SASL_SSL with SCRAM users, a local CA and ACLs",
    )
    kafka.set_defaults(func=cmd_kafka)

    sandbox = sub.add_parser("sandbox", help="the simulated school owner")
    sandbox.add_argument("action", choices=["up", "down", "status"])
    sandbox.add_argument("--scale", type=int, default=600, help="people per tenant")
    sandbox.add_argument(
        "--tenants",
        default="lillevik,fjellby,solberga,sohavn",
        help="comma-separated tenant ids (solberga, ekby, norrvik are Swedish: SS 12000; "
        "sohavn is Danish: OS2skoledata)",
    )
    sandbox.add_argument(
        "--faults", action="store_true", help="include a few malformed records for DLQ demos"
    )
    sandbox.add_argument(
        "--web-port", type=int, default=18080, help="port of the vendor APIs (0: any free one)"
    )
    sandbox.add_argument(
        "--variants",
        action="store_true",
        help="serve the same tenants as real sources often are: Feide directories with units "
        "and people beside the organisation, OneRoster 1.1 without gradebook, SS 12000 "
        "registers with only the mandatory fields",
    )
    sandbox.add_argument(
        "--lms",
        default="",
        help="tenants on a native learning platform instead of OneRoster: "
        "<tenant>=teams (Microsoft Teams classes, Graph education), <tenant>=classroom "
        "(Google Classroom), <tenant>=canvas or <tenant>=moodle, comma-separated, "
        "e.g. solberga=teams,lillevik=canvas",
    )
    sandbox.set_defaults(func=cmd_sandbox)

    airflow = sub.add_parser(
        "airflow", help="a local Airflow: api-server, scheduler, dag-processor, triggerer"
    )
    airflow.add_argument("action", choices=["up", "down", "status"])
    airflow.add_argument(
        "--port", type=int, default=None, help="api-server port ($HUB_AIRFLOW_PORT, else 8080)"
    )
    airflow.add_argument(
        "--home", type=Path, default=None, help="Airflow home (default $HUB_VAR_DIR/airflow)"
    )
    airflow.add_argument(
        "--detach", action="store_true", help="up: return once it answers (default: foreground)"
    )
    airflow.add_argument(
        "--workers",
        type=int,
        default=0,
        help="up: run the CeleryExecutor with N Celery workers and a local Redis "
        "(default 0: the LocalExecutor)",
    )
    airflow.set_defaults(func=cmd_airflow)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `hub` command."""
    args = build_parser().parse_args(argv)
    configure(level=args.log_level)
    try:
        load_env_file()
        var_dir().mkdir(parents=True, exist_ok=True)
        return int(args.func(args))
    except SettingsError as exc:
        print(f"hub: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except LeaseHeld as exc:  # e.g. `hub extract` compiling a day another process compiles
        return _skipped(args, exc)
    except KafkaAccessError as exc:  # refused credentials, untrusted broker, missing ACL
        print(f"hub: {exc}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
