"""The sync runner's promises under concurrent runs, dead runs, approvals and bad reads.

Each test here reproduces a defect of issue 11 against a real SQLite state store; the
publisher records what would have gone to Kafka, and the tests fold it as a consumer would.
"""

import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta

import pytest
from structlog.testing import capture_logs

from connectors.base import Item, Rejected
from hub.leases import Lease, leases
from hub.store import Staged, StateStore, deletion_approvals, key_versions, now
from hub.sync import SyncRunner, fingerprint, out_records
from schemas import Person
from schemas.entities import Entity, SourceRef
from tests.support import MemorySource
from tests.unit.hub.test_sync import SETTINGS, RecordingPublisher, people, run

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@pytest.fixture
def store(tmp_path) -> Iterator[StateStore]:
    s = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    yield s
    s.close()


def fold(*publishers: RecordingPublisher) -> dict[str, dict]:
    """Latest value per record key over everything published, tombstones removing keys."""
    state: dict[str, dict] = {}
    for publisher in publishers:
        for record in publisher.records:
            if record.topic.endswith("dlq.v1"):
                continue
            if record.value is None:
                state.pop(record.key, None)
            else:
                value = json.loads(record.value)
                if value["op"] == "d":
                    state.pop(record.key, None)
                else:
                    state[record.key] = value["after"]
    return state


# -- 1. one run per source at a time -----------------------------------------------------


class _InterleavingSource(MemorySource):
    """Starts a second sync of the same source while its own read is half done."""

    def __init__(self, items: list[Item], second: object) -> None:
        super().__init__(items)
        self.second = second
        self.second_report = None

    def read(self) -> Iterator[Item]:
        for number, item in enumerate(self.items):
            if number == len(self.items) // 2:
                self.second_report = self.second()  # type: ignore[operator]
            yield item


def test_a_second_run_of_a_source_is_skipped_and_the_first_deletes_nothing(store, monkeypatch):
    """A run started while another reads the same source is skipped; the first stays right."""
    monkeypatch.setattr(SyncRunner, "STAGE_BATCH", 2)  # the first run has staged and seen rows
    _, first = run(store, people(6))
    second_publisher = RecordingPublisher()

    def second() -> object:
        runner = SyncRunner(SETTINGS, store, second_publisher)  # type: ignore[arg-type]
        return runner.sync("t", "mem", source=MemorySource(people(6)), approve_deletes=True)

    source = _InterleavingSource(people(6, p1={"email": "new@t.no"}), second)
    publisher = RecordingPublisher()
    runner = SyncRunner(SETTINGS, store, publisher)  # type: ignore[arg-type]
    report = runner.sync("t", "mem", source=source)
    assert ("skipped", []) == (source.second_report.status, second_publisher.records)
    assert "another run is syncing this source" in source.second_report.error
    assert ("success", 0, 1) == (report.status, report.deleted, report.updated)
    assert 6 == len(fold(first, publisher))


def test_a_skipped_run_names_the_holder_and_touches_nothing(store):
    """While another process holds the lease, a run ends at once as skipped."""
    run(store, people(2))
    with Lease(store.engine, "sync:t:mem", holder="ops@host pid 42"):
        report, pub = run(store, people(0), approve_deletes=True)
    assert ("skipped", []) == (report.status, pub.records)
    assert "ops@host pid 42" in report.error
    assert 2 == store.count("t", "mem")
    assert 1 == len(store.runs("t"))  # a skipped run leaves no run of its own behind


def test_an_expired_lease_is_taken_over(store):
    """A holder that died (its lease expired) does not block the source for good."""
    stamp = now() - timedelta(hours=1)
    with store.engine.begin() as conn:
        conn.execute(
            leases.insert().values(
                name="sync:t:mem",
                owner="dead",
                holder="airflow@worker pid 7",
                acquired_at=stamp,
                renewed_at=stamp,
                expires_at=stamp + timedelta(minutes=5),
            )
        )
    with capture_logs() as logs:
        report, _ = run(store, people(2))
    assert "success" == report.status
    taken = [e for e in logs if e["event"] == "lease_taken_over"]
    assert "airflow@worker pid 7" == taken[0]["previous_holder"]


