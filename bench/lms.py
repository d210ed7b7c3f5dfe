"""LMS sync throughput: the sandbox OneRoster provider through the sync runner into Kafka.

The same run then prints the native platforms' connector throughput (records per second
read through Graph education, its class assignments and submissions included, and Google
Classroom from their sandbox apps, issue 18), with the completion results among the
records and the requests the read made; `--native-only` prints just those, without a
broker.

Starts a local Kafka broker (or uses `--bootstrap`) and the sandbox web server in its own
process for one tenant of `--scale` people, runs a full sync of the OneRoster source
(connector → fingerprints → SQLite state store → idempotent producer with acks=all),
then, in the same run and against the same broker, sends the same number of equally
sized messages with a bare kafka-python producer of the same durability settings.
Prints enrollments per second and the ratio of the hub's rate to the bare producer's.

itslearning's Data Warehouse API, Canvas and Moodle are measured the same way after them
(their sandbox apps in a child process, `--native-scale` people). `--connectors-only`
skips the broker and the sync and reads the `--scale` tenant through the OneRoster
connector alone and through those three, as records per second.

    .venv/bin/python bench/lms.py --scale 20000
    .venv/bin/python bench/lms.py --scale 20000 --connectors-only
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from _harness import compare_with_bare, kafka_broker, sync, tenant_settings
from _native_lms import Throughput, read_through, served

from hub.dev.sandbox.oneroster import client_credentials, oneroster_source_config, secret_env
from hub.dev.sandbox.webserver import start_detached, stop_detached
from hub.kafka_io import Publisher, ensure_topics, entity_topic
from hub.logging import configure
from hub.settings import parse_settings
from hub.sources import build_source, entity_types_of
from hub.store import StateStore
from schemas.lms import Enrollment, Result

TENANT = "benchby"


def _count(base_url: str, secret: str, collection: str) -> int:
    token = requests.post(
        f"{base_url}/oauth/token", data={"grant_type": "client_credentials"},
        auth=(f"skolehub-{TENANT}", secret), timeout=30,
    ).json()["access_token"]  # fmt: skip
    response = requests.get(
        f"{base_url}/ims/oneroster/rostering/v1p2/{collection}", params={"limit": 1},
        headers={"Authorization": f"Bearer {token}"}, timeout=30,
    )  # fmt: skip
    return int(response.headers["X-Total-Count"])


def _native_apps(scale: int, secret: str) -> dict[str, object]:
    """The native platforms' sandbox apps for the bench tenant, one secret for all."""
    from hub.dev.sandbox.canvas import CanvasApp
    from hub.dev.sandbox.itslearning import ItslearningApp
    from hub.dev.sandbox.moodle import MoodleApp

    logins = {TENANT: (f"skolehub-{TENANT}", secret)}
    return {
        "itslearning": ItslearningApp.generate([TENANT], scale, logins=logins),
        "canvas": CanvasApp.generate([TENANT], scale, tokens={TENANT: secret}),
        "moodle": MoodleApp.generate([TENANT], scale, tokens={TENANT: secret}),
    }


