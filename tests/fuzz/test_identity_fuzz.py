"""The identity connectors (Feide LDAP, SS 12000) survive mutated records."""

from tests.fuzz.harnesses import feide_harness, ss12000_harness
from tests.fuzz.suite import fuzz

TestFeideLdapFuzz = fuzz(feide_harness)
TestSS12000Fuzz = fuzz(ss12000_harness)
