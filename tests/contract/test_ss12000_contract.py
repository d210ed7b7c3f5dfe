"""The SS 12000 connector, against the sandbox SS 12000 API, meets the contract."""

from tests.contract.suite import http_contract

TestSS12000Contract = http_contract("ss12000_harness")
