"""Follow-up compile time: materialise a large tenant from Kafka, compile it, extract it.

Generates one tenant of `--people` directory people (82 % pupils, 18 % staff) plus
preschool children (20 % on top), an LMS that knows nearly all of them (4 classes per
pupil, staff competence courses, results) and three MDMs' devices (pupils' and staff
devices, shared preschool tablets, twins enrolled twice, a few unknown users), publishes
them with the hub's envelope to a local broker (or `--bootstrap`), then in one run:

1. materialises every topic into a SQLite reporting store (the compiler's consumer),
2. compiles the follow-up records for one day (load, match, compute, store),
3. writes a CSV + XLSX extract and verifies its manifest,

and prints the times and the ratios between them. Between 1 and 2 it materialises the
same topics into a second store under cProfile and prints that CPU time by library
(`profile_by_library`): the Kafka client's fetching and decoding, the store's writes,
and the materialiser's own work. It prints the ratios (compile seconds per 1,000 people,
compile time against materialise time, events materialised per second).

    .venv/bin/python bench/compile.py --people 20000
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TypeVar

from _harness import kafka_broker, profile_by_library

from hub.followup import compile_snapshot
from hub.followup.extract import verify_extract, write_extract
from hub.kafka_io import OutRecord, Publisher, dumps, ensure_topics, entity_topic
from hub.logging import configure
from hub.materialise import Materialiser
from hub.settings import parse_settings
from hub.store import StateStore
from hub.sync import fingerprint
from schemas.entities import (
    Entity,
    Organisation,
    OrganisationKind,
    Person,
    Role,
    SchoolType,
    SourceRef,
)
from schemas.envelope import CloudEventHeaders, Op, RecordKey, encode_change
from schemas.lms import Class, ClassType, Course, Enrollment, EnrollmentRole, Result, ScoreStatus
from schemas.mdm import (
    AssignedUserId,
    Compliance,
    Device,
    DeviceKind,
    ManagementState,
    UnitHints,
    UserIdKind,
)

TENANT = "benchco"
AS_OF = date(2026, 6, 15)
REALM = "benchco.kommune.no"
FEIDE = SourceRef(system="feide_ldap", instance="feide")
LMS = SourceRef(system="oneroster", instance="lms")
MDMS = (
    SourceRef(system="jamf_pro", instance="jamf"),
    SourceRef(system="intune", instance="intune"),
    SourceRef(system="google_chromeos", instance="chromebooks"),
)
AREAS = ("digital-didactics", "learning-platforms", "programming-robotics", "information-security")
STAFF_ROLES = (Role.TEACHER, Role.TEACHER, Role.TEACHER, Role.ASSISTANT, Role.SCHOOL_LEADER)


E = TypeVar("E", bound=Entity)


class Counts(dict[str, int]):
    """Entities generated, per type."""

    def add(self, entity: E) -> E:
        """Count an entity and hand it back."""
        self[entity.entity] = self.get(entity.entity, 0) + 1
        return entity


def generate(people: int, counts: Counts, seed: int = 7) -> Iterator[Entity]:
    """The tenant's entities, parents first, deterministically."""
    rng = random.Random(seed)
    schools = max(1, people // 450)
    preschools = max(1, people // 1500)
    units = [f"NO9{n:08d}" for n in range(schools + preschools)]
    for n, key in enumerate(units):
        school = n < schools
        yield counts.add(Organisation(
            tenant=TENANT, source=FEIDE, key=key,
            kind=OrganisationKind.SCHOOL_UNIT if school else OrganisationKind.PRESCHOOL_UNIT,
            name=f"{'Skole' if school else 'Barnehage'} {n + 1}", org_number=key[2:],
            school_types=(SchoolType.COMPULSORY,) if school else (SchoolType.PRESCHOOL,),
        ))  # fmt: skip
        yield counts.add(Organisation(
            tenant=TENANT, source=LMS, key=f"org-{n}", kind=OrganisationKind.SCHOOL_UNIT,
            name=f"Org {n}", org_number=key[2:],
        ))  # fmt: skip
    courses = [f"komp-{a}" for a in AREAS] + [f"trinn-{g}" for g in range(1, 11)]
    for course in courses:
        area = course.removeprefix("komp-")
        yield counts.add(Course(
            tenant=TENANT, source=LMS, key=course, title=course,
            tags=(area, "competence-development") if course.startswith("komp-") else (),
        ))  # fmt: skip
    classes: dict[tuple[int, str], str] = {}
    for n in range(schools + preschools):
        for course in courses:
            if course.startswith("trinn-") and n >= schools:
                continue
            for section in range(1 if course.startswith("komp-") else 2):
                key = f"cls-{n}-{course}-{section}"
                classes[(n, f"{course}-{section}")] = key
                yield counts.add(Class(
                    tenant=TENANT, source=LMS, key=key, title=key, class_type=ClassType.SCHEDULED,
                    course_key=course, school_key=f"org-{n}",
                ))  # fmt: skip
    children = people // 5
    device_no = 0
    for seq in range(people + children):
        child = seq >= people
        pupil = not child and seq % 100 < 82
        unit = schools + seq % preschools if child else seq % schools
        if not child and not pupil and seq % 4 == 0:
            unit = schools + seq % preschools  # a quarter of staff work in preschools
        username = f"u{seq:07d}"
        grade = 1 + seq % 10 if pupil else None
        role = Role.CHILD if child else Role.PUPIL if pupil else STAFF_ROLES[seq % 5]
        person = counts.add(Person(
            tenant=TENANT, source=FEIDE, key=f"{username}@{REALM}", eppn=f"{username}@{REALM}",
            username=username, email=f"{username}@{REALM}", roles=(role,),
            unit_keys=(units[unit],), primary_unit_key=units[unit], grade=grade,
        ))  # fmt: skip
        yield person
        if child:
            continue
        lms_key = f"lms-{seq}"
        known = seq % 50 != 0  # 2 % are known to the LMS by another username only
        yield counts.add(Person(
            tenant=TENANT, source=LMS, key=lms_key, roles=(role,),
            eppn=person.eppn if known else None, username=username if known else f"x{username}",
        ))  # fmt: skip
        if pupil:
            for section, course in enumerate(("trinn", "trinn", "trinn", "trinn")):
                klass = classes[(unit, f"{course}-{grade}-{section % 2}")]
                yield counts.add(Enrollment(
                    tenant=TENANT, source=LMS, key=f"e-{seq}-{section}", person_key=lms_key,
                    class_key=klass, role=EnrollmentRole.STUDENT,
                ))  # fmt: skip
            yield counts.add(Result(
                tenant=TENANT, source=LMS, key=f"r-{seq}", line_item_key=f"li-{grade}",
                person_key=lms_key, class_key=classes[(unit, f"trinn-{grade}-0")],
                score_status=ScoreStatus.FULLY_GRADED, score=float(rng.randint(0, 100)),
                score_min=0.0, score_max=100.0, score_date=date(2026, 3, 15),
                learning_objective_ids=tuple(f"udir:dig:trinn{grade:02d}.{o}" for o in "abcde"),
            ))  # fmt: skip
        else:
            for area in AREAS:
                if area != "information-security" and rng.random() > 0.4:
                    continue
                klass = classes[(unit, f"komp-{area}-0")]
                yield counts.add(Enrollment(
                    tenant=TENANT, source=LMS, key=f"e-{seq}-{area}", person_key=lms_key,
                    class_key=klass, role=EnrollmentRole.STUDENT,
                ))  # fmt: skip
                if rng.random() < 0.75:
                    yield counts.add(Result(
                        tenant=TENANT, source=LMS, key=f"r-{seq}-{area}", line_item_key=klass,
                        person_key=lms_key, class_key=klass,
                        score_status=ScoreStatus.FULLY_GRADED, score=1.0, score_min=0.0,
                        score_max=1.0, score_date=AS_OF - timedelta(days=rng.randint(1, 700)),
                    ))  # fmt: skip
        if rng.random() < 0.94:
            device_no += 1
            ghost = rng.random() < 0.02
            user = f"ghost{seq}@{REALM}" if ghost else person.eppn or ""
            mdm = MDMS[seq % 3]
            for twin in range(2 if rng.random() < 0.04 else 1):
                yield counts.add(_device(rng, MDMS[(seq + twin) % 3] if twin else mdm,
                                         device_no, user, None))  # fmt: skip
    for n in range(preschools):
        for _ in range(children // preschools // 5):
            device_no += 1
            yield counts.add(_device(rng, MDMS[0], device_no, None, f"Barnehage {schools + n + 1}"))


def _device(
    rng: random.Random, mdm: SourceRef, n: int, user: str | None, site: str | None
) -> Device:
    seen = AS_OF - timedelta(days=rng.choice((0, 1, 2, 5, 12, 45, 90)))
    return Device(
        tenant=TENANT, source=mdm, key=f"{mdm.instance}-{n}-{rng.random():.6f}",
        physical_key=f"acme:SN{n:08d}", kind=DeviceKind.TABLET if site else DeviceKind.LAPTOP,
        os_name="iPadOS" if site else "Windows", os_version="18.1" if site else "10.0.22631",
        management_state=ManagementState.MANAGED,
        compliance=Compliance.NONCOMPLIANT if rng.random() < 0.07 else Compliance.COMPLIANT,
        enrolled_at=datetime(2026, 6, 1, tzinfo=UTC) - timedelta(days=rng.randint(10, 1600)),
        last_check_in_on=seen,
        assigned_users=(AssignedUserId(kind=UserIdKind.UPN, value=user),) if user else (),
        unit_hints=UnitHints(site=site), shared=site is not None,
    )  # fmt: skip


def publish(
    bootstrap: str,
    prefix: str,
    people: int,
    *,
    seed: int = 7,
    stamp: datetime | None = None,
    op: Op = Op.CREATED,
) -> tuple[Counts, int]:
    """Publish the tenant with the hub's envelope; return the counts and events sent.

    The events carry `stamp` as their `ce_time` (default: the morning of `AS_OF`, as if
    the hub had synced the tenant then, so that `AS_OF` is within the store's history).
    """
    settings = parse_settings(
        {"kafka": {"bootstrap": bootstrap, "topic_prefix": prefix, "partitions": 3,
                   "batch_size": 5000}, "tenants": [{"id": TENANT, "name": "Bench"}]}
    )  # fmt: skip
    types = (Organisation, Person, Course, Class, Enrollment, Result, Device)
    ensure_topics(bootstrap, settings.kafka, types)
    publisher = Publisher(bootstrap, settings.kafka)
    counts = Counts()
    stamp = stamp or datetime.combine(AS_OF, datetime.min.time(), UTC) + timedelta(hours=6)
    batch: list[OutRecord] = []
    sent = 0
    try:
        for entity in generate(people, counts, seed):
            payload = entity.model_dump(mode="json")
            print_ = fingerprint(payload)
            headers = CloudEventHeaders.for_change(entity, op, print_, stamp)
            batch.append(OutRecord(
                entity_topic(prefix, type(entity)),
                str(RecordKey(TENANT, entity.source.instance, entity.entity, entity.key)),
                encode_change(op, None, dumps(payload).decode()),
                headers.to_kafka(),
            ))  # fmt: skip
            if len(batch) >= 5000:
                publisher.publish(batch)
                sent += len(batch)
                batch = []
        publisher.publish(batch)
        sent += len(batch)
    finally:
        publisher.close()
    return counts, sent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--people", type=int, default=20_000, help="directory people")
    parser.add_argument("--bootstrap", help="an existing broker (default: start a local one)")
    args = parser.parse_args(argv)
    configure(fmt="console", level="warning")
    work = Path(tempfile.mkdtemp(prefix="skolehub-bench-compile-"))
    with kafka_broker(work, args.bootstrap) as bootstrap:
        prefix = f"bench{uuid.uuid4().hex[:8]}"
        started = time.monotonic()
        counts, sent = publish(bootstrap, prefix, args.people)
        published = time.monotonic() - started
        print(
            f"tenant {TENANT}: {args.people:,} people (+{args.people // 5:,} children), "
            f"{counts['person'] - args.people - args.people // 5:,} LMS users, "
            f"{counts['enrollment']:,} enrollments, {counts['result']:,} results, "
            f"{counts['device']:,} device records"
        )
        print(f"published:    {sent:>9,} events in {published:6.1f} s = {sent / published:,.0f}/s")

        store = StateStore(f"sqlite:///{work / 'hub.db'}")
        engine = store.engine
        started = time.monotonic()
        progress = Materialiser(engine, bootstrap, prefix, batch_size=5000).run(timeout=3600)
        materialised = time.monotonic() - started
        rate = progress.records / materialised
        print(
            f"materialised: {progress.records:>9,} events in {materialised:6.1f} s = {rate:,.0f}/s"
        )
        print(
            "where materialising's CPU time goes (the same topics into a second store, profiled):"
        )
        profiled = StateStore(f"sqlite:///{work / 'profiled.db'}")
        _progress, profile = profile_by_library(
            lambda: Materialiser(profiled.engine, bootstrap, prefix, batch_size=5000).run(3600)
        )
        profiled.close()
        for bucket, seconds, share in profile.rows():
            print(f"  {share:6.1%}  {seconds:7.2f} s  {bucket}")

        tenant = parse_settings({"tenants": [{"id": TENANT, "name": "Bench"}]}).tenant(TENANT)
        started = time.monotonic()
        snapshot = compile_snapshot(
            engine, tenant, AS_OF, pseudonym_key=b"bench-hmac-key-0123456789"
        )
        compiled = time.monotonic() - started
        rows = sum(snapshot.counts().values())
        print(f"compiled:     {rows:>9,} rows   in {compiled:6.1f} s "
              f"(device coverage {len(snapshot.rows('device_coverage'))}, "
              f"staff competence {len(snapshot.rows('staff_competence')):,})")  # fmt: skip

        started = time.monotonic()
        folder = work / "extract"
        key = b"bench-hmac-key-0123456789"
        write_extract(
            snapshot, folder, policy=tenant.policy, pseudonym_key=key, formats=("csv", "xlsx")
        )
        verified = verify_extract(folder).ok
        extracted = time.monotonic() - started
        print(f"extract:      csv+xlsx in {extracted:6.1f} s, manifest verifies: {verified}")
        size = sum(f.stat().st_size for f in work.glob("hub.db*"))
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print()
        print(f"compile per 1,000 people:    {compiled / args.people * 1000:.2f} s")
        print(f"compile / materialise time:  {compiled / materialised:.2f}")
        print(f"extract / compile time:      {extracted / compiled:.2f}")
        print(f"reporting store {size / 1e6:,.0f} MB; peak memory of this process {peak:,.0f} MB")
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
