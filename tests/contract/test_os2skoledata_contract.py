"""The OS2skoledata connector, against the sandbox OS2skoledata API, meets the contract."""

from tests.contract.suite import contract

TestOS2skoledataContract = contract("os2skoledata_harness")
