"""The Apple School Manager connector, against the sandbox API, meets the contract."""

from tests.contract.suite import http_contract

TestAppleSchoolManagerContract = http_contract("apple_school_manager_harness")
