"""Digital skills keeps each pupil's latest result per objective, as few entries as it can."""

from __future__ import annotations

import itertools
from datetime import date

from hub.followup._state import ResultRow
from hub.followup.measures.learning import _level, _result_for, _Scored, _taking


def result(key: str, on: date | None, objectives: tuple[str, ...], score: float | None = 50.0):
    scores = () if score is not None else tuple((o, 40.0) for o in objectives)
    return ResultRow("lms", key, "p", "c", True, score, 0.0, 100.0, on, objectives, scores)


RESULTS = [
    result("r1", date(2026, 3, 1), ("lms:a", "lms:b")),
    result("r2", date(2026, 4, 1), ("lms:b",), score=None),
    result("r3", date(2026, 2, 1), ("lms:a", "lms:c")),
    result("r4", None, ("lms:d",)),
    result("r0", date(2026, 4, 1), ("lms:b", "lms:d")),  # the same day as r2: keys decide
]


def by_objective(results: list[ResultRow]) -> dict[str, str]:
    """The reference: objective → the key of the latest result carrying it, one at a time."""
    best: dict[str, ResultRow] = {}
    for r in results:
        for o in r.objectives:
            if o not in best or (r.on or date.min, r.key) > (best[o].on or date.min, best[o].key):
                best[o] = r
    return {o: r.key for o, r in best.items()}


def test_each_objective_is_held_by_its_latest_result_in_any_order():
    """Whatever order the results stream in, each objective ends with its latest result."""
    for order in itertools.permutations(RESULTS):
        held: tuple[_Scored, ...] = ()
        for r in order:
            held = _taking(held, _Scored.of(r, r.objectives))
        assert by_objective(list(order)) == {o: s.key for s in held for o in s.objectives}
        assert len({o for s in held for o in s.objectives}) == sum(len(s.objectives) for s in held)
        found = _result_for(held, "b")
        assert found is not None and "r2" == found.key
        assert 0.4 == _level(found, "b")  # no overall score: its score for the objective
    assert {"a": "r1", "b": "r2", "c": "r3", "d": "r0"} == {
        o.removeprefix("lms:"): k for o, k in by_objective(RESULTS).items()
    }
