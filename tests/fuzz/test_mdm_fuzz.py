"""The MDM connectors (Intune, Jamf Pro, Google ChromeOS) survive mutated records."""

from tests.fuzz.harnesses import google_chromeos_harness, intune_harness, jamf_harness
from tests.fuzz.suite import fuzz

TestIntuneFuzz = fuzz(intune_harness)
TestJamfFuzz = fuzz(jamf_harness)
TestGoogleChromeosFuzz = fuzz(google_chromeos_harness)
