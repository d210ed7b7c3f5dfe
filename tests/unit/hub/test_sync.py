"""The sync runner against an in-memory source and a recording publisher."""

import json
from datetime import UTC, datetime

import pytest

from connectors.base import Item, Rejected, Removed
from hub.kafka_io import OutRecord, PublishError
from hub.settings import parse_settings
from hub.store import StateStore
from hub.sync import SyncRunner, changed_fields, fingerprint
from schemas import Group, GroupKind, Person
from tests.support import MemorySource

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class RecordingPublisher:
    """Keeps what reached "Kafka"; can refuse the n-th batch (keeping what it refused).

    `lose_ack` makes the n-th batch land but its acknowledgement fail, as when a broker
    wrote a batch and the connection broke before the answer arrived.
    """

    def __init__(self, fail_batches: set[int] | None = None, lose_ack: set[int] | None = None):
        self.records: list[OutRecord] = []
        self.refused: list[OutRecord] = []
        self.batches = 0
        self.fail_batches = fail_batches or set()
        self.lose_ack = lose_ack or set()

    def publish(self, records: list[OutRecord]) -> None:
        self.batches += 1
        if self.batches in self.fail_batches:
            self.refused.extend(records)
            raise PublishError("broker went away")
        self.records.extend(records)
        if self.batches in self.lose_ack:
            raise PublishError("acknowledgement lost")

    def end_offsets(self, topics: list[str]) -> dict[tuple[str, int], int]:
        return {(t, 0): sum(1 for r in self.records if r.topic == t) for t in topics}

    def event_ids_since(self, marks: dict[tuple[str, int], int]) -> set[str]:
        ids: set[str] = set()
        for (topic, _), mark in marks.items():
            on_topic = [r for r in self.records if r.topic == topic]
            for record in on_topic[mark:]:
                ids.update(v.decode() for k, v in record.headers if k == "ce_id")
        return ids

    def values(self) -> list[dict]:
        return [json.loads(r.value) for r in self.records if r.value is not None]


SETTINGS = parse_settings(
    {
        "kafka": {"batch_size": 2},
        "tenants": [
            {
                "id": "t",
                "name": "T",
                "sources": [],
                "deletion_guard": {"max_deletes": 100, "max_share": 0.5},
                "max_dead_letter_share": 0.3,
                "dead_letter_min_records": 4,
            }
        ],
    }
)


def people(n: int, **changes: object) -> list[Item]:
    out: list[Item] = []
    for i in range(n):
        fields = {
            "tenant": "t",
            "source": {"system": "memory", "instance": "mem"},
            "key": f"p{i}@t.no",
            "eppn": f"p{i}@t.no",
            "given_name": f"P{i}",
        }
        fields.update(changes.get(f"p{i}", {}))  # type: ignore[arg-type]
        out.append(Person.model_validate(fields))
    return out


@pytest.fixture
def store(tmp_path) -> StateStore:
    s = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    yield s
    s.close()


def run(
    store: StateStore,
    items: list[Item],
    publisher: RecordingPublisher | None = None,
    **kwargs: object,
):
    publisher = publisher or RecordingPublisher()
    runner = SyncRunner(SETTINGS, store, publisher)  # type: ignore[arg-type]
    return runner.sync("t", "mem", source=MemorySource(items), **kwargs), publisher


def test_first_run_creates_and_second_publishes_nothing(store: StateStore):
    """Every entity is created once; an unchanged source publishes nothing the next time."""
    report, pub = run(store, people(3))
    assert ("success", 3, 0) == (report.status, report.created, report.unchanged)
    assert ["c", "c", "c"] == [v["op"] for v in pub.values()]
    report, pub = run(store, people(3))
    assert (0, 3, []) == (report.created, report.unchanged, pub.records)


def test_update_names_only_the_changed_field(store: StateStore):
    """A changed attribute gives one `u` event whose `changed` lists exactly that field."""
    run(store, people(3))
    report, pub = run(store, people(3, p1={"email": "new@t.no"}))
    (value,) = pub.values()
    assert ("u", ["email"]) == (value["op"], value["changed"])
    assert None is value["before"]["email"]
    assert "new@t.no" == value["after"]["email"]
    assert 1 == report.updated


def test_missing_entity_is_deleted_with_a_tombstone(store: StateStore):
    """An entity gone from a full read becomes a `d` event followed by a null-value tombstone."""
    run(store, people(3))
    report, pub = run(store, people(2))
    assert 1 == report.deleted
    delete, tombstone = pub.records
    assert "d" == json.loads(delete.value)["op"]
    assert (delete.key, None) == (tombstone.key, tombstone.value)
    assert "t:mem:person:p2@t.no" == delete.key


