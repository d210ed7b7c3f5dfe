"""The LMS connector (OneRoster 1.2) survives mutated records."""

from tests.fuzz.harnesses import oneroster_harness
from tests.fuzz.suite import fuzz

TestOneRosterFuzz = fuzz(oneroster_harness)
