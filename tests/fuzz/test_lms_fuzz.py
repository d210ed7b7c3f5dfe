"""The LMS connectors (OneRoster 1.2, Graph education, Google Classroom) survive mutated records."""

from tests.fuzz.harnesses import (
    google_classroom_harness,
    graph_education_harness,
    oneroster_harness,
)
from tests.fuzz.suite import fuzz

TestOneRosterFuzz = fuzz(oneroster_harness)
TestGraphEducationFuzz = fuzz(graph_education_harness)
TestGoogleClassroomFuzz = fuzz(google_classroom_harness)
