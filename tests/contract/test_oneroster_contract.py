"""The OneRoster connector, against the sandbox OneRoster provider, meets the contract."""

from tests.contract.suite import http_contract

TestOneRosterContract = http_contract("oneroster_harness")
