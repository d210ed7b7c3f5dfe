"""The native LMS connectors, against their sandbox platforms, meet the contract."""

from tests.contract.suite import http_contract

TestGraphEducationContract = http_contract("graph_education_harness")
TestGoogleClassroomContract = http_contract("google_classroom_harness")