def test_removed_item_deletes_without_full_read(store: StateStore):
    """An incremental source's Removed item deletes a known entity."""
    run(store, people(2))
    report, pub = run(store, [Removed(Person, "p0@t.no"), Removed(Person, "unknown")], full=False)
    assert (1, ["d"]) == (report.deleted, [v["op"] for v in pub.values()])


def test_removed_item_in_a_full_read_is_deleted_once(store: StateStore):
    """A Removed item in a full read gives one delete, not a second one from the sweep."""
    run(store, people(3))
    report, pub = run(store, [*people(2), Removed(Person, "p2@t.no")], full=True)
    assert (1, ["d"]) == (report.deleted, [v["op"] for v in pub.values()])


def test_deletion_guard_holds_the_run_and_publishes_nothing(store: StateStore):
    """Deleting more than the tenant's share holds the run, and approval releases it."""
    run(store, people(10))
    report, pub = run(store, people(4, p0={"email": "changed@t.no"}))
    assert ("held", 6, 10, []) == (
        report.status,
        report.planned_deletes,
        report.entities_before,
        pub.records,
    )
    assert "--approve-deletes" in report.error
    assert "held" == store.runs("t")[0]["status"]
    report, pub = run(store, people(4), approve_deletes=True, approved_by="ops@kommune")
    assert ("success", 6) == (report.status, report.deleted)
    assert "ops@kommune" == store.runs("t")[0]["approved_by"]


def test_rejected_records_go_to_the_dead_letter_topic(store: StateStore):
    """A rejected record is published to the DLQ with its reason while the rest goes on."""
    bad = Rejected("person", "uid=bad", "eduPersonPrincipalName is missing", {"dn": "uid=bad"})
    report, pub = run(store, [*people(3), bad])
    letters = [r for r in pub.records if r.topic == "hub.dlq.v1"]
    assert 1 == len(letters)
    headers = dict(letters[0].headers)
    assert b"eduPersonPrincipalName is missing" == headers["dlq_error"]
    assert report.run_id.encode() == headers["dlq_run_id"]
    assert (3, 1, "success") == (report.created, report.dead_lettered, report.status)


def test_too_many_dead_letters_fail_the_run_and_publish_only_the_letters(store: StateStore):
    """Over the tenant's dead-letter share the run fails and only the DLQ is published."""
    bad = [Rejected("person", f"uid=b{i}", "bad", {}) for i in range(2)]
    report, pub = run(store, [*people(2), *bad])
    assert "failed" == report.status
    assert "over the tenant's limit" in report.error
    assert {"hub.dlq.v1"} == {r.topic for r in pub.records}
    assert 0 == store.count("t", "mem")


def test_unacknowledged_batch_leaves_state_unchanged_and_next_run_completes(store: StateStore):
    """An unacknowledged batch leaves its entities out of the state; the next run completes it."""
    report, pub = run(store, people(5), RecordingPublisher(fail_batches={2}))
    assert "failed" == report.status
    assert 2 == store.count("t", "mem")  # batch 1 (two entities) was acknowledged
    ids_first = {dict(r.headers)["ce_id"] for r in pub.records}
    report, pub2 = run(store, people(5))
    # The refused batches never reached Kafka: the next run creates those three itself.
    assert ("success", 3, 0) == (report.status, report.created, report.recovered)
    assert 5 == store.count("t", "mem")
    assert ids_first.isdisjoint({dict(r.headers)["ce_id"] for r in pub2.records})


def test_republished_events_keep_their_ids(store: StateStore):
    """A batch refused by Kafka is republished by the next run with the same event ids."""
    _, failed = run(store, people(1), RecordingPublisher(fail_batches={1}))
    _, again = run(store, people(1))
    refused = [dict(r.headers)["ce_id"] for r in failed.refused]
    assert refused == [dict(r.headers)["ce_id"] for r in again.records]


def test_every_distinct_change_gets_its_own_event_id(store: StateStore):
    """Create, delete and recreate, and an update back to an earlier value, repeat no id."""
    ids = []
    for items, kwargs in [
        (people(1), {}),
        (people(0), {"approve_deletes": True}),
        (people(1), {}),
        (people(1, p0={"email": "b@t.no"}), {}),
        (people(1), {}),
    ]:
        _, pub = run(store, items, **kwargs)
        ids += [dict(r.headers)["ce_id"] for r in pub.records if r.value is not None]
    assert 5 == len(ids) == len(set(ids))


def test_source_failure_is_reported_and_commits_nothing(store: StateStore):
    """A source that fails mid-read fails the run and publishes nothing."""
    publisher = RecordingPublisher()
    runner = SyncRunner(SETTINGS, store, publisher)  # type: ignore[arg-type]
    report = runner.sync("t", "mem", source=MemorySource(people(3), fail_after=2))
    assert ("failed", [], 0) == (report.status, publisher.records, store.count("t", "mem"))
    assert "source went away" in report.error