# -- 2. approvals bound to a plan, used once, expiring -----------------------------------


def _held(store: StateStore, keep: int = 4) -> str:
    run(store, people(10))
    held, _ = run(store, people(keep))
    assert "held" == held.status
    return held.run_id


def test_an_approval_does_not_cover_other_deletions_of_the_same_count(store):
    """An approval covers the held run's planned keys, not any deletions of that number."""
    held = _held(store)  # plans to delete p4..p9
    store.approve_held_run(held, "operator")
    other = [p for p in people(10) if p.key not in {f"p{i}@t.no" for i in range(6)}]
    report, pub = run(store, other)  # would delete p0..p5: six, but not the six approved
    assert ("held", 6, []) == (report.status, report.planned_deletes, pub.records)


def test_an_expired_approval_is_not_used(store):
    """An approval older than the tenant's approval_ttl_hours no longer releases a run."""
    held = _held(store)
    store.approve_held_run(held, "operator")
    with store.engine.begin() as conn:
        conn.execute(deletion_approvals.update().values(approved_at=now() - timedelta(hours=73)))
    report, pub = run(store, people(4))
    assert ("held", []) == (report.status, pub.records)


def test_a_run_within_limits_withdraws_the_open_approval(store):
    """Once a run needs no approval, an older approval cannot release a later bad read."""
    held = _held(store)
    store.approve_held_run(held, "operator")
    report, _ = run(store, people(10))  # the source recovered: nothing to delete
    assert "success" == report.status
    assert store.open_approval("t", "mem", since=EPOCH) is None
    report, pub = run(store, people(4))  # weeks later, the same bad read
    assert ("held", []) == (report.status, pub.records)


def test_an_approval_is_claimed_by_one_run_only(store):
    """Two runs cannot both use one approval: the second claim fails."""
    held = _held(store)
    approval = store.approve_held_run(held, "operator")
    assert (True, False) == (
        store.claim_approval(approval, "run-a"),
        store.claim_approval(approval, "run-b"),
    )


def test_an_approved_subset_is_published_under_the_approval(store):
    """A later run that deletes part of the approved plan uses the approval."""
    held = _held(store, keep=3)  # plans to delete p3..p9
    store.approve_held_run(held, "operator")
    report, _ = run(store, people(4))  # deletes p4..p9: over the limit, within the plan
    assert ("success", 6) == (report.status, report.deleted)
    assert "operator" == store.runs("t")[0]["approved_by"]


# -- 5. a run that died between acknowledgement and commit -------------------------------


def _runner(store: StateStore, kafka: RecordingPublisher) -> SyncRunner:
    return SyncRunner(SETTINGS, store, kafka)  # type: ignore[arg-type]


def _dead_run(store: StateStore, kafka: RecordingPublisher, rows: list[Staged], landed: bool):
    """What a SIGKILL while publishing leaves: a running run with staged rows and marks.

    With `landed`, its events reached Kafka (the kill came after the acknowledgement).
    """
    source = MemorySource([])
    store.begin_run("dead", "t", "mem", True)
    store.stage("dead", rows, [])
    topics = sorted({f"hub.{t.versioned_suffix()}" for t in source.entity_types})
    store.save_publish_marks("dead", kafka.end_offsets(topics))
    store.set_phase("dead", "publishing")
    if landed:
        kafka.records.extend(
            out_records(rows, prefix="hub", tenant="t", run_id="dead", source=source)
        )


def _create(key_index: int = 0, version: int = 1, **changes: object) -> Staged:
    payload = people(key_index + 1, **changes)[key_index].model_dump(mode="json")  # type: ignore[union-attr]
    return Staged(
        0,
        "person",
        payload["key"],
        "c",
        fingerprint(payload),
        json.dumps(payload),
        None,
        (),
        None,
        version,
    )


