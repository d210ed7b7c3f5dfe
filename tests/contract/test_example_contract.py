"""The guide's example connector, against its sandbox app, meets the contract."""

from tests.contract.suite import contract
from tests.unit.connectors.example_connector import example_register_harness  # noqa: F401

TestExampleRegisterContract = contract("example_register_harness")