def test_group_and_person_go_to_their_own_topics(store: StateStore):
    """Each entity type is published on `hub.<domain>.<entity>.v2`."""
    group = Group(
        tenant="t",
        source={"system": "memory", "instance": "mem"},
        key="g1",
        kind=GroupKind.BASE_GROUP,
        name="7A",
    )
    _, pub = run(store, [*people(1), group])
    assert ["hub.identity.person.v2", "hub.identity.group.v2"] == [r.topic for r in pub.records]


def test_fingerprint_ignores_source_modified():
    """A new modification stamp alone does not change the fingerprint."""
    assert fingerprint({"a": 1, "source_modified": "x"}) == fingerprint({"a": 1})
    assert fingerprint({"a": 1}) != fingerprint({"a": 2})


def test_changed_fields_are_sorted_and_skip_source_modified():
    """Changed fields are listed in order and never include source_modified."""
    before = {"a": 1, "b": 2, "source_modified": "x"}
    after = {"a": 1, "b": 3, "c": 4, "source_modified": "y"}
    assert ("b", "c") == changed_fields(before, after)


def test_a_stored_approval_releases_the_next_sync_and_is_used_once(store: StateStore):
    """An operator's approval of a held run lets the next run publish up to those deletions."""
    run(store, people(10))
    held, _ = run(store, people(4))
    approval = store.approve_held_run(held.run_id, "operator")
    assert "operator" == store.runs("t")[0]["approved_by"]

    report, pub = run(store, people(4))
    assert ("success", 6, "operator") == (
        report.status,
        report.deleted,
        store.runs("t")[0]["approved_by"],
    )
    assert 6 == sum(1 for v in pub.values() if v["op"] == "d")
    assert store.open_approval("t", "mem", since=EPOCH) is None
    assert approval.planned_deletes == 6


def test_a_stored_approval_covers_no_more_than_the_deletions_approved(store: StateStore):
    """A later run that would delete more than was approved is held again, and says why."""
    run(store, people(10))
    held, _ = run(store, people(4))
    store.approve_held_run(held.run_id, "operator")
    report, pub = run(store, people(3))
    assert ("held", 7, []) == (report.status, report.planned_deletes, pub.records)
    assert "covers 6 planned deletions, and 1 of this run's are not among them" in report.error
    assert store.open_approval("t", "mem", since=EPOCH) is not None


@pytest.mark.parametrize("status", ["success", "failed"])
def test_only_a_held_run_can_be_approved(store: StateStore, status: str):
    """Approving a run that is not held, or unknown, or by nobody, is refused with a reason."""
    from hub.store import ApprovalError

    report, _ = run(store, people(3))
    if status == "failed":
        store.finish_run(report.run_id, "failed")
    with pytest.raises(ApprovalError, match=f"is {status}, not held"):
        store.approve_held_run(report.run_id, "operator")
    with pytest.raises(ApprovalError, match="no sync run"):
        store.approve_held_run("nope", "operator")
    with pytest.raises(ApprovalError, match="must name who"):
        store.approve_held_run(report.run_id, " ")


def test_only_the_latest_held_run_can_be_approved(store: StateStore):
    """An older held run was superseded; approving it would approve numbers nobody saw last."""
    from hub.store import ApprovalError

    run(store, people(10))
    first, _ = run(store, people(4))
    second, _ = run(store, people(4))
    with pytest.raises(ApprovalError, match=f"{second.run_id} is"):
        store.approve_held_run(first.run_id, "operator")
    assert "operator" == store.approve_held_run(second.run_id, "operator").approved_by


class IncrementalMemorySource(MemorySource):
    """A memory source that reads incrementally: it yields only what the test says changed."""

    supports_incremental = True

    def read(self):  # noqa: ANN201
        self.advance_bookmark("people", datetime(2026, 1, 1, tzinfo=UTC))
        yield from super().read()


def test_an_incremental_run_never_deletes_what_it_did_not_see(store: StateStore):
    """An incremental read of one changed person deletes none of the others; a full read does."""
    runner = SyncRunner(SETTINGS, store, RecordingPublisher())  # type: ignore[arg-type]
    runner.sync("t", "mem", source=IncrementalMemorySource(people(3)), full=True)
    changed = people(3, p1={"email": "new@t.no"})[1:2]
    publisher = RecordingPublisher()
    runner = SyncRunner(SETTINGS, store, publisher)  # type: ignore[arg-type]
    report = runner.sync("t", "mem", source=IncrementalMemorySource(changed), full=False)
    assert ("success", False, 1, 0) == (report.status, report.full, report.updated, report.deleted)
    assert ["u"] == [v["op"] for v in publisher.values()]
    report = runner.sync(
        "t", "mem", source=IncrementalMemorySource(changed), full=True, approve_deletes=True
    )
    assert ("success", 2) == (report.status, report.deleted)
