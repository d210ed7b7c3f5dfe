"""The follow-up publisher's record values read back with the envelope's one codec."""

from __future__ import annotations

from datetime import date

from hub.followup.publish import _Change, _records
from hub.followup.snapshots import row_json
from schemas.envelope import ChangeEventValue, Op, decode_change
from schemas.followup import Trend


def _trend(value: float) -> Trend:
    day = date(2026, 11, 22)
    return Trend(
        tenant="guldby", key="pupils", as_of=day, measure="pupils", baseline_as_of=day,
        baseline=10, value=value, change=value - 10,
    )  # fmt: skip


def test_published_changes_decode_and_a_delete_is_followed_by_its_tombstone():
    """An update decodes with its changed fields; a delete carries `before`, then a tombstone."""
    before, after = row_json(_trend(10)), row_json(_trend(12))
    batch = [
        _Change("trend", "pupils", Op.UPDATED, "f2", after, before),
        _Change("trend", "pupils", Op.DELETED, "f2", None, after),
    ]
    updated, deleted, tombstone = _records("hub", "guldby", batch)
    assert ChangeEventValue.model_validate(
        {"op": "u", "before": _trend(10).model_dump(mode="json"),
         "after": _trend(12).model_dump(mode="json"), "changed": ["change", "value"]}
    ) == decode_change(updated.value or b"")  # fmt: skip
    assert _trend(12).model_dump(mode="json") == decode_change(deleted.value or b"").entity
    assert (deleted.key, None) == (tombstone.key, tombstone.value)
