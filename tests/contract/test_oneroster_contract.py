"""The OneRoster connector, against the sandbox OneRoster provider, meets the contract."""

from tests.contract.suite import http_contract

TestOneRosterContract = http_contract("oneroster_harness")
#: A OneRoster 1.1 provider without the gradebook service (as Norwegian FINT providers are).
TestOneRosterV1p1Contract = http_contract("oneroster_v1p1_harness")
