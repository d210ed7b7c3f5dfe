"""The Feide LDAP connector, against the sandbox slapd, meets the contract where it applies."""

from tests.contract.suite import contract

TestFeideLdapContract = contract("feide_ldap_harness")