def _delete_of(store: StateStore, key: str) -> Staged:
    known = store.lookup("t", "mem", "person", [key])[key]
    return Staged(
        0,
        "person",
        key,
        "d",
        known.fingerprint,
        None,
        known.payload,
        (),
        None,
        known.version + 1,
    )


def test_a_create_that_reached_kafka_is_committed_and_not_published_again(store):
    """The dead run's acknowledged create is found on Kafka: state catches up, no duplicate."""
    kafka = RecordingPublisher()
    _dead_run(store, kafka, [_create()], landed=True)
    report = _runner(store, kafka).sync("t", "mem", source=MemorySource(people(1)))
    assert ("success", 1, 0, 1) == (
        report.status,
        report.recovered,
        report.created,
        len(kafka.records),
    )
    assert "crashed" == [r for r in store.runs("t") if r["run_id"] == "dead"][0]["status"]


def test_a_create_that_never_reached_kafka_is_published_by_the_next_run(store):
    """Nothing is lost: a create the dead run never got onto Kafka is published now."""
    kafka = RecordingPublisher()
    _dead_run(store, kafka, [_create()], landed=False)
    report = _runner(store, kafka).sync("t", "mem", source=MemorySource(people(1)))
    assert ("success", 0, 1, ["c"]) == (
        report.status,
        report.recovered,
        report.created,
        [v["op"] for v in kafka.values()],
    )


def test_a_landed_delete_of_an_entity_that_came_back_is_followed_by_a_create(store):
    """The delete is on Kafka, the entity is back: one create, with an id of its own."""
    kafka = RecordingPublisher()
    _runner(store, kafka).sync("t", "mem", source=MemorySource(people(3)))
    _dead_run(store, kafka, [_delete_of(store, "p2@t.no")], landed=True)
    report = _runner(store, kafka).sync("t", "mem", source=MemorySource(people(3)))
    assert ("success", ["c", "c", "c", "d", "c"]) == (
        report.status,
        [v["op"] for v in kafka.values()],
    )
    assert 3 == len(fold(kafka))
    ids = [dict(r.headers)["ce_id"] for r in kafka.records if r.value is not None]
    assert len(ids) == len(set(ids))


def test_a_delete_that_never_landed_is_not_published_once_the_entity_is_back(store):
    """Kafka never had the dead run's delete and the entity is back: nothing goes out."""
    kafka = RecordingPublisher()
    _runner(store, kafka).sync("t", "mem", source=MemorySource(people(3)))
    _dead_run(store, kafka, [_delete_of(store, "p2@t.no")], landed=False)
    report = _runner(store, kafka).sync("t", "mem", source=MemorySource(people(3)))
    assert ("success", ["c", "c", "c"]) == (report.status, [v["op"] for v in kafka.values()])


def test_an_acknowledgement_lost_after_the_batch_landed_is_settled_without_duplicates(store):
    """A batch that landed though its acknowledgement was lost is not published twice."""
    kafka = RecordingPublisher(lose_ack={2})
    failed = _runner(store, kafka).sync("t", "mem", source=MemorySource(people(5)))
    report = _runner(store, kafka).sync("t", "mem", source=MemorySource(people(5)))
    ids = [dict(r.headers)["ce_id"] for r in kafka.records]
    assert ("failed", "success", 2, 1) == (
        failed.status,
        report.status,
        report.recovered,
        report.created,
    )
    assert (5, 5) == (len(ids), len(set(ids)))


def test_a_run_that_died_before_publishing_leaves_nothing_behind(store):
    """Rows staged before the guards passed were never published: they are dropped."""
    store.begin_run("dead", "t", "mem", True)
    store.stage("dead", [Staged(0, "person", "x", "d", "f", None, "{}", (), None, 1)], [])
    report, pub = run(store, people(1))
    assert ("success", 0, ["c"]) == (
        report.status,
        report.recovered,
        [v["op"] for v in pub.values()],
    )


