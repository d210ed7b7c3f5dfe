"""The LMS connectors (OneRoster 1.2, itslearning, Canvas, Moodle) survive mutated records."""

from tests.fuzz.harnesses import (
    canvas_harness,
    itslearning_harness,
    moodle_harness,
    oneroster_harness,
)
from tests.fuzz.suite import fuzz

TestOneRosterFuzz = fuzz(oneroster_harness)
TestItslearningFuzz = fuzz(itslearning_harness)
TestCanvasFuzz = fuzz(canvas_harness)
TestMoodleFuzz = fuzz(moodle_harness)
