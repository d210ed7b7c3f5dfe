"""The OS2skoledata connector over HTTP against the sandbox: full read, change log, 409, deletes."""

from __future__ import annotations

import json

import pytest

from connectors.base import Item, Rejected, Removed, RetryPolicy
from connectors.errors import FatalError
from connectors.privacy import national_id_hmac
from hub.dev.sandbox.os2skoledata import TOO_MANY_CHANGES
from hub.settings import parse_settings
from hub.store import StateStore
from hub.sync import SyncRunner
from schemas.entities import Group, Membership, Organisation, Person, Role
from tests.fixtures._web import HMAC_KEY
from tests.fixtures.os2skoledata import OS2skoledataSandbox
from tests.unit.hub.test_sync import RecordingPublisher


def read(sandbox: OS2skoledataSandbox, *, full: bool = True, **extra: object) -> list[Item]:
    """One read of the sandbox, full or incremental (with a bookmark, as the runner gives)."""
    with sandbox.connector(**extra) as source:
        source.full_snapshot = full
        if not full:
            source.bookmarks = {"changes": "2025-09-15T06:00:00.000Z"}
        return list(source.read())


def of(items: list[Item], kind: type) -> list:
    """The items of one entity type."""
    return [i for i in items if isinstance(i, kind)]


def test_a_full_read_yields_every_institution_person_group_and_membership(
    os2skoledata_sandbox: OS2skoledataSandbox,
) -> None:
    """A full read publishes the kommune as the sandbox generated it, with no dead letter."""
    kommune = os2skoledata_sandbox.data.kommune
    items = read(os2skoledata_sandbox)
    memberships = sum(len(set(p.groups)) for p in kommune.persons)
    assert (3, len(kommune.persons), len(kommune.groups), memberships) == (
        len(of(items, Organisation)),
        len(of(items, Person)),
        len(of(items, Group)),
        len(of(items, Membership)),
    )
    assert len(items) == 3 + len(kommune.persons) + len(kommune.groups) + memberships


def test_a_full_read_registers_the_head_as_every_institutions_starting_point(
    os2skoledata_sandbox: OS2skoledataSandbox,
) -> None:
    """After a full read each institution's starting point is the head read before it."""
    data = os2skoledata_sandbox.data
    head = data.head()
    assert head > 0
    read(os2skoledata_sandbox)
    assert {i.database_id: head for i in data.kommune.institutions} == data.heads


def test_the_api_key_travels_in_the_apikey_header(
    os2skoledata_sandbox: OS2skoledataSandbox,
) -> None:
    """A wrong key is refused with 401 by the sandbox, so a read proves the header is right."""
    with pytest.raises(FatalError) as caught:
        read(os2skoledata_sandbox, secret="not-the-key-1234567890")
    assert 401 == caught.value.status


def test_the_cpr_number_becomes_the_danish_hmac_and_is_never_kept(
    os2skoledata_sandbox: OS2skoledataSandbox,
) -> None:
    """Every person carries the DK HMAC of their CPR number, and no entity holds its digits."""
    kommune = os2skoledata_sandbox.data.kommune
    items = read(os2skoledata_sandbox)
    hmacs = {p.key: p.nin_hmac for p in of(items, Person)}
    expected = {
        str(p.database_id): national_id_hmac(HMAC_KEY, "DK", p.cpr) for p in kommune.persons
    }
    assert expected == hmacs
    text = json.dumps([i.model_dump(mode="json") for i in of(items, Person)])
    assert not [p.cpr for p in kommune.persons if p.cpr in text]


def test_protected_people_have_no_names_not_even_their_alias(
    os2skoledata_sandbox: OS2skoledataSandbox,
) -> None:
    """A person with `protected` in the full record is published protected, without names."""
    kommune = os2skoledata_sandbox.data.kommune
    marked = {str(p.database_id): p for p in kommune.persons if p.protected}
    people = {p.key: p for p in of(read(os2skoledata_sandbox), Person)}
    assert marked
    for key, source in marked.items():
        person = people[key]
        assert (True, None, None, None) == (
            person.protected,
            person.given_name,
            person.family_name,
            person.display_name,
        )
        assert person.nin_hmac is not None and person.roles
        assert source.alias_family_name not in json.dumps(person.model_dump(mode="json"))
    assert not any(p.protected for k, p in people.items() if k not in marked)


