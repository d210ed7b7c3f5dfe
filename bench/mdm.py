"""MDM sync throughput: the sandbox Intune, Jamf Pro and Google through the sync runner into Kafka.

Starts a local Kafka broker (or uses `--bootstrap`) and the sandbox MDMs in a process of
their own (`python -m hub.dev.sandbox.mdm`) for one tenant of `--scale` people, runs a full
sync of each MDM source (connector → fingerprints → SQLite state store → idempotent
producer with acks=all), then, in the same run and against the same broker, sends the
same number of equally sized messages with a bare kafka-python producer of the same
durability settings. Prints devices per second per source and in total, the ratio of the
hub's rate to the bare producer's, and the time of a second, unchanged sync.

    .venv/bin/python bench/mdm.py --scale 20000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from _harness import ROOT, compare_with_bare, kafka_broker, sync, tenant_settings

from hub.dev.sandbox.mdm import mdm_source_configs, secrets_env
from hub.kafka_io import Publisher, ensure_topics, entity_topic
from hub.logging import configure
from hub.store import StateStore
from hub.sync import SyncReport
from schemas.mdm import Device

TENANT = "benchby"
SOURCES = ("intune", "jamf", "chromebooks")


def start_sandbox(home: Path, scale: int, timeout: float = 300.0) -> tuple[subprocess.Popen, str]:
    """The sandbox MDMs in a child process, and their URL once they listen."""
    state = home / "mdm-server.json"
    log = (home / "mdm-server.log").open("w")
    child = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
        [sys.executable, "-m", "hub.dev.sandbox.mdm", "--home", str(home), "--tenants", TENANT,
         "--scale", str(scale)],
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
    )  # fmt: skip
    deadline = time.monotonic() + timeout
    while not state.exists():
        if child.poll() is not None or time.monotonic() > deadline:
            child.kill()
            raise SystemExit(f"the sandbox MDMs did not start; see {home / 'mdm-server.log'}")
        time.sleep(0.2)  # polling a child process's state file, with a deadline
    return child, str(json.loads(state.read_text())["url"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--scale", type=int, default=20_000, help="people in the tenant")
    parser.add_argument("--bootstrap", help="an existing broker (default: start a local one)")
    args = parser.parse_args(argv)
    configure(fmt="console", level="warning")

    work = Path(tempfile.mkdtemp(prefix="skolehub-bench-mdm-"))
    started = time.monotonic()
    child = None
    with kafka_broker(work, args.bootstrap) as bootstrap:
        try:
            child, url = start_sandbox(work, args.scale)
            os.environ.update(secrets_env(work, [TENANT]))
            print(f"services up in {time.monotonic() - started:.1f} s (broker {bootstrap}, "
                  f"sandbox {url})")  # fmt: skip
            settings = tenant_settings(
                bootstrap,
                work / "hub.db",
                tenant=TENANT,
                name="Benchby kommune",
                sources=mdm_source_configs(TENANT, url, page_size=2000, jamf_concurrency=5),
                prefix=f"bench{uuid.uuid4().hex[:8]}",
                batch_size=2000,
            )
            ensure_topics(bootstrap, settings.kafka, [Device])
            store = StateStore(settings.store_url)
            publisher = Publisher(bootstrap, settings.kafka)
            try:
                full: dict[str, tuple[SyncReport, float]] = {}
                for source in SOURCES:
                    began = time.monotonic()
                    report = sync(settings, store, publisher, TENANT, source)
                    full[source] = (report, time.monotonic() - began)
                began = time.monotonic()
                again = [sync(settings, store, publisher, TENANT, source) for source in SOURCES]
                unchanged_seconds = time.monotonic() - began
            finally:
                publisher.close()
                store.close()

            devices = sum(report.created for report, _ in full.values())
            hub_seconds = sum(seconds for _, seconds in full.values())
            topic = entity_topic(settings.kafka.topic_prefix, Device)
            bare = compare_with_bare(
                bootstrap, settings, topic, devices, key_prefix=f"{TENANT}:device:"
            )
            hub_rate = devices / hub_seconds
            print(f"tenant {TENANT}: scale {args.scale:,}, {devices:,} devices in three MDMs")
            for source, (report, seconds) in full.items():
                print(f"  {source:<12} {report.created:>8,} devices in {seconds:6.1f} s = "
                      f"{report.created / seconds:>8,.0f} devices/s")  # fmt: skip
            print(f"hub full syncs:  {devices:,} devices in {hub_seconds:.1f} s = "
                  f"{hub_rate:,.0f} devices/s")  # fmt: skip
            print("\n".join(bare.lines(hub_rate)))
            print(f"unchanged run:   {sum(r.unchanged for r in again):,} devices read, "
                  f"{sum(r.published for r in again)} published, {unchanged_seconds:.1f} s "
                  f"({unchanged_seconds / hub_seconds:.2f} of the first)")  # fmt: skip
            return 0
        finally:
            if child is not None:
                child.terminate()
                try:
                    child.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    child.kill()


if __name__ == "__main__":
    sys.exit(main())
