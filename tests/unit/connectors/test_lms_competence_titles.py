"""Platforms without course tags (itslearning, Canvas, Moodle) find competence areas in titles."""

from __future__ import annotations

import pytest

from connectors.lms._common import competence_areas
from schemas.lms import CompetenceArea


@pytest.mark.parametrize(
    "title",
    [
        "Læringsplattformen i praksis – Fjellheim skole",
        "Lärplattformen i praktiken – Solbergaskolan",
        "Læringsplatformen og digitale læremidler i praksis – Søhavn Skole",
    ],
)
def test_a_learning_platform_course_title_names_its_area(title: str) -> None:
    """The definite form (Swedish `Lärplattformen`, as its sandbox course is titled) counts too."""
    assert (CompetenceArea.LEARNING_PLATFORMS,) == competence_areas((), (title, "KOMP-LMS"))
