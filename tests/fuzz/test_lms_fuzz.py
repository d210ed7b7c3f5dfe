"""The LMS connectors (OneRoster, Graph education, Classroom, itslearning, Canvas, Moodle) fuzz."""

from tests.fuzz.harnesses import (
    canvas_harness,
    google_classroom_harness,
    graph_education_harness,
    itslearning_harness,
    moodle_harness,
    oneroster_harness,
)
from tests.fuzz.suite import fuzz

TestOneRosterFuzz = fuzz(oneroster_harness)
TestGraphEducationFuzz = fuzz(graph_education_harness)
TestGoogleClassroomFuzz = fuzz(google_classroom_harness)
TestItslearningFuzz = fuzz(itslearning_harness)
TestCanvasFuzz = fuzz(canvas_harness)
TestMoodleFuzz = fuzz(moodle_harness)
