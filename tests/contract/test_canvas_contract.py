"""The Canvas connector, against the sandbox Canvas REST API, meets the contract."""

from tests.contract.suite import static_credentials_http_contract

TestCanvasContract = static_credentials_http_contract("canvas_harness")
