"""Packed rows: a record's rows held as their values, read back as the rows they were."""

from __future__ import annotations

from datetime import date

import pytest

from hub.followup.snapshots import PackedRows, row_json
from schemas.followup import CourseLevel, CourseParticipation, StaffCompetence
from schemas.lms import CompetenceArea


def _staff(person: str, completed: bool, **changes: object) -> StaffCompetence:
    return StaffCompetence.model_validate(
        {
            "tenant": "lillevik",
            "key": f"{person}|{CompetenceArea.INFORMATION_SECURITY}",
            "as_of": date(2026, 12, 7),
            "person_key": person,
            "role": "teacher",
            "unit_key": "unit-1",
            "area": CompetenceArea.INFORMATION_SECURITY,
            "completed": completed,
            "last_completed_on": date(2026, 3, 1) if completed else None,
            "required": True,
            "within_months": 24,
            "within_requirement": completed,
            **changes,
        }
    )


def test_rows_read_back_equal_the_rows_packed_and_write_the_same_json() -> None:
    rows = [
        _staff("p2", True),
        _staff("p1", False, unit_key=None),
        _staff("p3", True, source={"system": "skolehub", "instance": "followup"}),
    ]
    packed = PackedRows(StaffCompetence, rows)
    assert len(packed) == 3
    assert list(packed) == rows
    assert packed == rows and rows == packed
    assert [row_json(r) for r in packed] == [row_json(r) for r in rows]
    assert [r.model_fields_set for r in packed] == [r.model_fields_set for r in rows]
    assert packed[1] == rows[1] and packed[-1] == rows[-1]
    assert packed[1:] == rows[1:]
    assert packed != rows[:2]
    assert packed != [rows[0], rows[2], rows[1]]


def test_packed_rows_sort_by_key_without_unpacking_and_keep_the_original() -> None:
    packed = PackedRows(StaffCompetence, [_staff("p2", True), _staff("p1", False)])
    ordered = packed.sorted_by_key()
    assert isinstance(ordered, PackedRows)
    assert [r.person_key for r in ordered] == ["p1", "p2"]
    assert [r.person_key for r in packed] == ["p2", "p1"]


def test_a_row_of_another_record_is_refused() -> None:
    other = CourseParticipation(
        tenant="lillevik",
        key="course|lms/a|c1",
        as_of=date(2026, 12, 7),
        level=CourseLevel.COURSE,
        lms_source="lms/a",
        course_key="c1",
        course_title=None,
        class_key=None,
        class_title=None,
        unit_key=None,
        competence_areas=(),
        students=0,
        teachers=0,
        others=0,
        completed=0,
        completion_rate=None,
    )
    packed = PackedRows(StaffCompetence)
    with pytest.raises(TypeError, match="CourseParticipation row among StaffCompetence rows"):
        packed.append(other)  # type: ignore[arg-type]
    assert len(packed) == 0
