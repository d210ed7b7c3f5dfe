"""The SS 12000 connector, against the sandbox SS 12000 API, meets the contract."""

from tests.contract.suite import http_contract

TestSS12000Contract = http_contract("ss12000_harness")
#: A register that serves only what the standard requires (no `meta` on people, groups...).
TestSS12000SparseContract = http_contract("ss12000_sparse_harness")
