"""The fuzz suite every connector joins with one line: bad input never escapes the connector.

In the style of the contract suite (`tests/contract/suite.py`): a connector supplies a
`FuzzHarness` (valid records in its vendor's shape and the real parsing path for one
of them) and joins:

    TestOneRosterFuzz = fuzz(oneroster_harness)

hypothesis then mutates the records (fields removed or null, wrong types, extreme dates,
huge numbers, deep nesting, odd unicode with lone surrogates, invisible keys, identity
numbers and tokens planted in any field), renders each as the vendor's JSON text (so the
bounded page parser sees deep nesting and huge integers as a server would send them),
parses it on the connector's real path and puts every item through the runner's step:
an entity is fingerprinted and encoded, a dead letter's payload encoded as JSON UTF-8
and its reason as a header. It asserts that no exception escapes, nothing hangs, no key
is blank or invisible, and no identity number or secret is in a reason or a payload.

The seed is fixed (`derandomize=True`) and the budget bounded (`EXAMPLES` per connector),
so the suite is reproducible and quick; `STATS` counts what was tried for the summary.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.base import Item, Rejected, Removed
from hub.logging import scrub
from hub.store import DEAD_LETTER
from hub.sync import out_records, stage_change, stage_dead_letter
from schemas.entities import Entity, SourceRef, as_key

#: Mutated records tried per connector (the suite's budget).
EXAMPLES = 300
#: Mutations, dead letters, entities and crashes per connector, for the terminal summary.
STATS: dict[str, Counter[str]] = {}

#: Synthetic identity numbers of each Nordic format (valid check digits or dates).
IDENTITY_NUMBERS = (
    "01890112393",  # NO fødselsnummer, synthetic month + 80
    "41890112393",  # NO D-number shape
    "198112289874",  # SE personnummer, 12 digits
    "811228-9874",  # SE, 10 digits
    "811288+9874",  # SE coordination number, 100 or older
    "010190-1234",  # DK CPR
    "131052-308T",  # FI henkilötunnus
)
SECRETS = (
    "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJmdXp6In0.c2lnbmF0dXJl",
    "Basic aHViOmZ1enotc2VjcmV0",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJmdXp6In0.c2lnbmF0dXJl",
)
#: What a planted secret leaves behind if it leaks (the token's body).
SECRET_MARKS = ("eyJzdWIiOiJmdXp6In0", "aHViOmZ1enotc2VjcmV0")
EXTREME_DATES = (
    "9999-12-31T23:59:59-05:00",
    "0001-01-01T00:00:00+05:00",
    "0001-01-01T00:00:00Z",
    "0999-06-01T00:00:00Z",
    "2025-02-30T00:00:00Z",
    "10000-01-01T00:00:00Z",
    "99991231235959Z",
    "00010101000000Z",
    "-1",
    "",
)
ODD_TEXT = (
    "\ud800",
    "Kari\udfffNordmann",
    "\u00a0",
    "\u200b",
    "\u200f",
    "\ufeff",
    "\t\n",
    "\x00",
    " \u200b\u00a0 ",
    "x" * 600,
    "e\u0301\u0301",
    "\U0001f600",
    "\u202eevil",
)
INVISIBLE_KEYS = ("\u00a0", "\u200b", "\u200f", "\ufeff", "\t\n", "\x00", " ", "")


@dataclass(frozen=True)
class Deep:
    """An array nested `depth` deep, written into the JSON text as brackets."""

    depth: int


@dataclass(frozen=True)
class Huge:
    """An integer of `digits` digits, written into the JSON text as digits."""

    digits: int


HUGE_NUMBERS: tuple[Any, ...] = (Huge(5000), Huge(120), 10**30, -(10**30), 2**64, 1e308, -0.0)
DEEP_VALUES = (Deep(3000), Deep(80), Deep(40))


@dataclass
class FuzzHarness:
    """What the suite needs to know about one connector."""

    #: The connector's name in the summary.
    name: str
    #: Valid records in the vendor's shape: `(what, record)`, `what` telling `parse` which
    #: stream or entry kind it is.
    seeds: Sequence[tuple[str, Any]]
    #: The real parsing path: `parse(what, text_or_record)` → items. HTTP harnesses get the
    #: record as JSON text of the vendor's page; LDAP harnesses get the entry.
    parse: Callable[[str, Any], list[Item | None]]
    #: The fields that hold a record's id, where invisible keys are planted.
    id_fields: tuple[str, ...] = ("id",)
    #: LDAP entries: every value is a list of strings, and there is no JSON text.
    ldap: bool = False
    #: Streams read as lookups for later ones: their records yield no entity.
    lookups: tuple[str, ...] = ("lineItems",)
    stats: Counter[str] = field(default_factory=Counter)


# -- mutations -------------------------------------------------------------------------

Path = tuple[Any, ...]


def _paths(value: Any, prefix: Path = ()) -> list[Path]:
    """Every path below `value` (dict keys and list indices), containers included."""
    found: list[Path] = []
    if isinstance(value, dict):
        for key, item in value.items():
            found.append((*prefix, key))
            found.extend(_paths(item, (*prefix, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.append((*prefix, index))
            found.extend(_paths(item, (*prefix, index)))
    return found


def _set(record: Any, path: Path, value: Any, *, remove: bool = False) -> None:
    parent = record
    for step in path[:-1]:
        parent = parent[step]
    if remove:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value


WRONG_TYPES = st.one_of(
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=True, allow_infinity=False),
    st.booleans(),
    st.text(max_size=4),
    st.lists(st.integers(0, 9), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(0, 9), max_size=2),
)


def _plant(text: str) -> st.SearchStrategy[str]:
    """`text` alone or inside other words."""
    return st.sampled_from((text, f"lærer {text}", f"{text}@x.no", f"uid={text},o=x"))


MUTATIONS: dict[str, st.SearchStrategy[Any]] = {
    "remove": st.just(None),
    "null": st.just(None),
    "wrong_type": WRONG_TYPES,
    "extreme_date": st.sampled_from(EXTREME_DATES),
    "huge_number": st.sampled_from(HUGE_NUMBERS),
    "deep_nesting": st.sampled_from(DEEP_VALUES),
    "odd_unicode": st.sampled_from(ODD_TEXT),
    "identity_number": st.sampled_from(IDENTITY_NUMBERS),
    "token": st.sampled_from(SECRETS),
}
#: Mutations that have no LDAP form (an LDAP value is always text).
_JSON_ONLY = frozenset({"null", "wrong_type", "huge_number", "deep_nesting"})


@dataclass
class Mutated:
    """A seed record after its mutations, and what was planted in it."""

    what: str
    record: Any
    planted: list[str]
    mutations: list[str]


@st.composite
def mutated(draw: st.DrawFn, harness: FuzzHarness) -> Mutated:
    """A seed record with one to three mutations at random places."""
    what, seed = draw(st.sampled_from(list(harness.seeds)))
    record = copy.deepcopy(seed)
    planted: list[str] = []
    names: list[str] = []
    kinds = [k for k in (*MUTATIONS, "invisible_key") if not (harness.ldap and k in _JSON_ONLY)]
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(kinds))
        names.append(kind)
        if kind == "invisible_key":
            ids = [f for f in harness.id_fields if f in record]
            if ids:
                blank = draw(st.sampled_from(INVISIBLE_KEYS))
                record[draw(st.sampled_from(ids))] = [blank] if harness.ldap else blank
            continue
        paths = _paths(record)
        if harness.ldap:  # an entry's attributes, never the list positions inside them
            paths = [p for p in paths if len(p) == 1]
        if not paths:
            continue
        path = draw(st.sampled_from(paths))
        value = draw(MUTATIONS[kind])
        if kind in ("identity_number", "token"):
            planted.append(value)
            value = draw(_plant(value))
        if kind == "remove":
            _set(record, path, None, remove=True)
        else:
            _set(record, path, [value] if harness.ldap else value)
    return Mutated(what, record, planted, names)


def render(value: Any) -> str:
    """JSON text of `value`, `Deep` and `Huge` written as a server would send them."""
    raw: dict[str, str] = {}

    def placeholder(item: Any) -> Any:
        if isinstance(item, Deep | Huge):
            name = f"@@raw{len(raw)}@@"
            raw[name] = (
                "[" * item.depth + "]" * item.depth if isinstance(item, Deep) else "7" * item.digits
            )
            return name
        if isinstance(item, dict):
            return {k: placeholder(v) for k, v in item.items()}
        if isinstance(item, list):
            return [placeholder(v) for v in item]
        return item

    text = json.dumps(placeholder(value))
    for name, replacement in raw.items():
        text = text.replace(json.dumps(name), replacement)
    return text


# -- the runner's step -----------------------------------------------------------------


def _visible_key(key: str | None) -> bool:
    return key is not None and key == as_key(key)


class _Origin:
    """What `out_records` needs of a source: its reference and entity types."""

    def __init__(self, entity_types: tuple[type[Entity], ...]) -> None:
        self.ref = SourceRef(system="fuzz", instance="fuzz")
        self.entity_types = entity_types


def runner_step(item: Item, planted: list[str]) -> str:
    """Stage an item and build its Kafka records with the runner's own code; assert safety."""
    if isinstance(item, Removed):
        assert _visible_key(item.key), "a delete of a blank key"
        return "deletes"
    if isinstance(item, Entity):
        assert _visible_key(item.key), "an entity with a blank or invisible key"
        row = stage_change(item, None, 0)
        types: tuple[type[Entity], ...] = (type(item),)
    elif isinstance(item, Rejected):
        assert item.key is None or _visible_key(item.key), "a dead letter with a blank key"
        row = stage_dead_letter(item, 0)
        types = ()
    else:
        raise AssertionError(f"not an item: {type(item).__name__}")
    assert row is not None, "a first sighting staged nothing"
    (record,) = out_records(
        [row],
        prefix="fuzz",
        tenant="t",
        run_id="r",
        source=_Origin(types),  # type: ignore[arg-type]
    )
    assert record.value is not None
    json.loads(record.value)  # valid JSON, encoded as UTF-8
    if row.op != DEAD_LETTER:
        return "entities"
    headers = [value for _, value in record.headers]
    texts = [json.loads(record.value), *(h.decode("utf-8") for h in headers)]
    assert texts == scrub(texts), "an identity number or secret left in a dead letter"
    blob = b"\n".join([record.value, *headers]).decode("utf-8")
    for value in (*planted, *SECRET_MARKS):
        assert value not in blob, "a planted value reached a dead letter"
    return "dead letters"