def test_roles_titles_and_grades_follow_stil(os2skoledata_sandbox: OS2skoledataSandbox) -> None:
    """Lærer teaches, a pædagog is a preschool teacher, BARN is a child, grades hold."""
    kommune = os2skoledata_sandbox.data.kommune
    people = {p.key: p for p in of(read(os2skoledata_sandbox), Person)}
    for source in kommune.persons:
        person = people[str(source.database_id)]

        def title(text: str, source: object = source) -> str | None:
            return None if source.protected else text  # type: ignore[attr-defined]

        if source.student_role == "ELEV":
            assert ((Role.PUPIL,), int(source.level or -1)) == (person.roles, person.grade)
        elif source.student_role == "BARN":
            assert ((Role.CHILD,), None) == (person.roles, person.grade)
        elif source.employee_roles == ["PÆDAGOG"]:
            assert ((Role.PRESCHOOL_TEACHER,), title("Pædagog")) == (person.roles, person.title)
        elif source.employee_roles == ["LÆRER"]:
            assert ((Role.TEACHER,), title("Lærer")) == (person.roles, person.title)
        elif source.employee_roles == ["LEDER"]:
            assert (Role.SCHOOL_LEADER,) == person.roles
        elif source.employee_roles == ["TAP"]:
            assert (Role.ADMINISTRATOR,) == person.roles
        elif source.external_role:
            assert (Role.OTHER,) == person.roles
        assert (str(100 + source.institution),) == person.unit_keys


def test_an_incremental_read_fetches_only_what_the_change_log_names(
    os2skoledata_sandbox: OS2skoledataSandbox,
) -> None:
    """After a full read, a rename and a move are read by id; no institution is read whole."""
    sandbox = os2skoledata_sandbox
    read(sandbox)
    kommune = sandbox.data.kommune
    renamed, moved = kommune.persons[1], kommune.persons[0]  # two pupils of 0.A
    target = next(g for g in kommune.groups if g.name == "5.A" and g.institution == 0)
    sandbox.app.control(
        sandbox.tenant, "rename_person", {"id": renamed.database_id, "first_name": "Ærtebjørn"}
    )
    sandbox.app.control(
        sandbox.tenant, "move_person", {"id": moved.database_id, "group": target.database_id}
    )
    before = sandbox.server.count(sandbox.path("/api/persons"))
    items = read(sandbox, full=False)
    people = {p.key: p for p in of(items, Person)}
    assert {str(renamed.database_id), str(moved.database_id)} == set(people)
    assert "Ærtebjørn" == people[str(renamed.database_id)].given_name
    assert 5 == people[str(moved.database_id)].grade
    assert str(target.database_id) in {m.group_key for m in of(items, Membership)}
    assert before == sandbox.server.count(sandbox.path("/api/persons"))
    assert 3 == len(of(items, Organisation))


def test_deletes_in_the_change_log_become_removed(
    os2skoledata_sandbox: OS2skoledataSandbox,
) -> None:
    """A deleted person and a deleted group come out as `Removed`, and nothing else of theirs."""
    sandbox = os2skoledata_sandbox
    read(sandbox)
    kommune = sandbox.data.kommune
    person = kommune.persons[3]
    group = next(g for g in kommune.groups if g.group_type == "TEAM")
    sandbox.app.control(sandbox.tenant, "delete_person", {"id": person.database_id})
    sandbox.app.control(sandbox.tenant, "delete_group", {"id": group.database_id})
    items = read(sandbox, full=False)
    assert {
        Removed(Person, str(person.database_id)),
        Removed(Group, str(group.database_id)),
    } == set(of(items, Removed))
    assert str(person.database_id) not in {p.key for p in of(items, Person)}


@pytest.mark.parametrize("cause", ["no starting point", "too many changes"])
def test_a_409_from_the_change_log_turns_the_run_into_a_full_read(
    os2skoledata_sandbox: OS2skoledataSandbox, cause: str
) -> None:
    """Without a starting point, or with 10,000 changes, the connector reads in full."""
    sandbox = os2skoledata_sandbox
    read(sandbox)
    if cause == "no starting point":
        sandbox.app.control(sandbox.tenant, "forget_heads", {})
    else:
        sandbox.app.control(sandbox.tenant, "flood", {"institution": 1, "count": TOO_MANY_CHANGES})
    with sandbox.connector() as source:
        source.full_snapshot = False
        source.bookmarks = {"changes": "2025-09-15T06:00:00.000Z"}
        items = list(source.read())
        assert (True, True) == (source.full_snapshot, source.fell_back_to_full)
    assert len(sandbox.data.kommune.persons) == len(of(items, Person))
    head = sandbox.data.head()
    assert {i.database_id: head for i in sandbox.data.kommune.institutions} == sandbox.data.heads


