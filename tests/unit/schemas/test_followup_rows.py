"""Follow-up rows share the set of field names they were given (a snapshot holds many)."""

from __future__ import annotations

from datetime import date

from schemas.followup import StaffCompetence
from schemas.lms import CompetenceArea


def _row(person: str, **changes: object) -> StaffCompetence:
    fields: dict[str, object] = {
        "tenant": "lillevik",
        "key": f"{person}|{CompetenceArea.DIGITAL_DIDACTICS}",
        "as_of": date(2026, 12, 7),
        "person_key": person,
        "role": "teacher",
        "unit_key": "unit-1",
        "area": CompetenceArea.DIGITAL_DIDACTICS,
        "completed": False,
        "last_completed_on": None,
        "required": True,
        "within_months": 24,
        "within_requirement": False,
    }
    return StaffCompetence.model_validate({**fields, **changes})


def test_rows_given_the_same_fields_share_one_set_of_their_names() -> None:
    first, second = _row("p1"), _row("p2")
    assert first.model_fields_set is second.model_fields_set
    assert "source" not in first.model_fields_set
    given_source = _row("p3", source={"system": "skolehub", "instance": "followup"})
    assert "source" in given_source.model_fields_set
    assert "source" not in first.model_fields_set


def test_a_copy_with_changes_leaves_the_shared_names_alone() -> None:
    first, second = _row("p1"), _row("p2")
    copied = first.model_copy(update={"source_modified": None})
    assert "source_modified" in copied.model_fields_set
    assert "source_modified" not in second.model_fields_set
    assert copied.model_fields_set is not first.model_fields_set