def native_connectors(scale: int, oneroster_url: str | None, page_size: int) -> list[Throughput]:
    """Each LMS connector's records per second against its sandbox app (OneRoster too)."""
    from hub.dev.sandbox import canvas, itslearning, moodle

    secret = uuid.uuid4().hex
    for vendor in (itslearning, canvas, moodle):
        os.environ[vendor.secret_env(TENANT)] = secret
    entries = []
    results = []
    if oneroster_url is not None:
        entries.append(oneroster_source_config(TENANT, oneroster_url, page_size=page_size))
    with served(lambda: _native_apps(scale, secret)) as url:
        entries += [
            itslearning.itslearning_source_config(TENANT, f"{url}/{TENANT}/itslearning"),
            canvas.canvas_source_config(TENANT, f"{url}/{TENANT}/canvas"),
            moodle.moodle_source_config(TENANT, f"{url}/{TENANT}/moodle"),
        ]
        config = parse_settings({"tenants": [{"id": TENANT, "name": "B", "sources": entries}]})
        tenant = config.tenants[0]
        for source in tenant.sources:
            results.append(read_through(source.type, build_source(tenant, source)))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--scale", type=int, default=20_000, help="people in the tenant")
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--bootstrap", help="an existing broker (default: start a local one)")
    parser.add_argument(
        "--native-scale", type=int, default=2_000, help="people in the native platforms' tenant"
    )
    parser.add_argument(
        "--native-only", action="store_true", help="only the native connectors (no broker)"
    )
    parser.add_argument(
        "--connectors-only",
        action="store_true",
        help="only the connectors' read rates, OneRoster's alone included (no broker)",
    )
    args = parser.parse_args(argv)
    configure(fmt="console", level="warning")
    os.environ.setdefault("HUB_HMAC_KEY", uuid.uuid4().hex)
    if args.native_only:
        print_native_rates(args.native_scale)
        for result in native_connectors(args.native_scale, None, args.page_size):
            print(result.line())
        return 0
    if args.connectors_only:
        work = Path(tempfile.mkdtemp(prefix="skolehub-bench-lms-"))
        state = start_detached(work / "web", tenants=[TENANT], scale=args.scale)
        try:
            os.environ[secret_env(TENANT)] = client_credentials(work / "web", [TENANT])[TENANT][1]
            url = f"{state['url']}/{TENANT}/oneroster"
            print(f"tenant {TENANT}: scale {args.scale:,}")
            for result in native_connectors(args.scale, url, args.page_size):
                print(result.line())
        finally:
            stop_detached(work / "web")
        return 0

    work = Path(tempfile.mkdtemp(prefix="skolehub-bench-lms-"))
    web = work / "web"
    started = time.monotonic()
    with kafka_broker(work, args.bootstrap) as bootstrap:
        try:
            state = start_detached(web, tenants=[TENANT], scale=args.scale)
            print(f"services up in {time.monotonic() - started:.1f} s (broker {bootstrap}, "
                  f"sandbox {state['url']})")  # fmt: skip
            secret = client_credentials(web, [TENANT])[TENANT][1]
            os.environ[secret_env(TENANT)] = secret
            os.environ.setdefault("HUB_HMAC_KEY", uuid.uuid4().hex)
            base_url = f"{state['url']}/{TENANT}/oneroster"
            enrollments = _count(base_url, secret, "enrollments")
            users = _count(base_url, secret, "users")

            settings = tenant_settings(
                bootstrap,
                work / "hub.db",
                tenant=TENANT,
                name="Benchby kommune",
                sources=[oneroster_source_config(TENANT, base_url, page_size=args.page_size)],
                prefix=f"bench{uuid.uuid4().hex[:8]}",
                batch_size=2000,
            )
            types = entity_types_of(settings.tenants[0].sources[0])
            ensure_topics(bootstrap, settings.kafka, types)
            store = StateStore(settings.store_url)
            publisher = Publisher(bootstrap, settings.kafka)
            try:
                began = time.monotonic()
                full = sync(settings, store, publisher, TENANT, "oneroster")
                full_seconds = time.monotonic() - began
                began = time.monotonic()
                again = sync(settings, store, publisher, TENANT, "oneroster")
                incremental_seconds = time.monotonic() - began
            finally:
                publisher.close()
                store.close()

            topic = entity_topic(settings.kafka.topic_prefix, Enrollment)
            bare = compare_with_bare(
                bootstrap, settings, topic, full.created, key_prefix=f"{TENANT}:enrollment:"
            )
            hub_rate = full.created / full_seconds
            print(
                f"tenant {TENANT}: scale {args.scale:,}, {users:,} users, "
                f"{enrollments:,} enrollments, page size {args.page_size}"
            )
            print(
                f"hub full sync:   {full.created:,} events in {full_seconds:.1f} s = "
                f"{hub_rate:,.0f} events/s = {enrollments / full_seconds:,.0f} enrollments/s"
            )
            print("\n".join(bare.lines(hub_rate)))
            print(
                f"incremental run: {again.unchanged:,} records re-read (overlap), "
                f"{again.created + again.updated} changes, {incremental_seconds:.1f} s"
            )
        finally:
            stop_detached(web)
    # Measured after the broker and the detached sandbox stopped, so they take no CPU.
    print_native_rates(args.native_scale)
    for result in native_connectors(args.native_scale, None, args.page_size):
        print(result.line())
    return 0


