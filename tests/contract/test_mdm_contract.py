"""The MDM connectors, against the sandbox Graph, Jamf Pro and Google, meet the contract."""

from tests.contract.suite import http_contract

TestIntuneContract = http_contract("intune_harness")
TestJamfContract = http_contract("jamf_harness")
TestGoogleChromeosContract = http_contract("google_chromeos_harness")
