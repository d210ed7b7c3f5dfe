"""The fault suite's own checker, on hand-made records: it must catch what it claims to."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.faults.convergence import compare, fold, invented_deletes, unrecognisable_duplicates
from tests.support import Record

pytestmark = pytest.mark.faults

TOPIC = "t.identity.person.v2"
_offsets = iter(range(10_000))


def event(key: str, op: str, name: str, ce_id: str) -> Record:
    """A change event of a person with one field."""
    body = {"key": key, "given_name": name}
    value = {"op": op, "before": body if op == "d" else None, "after": None if op == "d" else body}
    return Record(
        TOPIC,
        f"t:src:person:{key}",
        json.dumps(value).encode(),
        {"ce_id": ce_id.encode()},
        0,
        next(_offsets),
    )


def tombstone(key: str) -> Record:
    """The null value that follows a delete."""
    return Record(TOPIC, f"t:src:person:{key}", None, {}, 0, next(_offsets))


def person(name: str) -> dict[str, Any]:
    """A person's compared fields."""
    return {"given_name": name, "family_name": None, "email": None}


def test_fold_keeps_the_latest_value_and_drops_tombstoned_keys() -> None:
    """The fold holds each key's latest value; a delete with its tombstone removes the key."""
    records = [
        event("a", "c", "Ann", "1"),
        event("b", "c", "Bo", "2"),
        event("a", "u", "Anna", "3"),
        event("b", "d", "Bo", "4"),
        tombstone("b"),
    ]

    assert {"person": {"a": person("Anna")}} == fold(records)


def test_compare_names_missing_extra_and_different_entities() -> None:
    """Keys only in the source, only on the topics, and differing fields are each reported."""
    folded = {"person": {"a": person("Ann"), "x": person("X")}}
    source = {"person": {"a": person("Anna"), "b": person("Bo")}}

    verdict = compare(folded, source)

    assert ([("person", "b")], [("person", "x")]) == (verdict.missing, verdict.extra)
    assert [("person", "a")] == [d[:2] for d in verdict.different]
    assert not verdict.converged


def test_a_republish_with_the_same_id_is_recognisable_and_with_another_is_not() -> None:
    """Twins sharing a ce_id pass; a twin with a new id is reported."""
    same = [event("a", "c", "Ann", "1"), event("a", "c", "Ann", "1")]
    other = [event("a", "c", "Ann", "1"), event("a", "c", "Ann", "9")]

    assert [] == unrecognisable_duplicates(same)
    assert [("republished with another ce_id", "t:src:person:a")] == unrecognisable_duplicates(
        other
    )


def test_an_id_reused_for_a_recreate_is_reported() -> None:
    """Create, delete, create again with the first create's id: two changes, one id."""
    records = [
        event("a", "c", "Ann", "1"),
        event("a", "d", "Ann", "2"),
        tombstone("a"),
        event("a", "c", "Ann", "1"),
    ]

    assert 1 == len(unrecognisable_duplicates(records))


def test_a_delete_of_an_entity_still_in_the_source_is_invented() -> None:
    """A `d` for a key the source holds is reported; one for a vanished key is not."""
    records = [event("a", "d", "Ann", "1"), tombstone("a"), event("b", "d", "Bo", "2")]

    assert [("person", "a")] == invented_deletes(records, {"person": {"a": person("Ann")}})