def test_a_server_error_on_the_change_log_is_retried(
    os2skoledata_sandbox: OS2skoledataSandbox,
) -> None:
    """A 503 on `/api/changes/N` is retried like any request; a 400 is fatal at once."""
    sandbox = os2skoledata_sandbox
    read(sandbox)
    waits: list[float] = []
    policy = RetryPolicy(attempts=3, base_delay=0.1, max_delay=1, sleep=waits.append)
    sandbox.server.add_fault(
        vendor="os2skoledata", kind="status", status=503, path="/api/changes/", times=1
    )
    with sandbox.connector(retry=policy) as source:
        source.full_snapshot = False
        source.bookmarks = {"changes": "2025-09-15T06:00:00.000Z"}
        list(source.read())
    assert 1 == len(waits)
    sandbox.server.add_fault(
        vendor="os2skoledata", kind="status", status=400, path="/api/changes/", times=1
    )
    with pytest.raises(FatalError) as caught:
        read(sandbox, full=False)
    assert 400 == caught.value.status


def test_the_runner_publishes_changes_deletes_and_reconciles_after_a_409(
    os2skoledata_sandbox: OS2skoledataSandbox, tmp_path
) -> None:
    """Through the sync runner: full, then changes and deletes, then a 409 read that sweeps."""
    sandbox = os2skoledata_sandbox
    settings = parse_settings(
        {
            "kafka": {"batch_size": 500},
            "tenants": [
                {
                    **sandbox.tenant_entry(),
                    "deletion_guard": {"max_deletes": 100, "max_share": 0.5},
                }
            ],
        }
    )
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    publisher = RecordingPublisher()
    runner = SyncRunner(settings, store, publisher)  # type: ignore[arg-type]

    def sync() -> list[dict]:
        start = len(publisher.records)
        report = runner.sync(sandbox.tenant, "os2skoledata", source=sandbox.connector())
        assert "success" == report.status, report.error
        return [
            {
                "op": json.loads(r.value)["op"],
                "key": str(r.key).rsplit(":", 1)[-1],
                "full": report.full,
            }
            for r in publisher.records[start:]
            if r.value is not None
        ]

    try:
        first = sync()
        assert {"c"} == {e["op"] for e in first} and first[0]["full"]
        kommune = sandbox.data.kommune
        renamed, deleted, vanished = kommune.persons[5], kommune.persons[6], kommune.persons[7]
        sandbox.app.control(
            sandbox.tenant, "rename_person", {"id": renamed.database_id, "first_name": "Søs"}
        )
        sandbox.app.control(sandbox.tenant, "delete_person", {"id": deleted.database_id})
        second = sync()
        assert not second[0]["full"]
        assert ("u", str(renamed.database_id)) in {(e["op"], e["key"]) for e in second}
        assert ("d", str(deleted.database_id)) in {(e["op"], e["key"]) for e in second}
        # Gone without a trace in the log, then the starting points are lost: a 409.
        vanished.deleted = True
        sandbox.app.control(sandbox.tenant, "forget_heads", {})
        third = sync()
        assert third and third[0]["full"]
        deletes = {e["key"] for e in third if e["op"] == "d"}
        assert str(vanished.database_id) in deletes
        assert str(deleted.database_id) not in deletes  # deleted once, by the change log
    finally:
        store.close()


def test_an_institution_that_fails_still_has_its_people_read(
    os2skoledata_sandbox: OS2skoledataSandbox,
) -> None:
    """An institution without a name is a dead letter, but its people and groups are read."""
    sandbox = os2skoledata_sandbox
    sandbox.data.kommune.institutions[0].name = ""
    items = read(sandbox)
    (rejected,) = [i for i in items if isinstance(i, Rejected)]
    assert ("organisation", "100") == (rejected.entity, rejected.key)
    assert len(sandbox.data.kommune.persons) == len(of(items, Person))


def test_an_institution_without_a_number_fails_the_read(
    os2skoledata_sandbox: OS2skoledataSandbox,
) -> None:
    """Without a number an institution's people cannot be read: the read fails, deleting nothing."""
    sandbox = os2skoledata_sandbox
    sandbox.data.kommune.institutions[1].number = ""
    with pytest.raises(FatalError, match="no institution number"):
        read(sandbox)