# -- 4. partial reads are never deletions (the runner's part) ----------------------------


def test_a_dead_lettered_record_is_not_deleted(store):
    """A record that turned malformed is dead-lettered, and its entity stays."""
    run(store, people(3))
    bad = Rejected("person", "p2@t.no", "eppn: not a valid address", {}, key="p2@t.no")
    report, pub = run(store, [*people(2), bad])
    assert (0, 1) == (report.planned_deletes, report.dead_lettered)
    assert [] == [v for v in pub.values() if v.get("op") == "d"]


def test_a_dead_letter_without_a_key_withholds_the_deletes_of_its_type(store):
    """When a rejected record's key is unknown, no entity of its type is deleted this run."""
    run(store, people(3))
    bad = Rejected("person", "users#2", "record is not an object", {})
    report, _ = run(store, [*people(1), bad])
    assert ("success", 0, 2) == (report.status, report.deleted, report.deletes_withheld)


class _OffsetSource(MemorySource):
    """A source whose people are read by offset; `gone` answers lookups (None: no lookup)."""

    offset_paged = frozenset({"person"})

    def __init__(self, items: list[Item], gone: set[str] | None) -> None:
        super().__init__(items)
        self.gone = gone

    def confirm_gone(self, entity_type: type[Entity], keys: Sequence[str]) -> set[str] | None:
        return None if self.gone is None else {k for k in keys if k in self.gone}


def _offset_run(store: StateStore, items: list[Item], gone: set[str] | None):
    publisher = RecordingPublisher()
    runner = SyncRunner(SETTINGS, store, publisher)  # type: ignore[arg-type]
    return runner.sync("t", "mem", source=_OffsetSource(items, gone)), publisher


def test_an_unseen_key_of_an_offset_read_is_deleted_after_consecutive_misses(store):
    """Without a lookup, an unseen key is deleted only when two full reads missed it."""
    _offset_run(store, people(3), None)
    first, _ = _offset_run(store, people(2), None)
    second, _ = _offset_run(store, people(2), None)
    assert (0, 1) == (first.deleted, first.deletes_withheld)
    assert 1 == second.deleted


def test_a_key_seen_again_starts_counting_its_misses_anew(store):
    """A miss, a sighting and a miss are not two consecutive misses."""
    _offset_run(store, people(3), None)
    _offset_run(store, people(2), None)
    _offset_run(store, people(3), None)
    report, _ = _offset_run(store, people(2), None)
    assert (0, 1) == (report.deleted, report.deletes_withheld)


def test_an_unseen_key_the_source_still_has_is_not_deleted(store):
    """A lookup that finds the record alive keeps it; one that confirms it gone deletes it."""
    _offset_run(store, people(3), set())
    alive, _ = _offset_run(store, people(2), set())
    gone, _ = _offset_run(store, people(2), {"p2@t.no"})
    assert (0, 1) == (alive.deleted, gone.deleted)


# -- 8. dead letters on incremental runs --------------------------------------------------


def test_one_bad_record_does_not_fail_a_small_incremental_run(store):
    """The dead-letter share needs a minimum of records read before it fails a run."""
    run(store, people(3))
    bad = Rejected("person", "p9@t.no", "bad", {}, key="p9@t.no")
    report, _ = run(store, [people(1, p0={"email": "x@t.no"})[0], bad], full=False)
    assert ("success", 1) == (report.status, report.dead_lettered)


def test_an_unchanged_bad_record_is_not_sent_to_the_dlq_again(store):
    """The same dead letter is published once, not on every run."""
    bad = Rejected("person", "p9@t.no", "bad", {"id": "p9"}, key="p9@t.no")
    _, first = run(store, [*people(4), bad])
    report, second = run(store, [*people(4), bad])
    letters = [r for p in (first, second) for r in p.records if r.topic == "hub.dlq.v1"]
    assert (1, 1) == (len(letters), report.dead_letters_repeated)


# -- issue 21: one defect never escapes the run -------------------------------------------