# -- the native platforms (issue 18): connector throughput against their sandbox apps -------

NATIVE_TENANT = "solberga"


@dataclass(frozen=True)
class NativeRead:
    """One full read of a native connector: what it yielded, how long, how many requests."""

    records: int
    seconds: float
    #: `Result`s among the records (Graph education: completions from assignments).
    results: int
    requests: int


def _native_rate(scale: int, vendor: str) -> NativeRead:
    """One full read of a native connector against its sandbox app, default settings.

    Graph education's includes its classes' assignments and submissions. The sandbox
    runs in a thread of this process, so the figure includes serving the pages.
    """
    from connectors.lms.google_classroom import GoogleClassroom
    from connectors.lms.graph_education import GraphEducation
    from hub.dev.sandbox.classroom import ClassroomApp, classroom_source_config
    from hub.dev.sandbox.graph_education import GraphEducationApp, graph_education_source_config
    from hub.dev.sandbox.mdm.credentials import generate_credentials
    from hub.dev.sandbox.oneroster import OneRosterTenant
    from hub.dev.sandbox.roster import roster
    from hub.dev.sandbox.webserver import start_in_thread
    from hub.settings import parse_settings

    credentials = generate_credentials(NATIVE_TENANT)
    platforms = {NATIVE_TENANT: OneRosterTenant(roster(NATIVE_TENANT, scale, 1))}
    known = {NATIVE_TENANT: credentials}
    if vendor == "graph_education":
        app: Any = GraphEducationApp(platforms, credentials=known)
        config, kind, secret = (
            graph_education_source_config,
            GraphEducation,
            credentials.intune_secret,
        )
    else:
        app = ClassroomApp(platforms, credentials=known)
        config, kind, secret = classroom_source_config, GoogleClassroom, credentials.google_key_json
    server = start_in_thread({vendor: app})
    try:
        entry = config(NATIVE_TENANT, server.url, page_size=999)
        hub = parse_settings({"tenants": [{"id": NATIVE_TENANT, "name": "S", "sources": [entry]}]})
        source = kind(hub.tenants[0].sources[0], tenant=NATIVE_TENANT, secret=secret)
        began = time.monotonic()
        records = results = 0
        with source:
            for item in source.read():
                records += 1
                results += isinstance(item, Result)
        seconds = time.monotonic() - began
        return NativeRead(records, seconds, results, server.count())
    finally:
        server.stop()


def graph_education_rate(scale: int) -> NativeRead:
    """Records and seconds of a full read of Microsoft Graph education (Teams classes)."""
    return _native_rate(scale, "graph_education")


def google_classroom_rate(scale: int) -> NativeRead:
    """Records and seconds of a full read of Google Classroom."""
    return _native_rate(scale, "classroom")


def print_native_rates(scale: int) -> None:
    """One line per native connector: records per second through it against its sandbox."""
    for name, measure in (
        ("graph_education", graph_education_rate),
        ("google_classroom", google_classroom_rate),
    ):
        read = measure(scale)
        print(
            f"connector {name}: scale {scale:,}, {read.records:,} records "
            f"({read.results:,} results) in {read.seconds:.1f} s = "
            f"{read.records / read.seconds:,.0f} records/s, {read.requests:,} requests"
        )


if __name__ == "__main__":
    sys.exit(main())
