"""The Canvas connector against the Canvas REST API's published objects."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, get_args

import pytest
from pydantic import BaseModel

from connectors.lms import canvas

DOCUMENT = json.loads((Path(__file__).parent / "vendor" / "canvas" / "objects.json").read_text())
OBJECTS = DOCUMENT["objects"]
#: Raw model → the published object it reads.
MODELS: dict[str, type[BaseModel]] = {
    "Account": canvas._Account,
    "User": canvas._User,
    "Course": canvas._Course,
    "Enrollment": canvas._Enrollment,
    "CourseProgress": canvas._ProgressFigures,
    "OutcomeResult": canvas._OutcomeResult,
}
TYPES = {"integer": {"int"}, "string": {"str"}, "datetime": {"datetime"}, "number": {"float"}}
#: Read beyond the published objects: `possible` and `mastery` (older outcome results),
#: the bulk progress row's user `id` and `progress`, and the course the connector notes.
BEYOND = {"possible", "mastery", "course"}


def _names(annotation: Any) -> set[str]:
    return {getattr(a, "__name__", str(a)) for a in get_args(annotation) or (annotation,)}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_field_read_is_published_with_a_compatible_type(name: str) -> None:
    """Each raw field is a property of the published object, of a compatible type."""
    published = OBJECTS[name]
    for field, info in MODELS[name].model_fields.items():
        if field in BEYOND:
            assert not info.is_required() or field == "course", field
            continue
        assert field in published, f"{name}.{field} is not published"
        kind = published[field]
        if isinstance(kind, str):
            assert TYPES[kind] & _names(info.annotation), (name, field, kind)


def test_every_published_enrollment_type_is_mapped() -> None:
    """Student, teacher, TA, designer and observer enrolments each have a hub role."""
    assert set(OBJECTS["Enrollment.type"]) == set(canvas.ENROLLMENT_TYPES)


def test_the_legacy_throttling_body_is_recognised() -> None:
    """The 403 body Canvas sends when throttling is the text the connector looks for."""
    assert canvas.RATE_LIMIT_TEXT in DOCUMENT["throttling"]["legacy_403_body"]