class _BrokenSource(MemorySource):
    def read(self) -> Iterator[Item]:
        yield from self.items[:1]
        raise RuntimeError("mapping bug at 12345678901")


def test_an_unexpected_exception_fails_the_run_and_does_not_escape(store):
    """A defect in a connector fails its run with a scrubbed message; the caller goes on."""
    publisher = RecordingPublisher()
    runner = SyncRunner(SETTINGS, store, publisher)  # type: ignore[arg-type]
    report = runner.sync("t", "mem", source=_BrokenSource(people(2)))
    assert ("failed", []) == (report.status, publisher.records)
    assert "unexpected RuntimeError" in report.error
    assert "12345678901" not in report.error


def test_an_entity_that_cannot_be_encoded_becomes_a_dead_letter(store):
    """Text the models let through but UTF-8 cannot carry is a dead letter, not a crash."""
    odd = Person.model_construct(
        **{**people(1)[0].__dict__, "key": "p7@t.no", "given_name": "A\ud800"}
    )
    report, pub = run(store, [*people(4), odd])
    letters = [r for r in pub.records if r.topic == "hub.dlq.v1"]
    assert ("success", 1) == (report.status, len(letters))
    assert b"cannot be encoded" in dict(letters[0].headers)["dlq_error"]


def test_dead_letter_reasons_and_payloads_are_scrubbed(store):
    """An identity number planted in a reason or payload never reaches the DLQ."""
    bad = Rejected(
        "person",
        "p9@t.no",
        "title: unexpected value 01017012345",
        {"title": "01017012345", "note": "Bearer abc.def"},
        key="p9@t.no",
    )
    _, pub = run(store, [*people(4), bad])
    (letter,) = [r for r in pub.records if r.topic == "hub.dlq.v1"]
    everything = letter.value + b"".join(v for _, v in letter.headers)
    assert (b"01017012345" not in everything, b"abc.def" not in everything) == (True, True)


def test_the_record_key_names_the_source_instance(store):
    """Two instances of one vendor never share a record key."""
    a = RecordingPublisher()
    SyncRunner(SETTINGS, store, a).sync("t", "mem", source=MemorySource(people(1)))  # type: ignore[arg-type]
    settings = SETTINGS.model_copy(deep=True)
    b = RecordingPublisher()
    other = MemorySource(
        [
            p.model_copy(update={"source": SourceRef(system="memory", instance="mem2")})
            for p in people(1)
        ],  # type: ignore[union-attr]
        source_id="mem2",
    )
    SyncRunner(settings, store, b).sync("t", "mem2", source=other)  # type: ignore[arg-type]
    assert ["t:mem:person:p0@t.no"] == [r.key for r in a.records]
    assert ["t:mem2:person:p0@t.no"] == [r.key for r in b.records]


def test_state_from_before_the_v2_topics_is_published_again_as_creates(store):
    """An entity in the state without a version was published on v1 only: v2 gets a create."""
    run(store, people(2))
    with store.engine.begin() as conn:
        conn.execute(key_versions.delete())
    report, pub = run(store, people(2))
    assert (2, ["c", "c"]) == (report.created, [v["op"] for v in pub.values()])


class _UnofferedSource(MemorySource):
    """A source that could not read its people this run (a service it did not offer)."""

    def read(self) -> Iterator[Item]:
        self.not_read.add("person")
        self.note("people not offered (HTTP 404): not read")
        yield from self.items


def test_entities_of_a_stream_the_source_did_not_offer_are_not_deleted(store):
    """A full run that could not read a type withholds its deletes and reports the note."""
    run(store, people(3))
    runner = SyncRunner(SETTINGS, store, RecordingPublisher())  # type: ignore[arg-type]
    report = runner.sync("t", "mem", source=_UnofferedSource([]))
    assert ("success", 0, 3) == (report.status, report.deleted, report.deletes_withheld)
    assert ["people not offered (HTTP 404): not read"] == report.notes
