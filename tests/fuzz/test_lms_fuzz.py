"""The LMS connectors (OneRoster 1.2, itslearning) survive mutated records."""

from tests.fuzz.harnesses import itslearning_harness, oneroster_harness
from tests.fuzz.suite import fuzz

TestOneRosterFuzz = fuzz(oneroster_harness)
TestItslearningFuzz = fuzz(itslearning_harness)
