"""The Moodle connector, against the sandbox Moodle web services, meets the contract."""

from tests.contract.suite import unpaged_http_contract

TestMoodleContract = unpaged_http_contract("moodle_harness")
