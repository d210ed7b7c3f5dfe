from dataclasses import replace

import pytest

from hub.store import Staged, StateStore


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path) -> StateStore:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'hub.db'}"
    else:
        url = request.getfixturevalue("fresh_postgres_url")
    s = StateStore(url)
    yield s
    s.close()


def staged(seq: int, key: str, op: str = "c", fp: str = "f1") -> Staged:
    return Staged(seq, "person", key, op, fp, '{"k": 1}' if op != "d" else None, None, ())


def test_apply_advances_state_and_drops_staging(store: StateStore):
    """Applying an acknowledged batch stores fingerprints and empties the staged rows."""
    store.begin_run("r1", "t", "s", True)
    store.stage("r1", [staged(0, "a"), staged(1, "b")], [("person", "a"), ("person", "b")])
    (batch,) = list(store.staged("r1", 10))
    store.apply("r1", "t", "s", batch)
    assert {"a", "b"} == set(store.lookup("t", "s", "person", ["a", "b", "c"]))
    assert [] == list(store.staged("r1", 10))
    assert 2 == store.count("t", "s")


def test_unseen_lists_known_entities_the_run_did_not_see(store: StateStore):
    """Entities in the state but not marked seen by this run are the delete candidates."""
    store.begin_run("r1", "t", "s", True)
    store.stage("r1", [staged(0, "a"), staged(1, "b")], [])
    store.apply("r1", "t", "s", next(store.staged("r1", 10)))
    store.begin_run("r2", "t", "s", True)
    store.stage("r2", [], [("person", "a")])
    assert ["b"] == [key for key, _ in store.unseen("r2", "t", "s", "person")]


def test_staged_rows_come_back_in_order_in_batches(store: StateStore):
    """Staged rows are read back in sequence, a batch at a time."""
    store.begin_run("r1", "t", "s", True)
    store.stage("r1", [staged(i, f"k{i}") for i in range(5)], [])
    batches = list(store.staged("r1", 2))
    assert [["k0", "k1"], ["k2", "k3"], ["k4"]] == [[r.key for r in b] for b in batches]


def test_delete_removes_state(store: StateStore):
    """An applied delete removes the entity from the state."""
    store.begin_run("r1", "t", "s", True)
    store.stage("r1", [staged(0, "a")], [])
    store.apply("r1", "t", "s", next(store.staged("r1", 10)))
    store.begin_run("r2", "t", "s", True)
    store.stage("r2", [staged(0, "a", "d")], [])
    store.apply("r2", "t", "s", next(store.staged("r2", 10)))
    assert 0 == store.count("t", "s")


def test_a_new_run_leaves_another_runs_staging_alone(store: StateStore):
    """Beginning a run never touches what another run of the source staged or saw."""
    store.begin_run("r1", "t", "s", True)
    store.stage("r1", [staged(0, "a")], [("person", "a")])
    store.begin_run("r2", "t", "s", True)
    assert [["a"]] == [[r.key for r in b] for b in store.staged("r1", 10)]
    assert [] == [key for key, _ in store.unseen("r1", "t", "s", "person")]


def test_a_dead_runs_staging_is_in_doubt_until_closed(store: StateStore):
    """A run that never finished is listed in doubt; closing it drops what it staged."""
    store.begin_run("r1", "t", "s", True)
    store.stage("r1", [staged(0, "a")], [])
    store.set_phase("r1", "publishing")
    store.begin_run("r2", "t", "s", True)
    (dead,) = store.in_doubt_runs("t", "s", exclude="r2")
    assert ("r1", "running", "publishing") == (dead.run_id, dead.status, dead.phase)
    store.close_dead_run("r1", "gone")
    assert ([], "crashed") == (store.in_doubt_runs("t", "s", "r2"), store.runs("t")[1]["status"])


def test_a_deleted_key_keeps_its_version(store: StateStore):
    """After a delete the store still knows the key's version, so a recreate counts on."""
    store.begin_run("r1", "t", "s", True)
    store.stage(
        "r1", [replace(staged(0, "a"), version=1), replace(staged(1, "a", "d"), version=2)], []
    )
    store.apply("r1", "t", "s", next(store.staged("r1", 10)))
    known = store.lookup("t", "s", "person", ["a"])["a"]
    assert (False, 2) == (known.live, known.version)


def test_runs_record_their_outcome(store: StateStore):
    """finish_run stores status and counts, listed newest first."""
    store.begin_run("r1", "t", "s", True)
    store.finish_run("r1", "held", planned_deletes=7, entities_before=10)
    (run,) = store.runs("t")
    assert ("held", 7, 10) == (run["status"], run["planned_deletes"], run["entities_before"])


def test_tables_created_meanwhile_by_another_process_are_not_an_error(tmp_path):
    """Between the existence check and CREATE TABLE another task creates the table: fine."""
    import sqlalchemy as sa

    from hub.store import create_tables, sync_runs

    url = f"sqlite:///{tmp_path / 'race.db'}"
    engine, other = sa.create_engine(url), sa.create_engine(url)
    raced = []

    def create_it_first(table, connection, **kw):
        if not raced:
            raced.append(table.name)
            table.create(other)  # the other task wins the race

    sa.event.listen(sync_runs, "before_create", create_it_first)
    try:
        create_tables(engine, [sync_runs])
    finally:
        sa.event.remove(sync_runs, "before_create", create_it_first)
        other.dispose()
    assert ["sync_runs"] == raced
    assert sa.inspect(engine).has_table("sync_runs")
    engine.dispose()