# -- the suite ---------------------------------------------------------------------------


class FuzzSuite:
    """What every connector's parsing path must survive; joined through `fuzz(harness)`."""

    harness: FuzzHarness

    def test_seed_records_map_to_entities(self) -> None:
        """The unmutated seeds of every stream give entities (example files may hold a bad one)."""
        found: dict[str, int] = {}
        for what, record in self.harness.seeds:
            text = record if self.harness.ldap else render(record)
            items = [i for i in self.harness.parse(what, text) if i is not None]
            found[what] = found.get(what, 0) + sum(isinstance(i, Entity) for i in items)
        lookups = self.harness.lookups
        assert [] == [what for what, count in found.items() if not count and what not in lookups]

    def test_mutated_records_never_escape_the_connector(self) -> None:
        """No mutated record raises, hangs, yields a blank key or leaks an identity number."""
        harness = self.harness
        stats = STATS.setdefault(harness.name, Counter())

        @settings(
            max_examples=EXAMPLES,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(case=mutated(harness))
        def check(case: Mutated) -> None:
            stats["mutations"] += 1
            text = case.record if harness.ldap else render(case.record)
            try:
                items = harness.parse(case.what, text)
            except Exception:
                stats["crashes"] += 1
                raise
            for item in items:
                if item is not None:
                    stats[runner_step(item, case.planted)] += 1

        check()


def fuzz(factory: Callable[[], FuzzHarness]) -> type:
    """The fuzz suite bound to one connector's harness; assign it to a `Test...` name."""
    harness = factory()
    return pytest.mark.fuzz(
        pytest.mark.timeout(120)(type(f"Fuzz_{harness.name}", (FuzzSuite,), {"harness": harness}))
    )
