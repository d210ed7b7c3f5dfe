"""The itslearning connector, against the sandbox Data Warehouse API, meets the contract."""

from tests.contract.suite import static_credentials_http_contract

TestItslearningContract = static_credentials_http_contract("itslearning_harness")
