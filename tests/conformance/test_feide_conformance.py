"""A Feide directory as the eduPerson and norEdu* schemas and Feide's layouts allow it.

Held to: eduPerson (202001, REFEDS), norEdu* Object Class Specification (Feide, Appendix A)
and the RFC person/organisation classes (OpenLDAP's core, cosine, inetorgperson), in
`vendor/ldap/`. Entries are generated from the object classes' MUST and MAY lists; the
layouts run against the real sandbox slapd.
"""

from __future__ import annotations

from typing import Any

import pytest

from connectors.base import Rejected
from connectors.errors import ConfigError
from connectors.identity.feide_ldap import (
    ORG_ATTRIBUTES,
    PERSON_ATTRIBUTES,
    UNIT_ATTRIBUTES,
    FeideLdap,
    LdapSourceSettings,
)
from schemas.entities import Organisation, Person
from tests.conformance.ldap_schema import DIRECTORY_STRING, DN, LdapSchema, load
from tests.conformance.support import VENDOR

SCHEMA: LdapSchema = load(
    *(
        VENDOR / "ldap" / name
        for name in ("rfc-core.schema", "eduperson-202001.schema", "noredu.schema")
    )
)
#: The classes each kind of entry carries in a Feide directory.
PERSON_CLASSES = ["inetOrgPerson", "eduPerson", "norEduPerson"]
UNIT_CLASSES = ["organizationalUnit", "norEduOrgUnit"]
ORG_CLASSES = ["organization", "eduOrg", "norEduOrg"]
#: Operational attributes (RFC 4512), present on every entry without a class allowing them.
OPERATIONAL = {"modifytimestamp"}
ORG_DN = "o=skotthyll,ou=skotthyll,dc=skolehub,dc=test"
UNIT_DN = "ou=974600005,ou=units,ou=skotthyll,dc=skolehub,dc=test"
#: Values by syntax and by attribute (where the schema says only "a string").
VALUES: dict[str, list[str]] = {
    "eduPersonPrincipalName": ["kari.nordmann@skotthyll.kommune.no"],
    "eduPersonAffiliation": ["faculty", "employee", "member"],
    "eduPersonPrimaryAffiliation": ["faculty"],
    "eduPersonOrgDN": [ORG_DN],
    "eduPersonOrgUnitDN": [UNIT_DN],
    "eduPersonPrimaryOrgUnitDN": [UNIT_DN],
    "eduPersonEntitlement": [
        "urn:mace:feide.no:go:group:u:MAT0010:NO974600005:8a:2026-08-17:2027-06-20:faculty:8A%20matte",
        "urn:mace:feide.no:go:grep:http%3A%2F%2Fpsi.udir.no%2Fkl06%2Faarstrinn8",
    ],
    "norEduPersonNIN": ["01818000444"],
    "norEduOrgNIN": ["NO974600005"],
    "norEduOrgUniqueIdentifier": ["974600005"],
    "norEduOrgUnitUniqueIdentifier": ["NO974600005"],
    "mail": ["kari.nordmann@skotthyll.kommune.no"],
    "title": ["lærer"],
    "businessCategory": ["grunnskole"],
    "modifyTimestamp": ["20261120081530Z"],
}
HMAC_KEY = b"conformance-hmac-key-0123456789"


def value_of(name: str) -> list[str]:
    """A valid value of an attribute: a chosen one, else one fitting its syntax."""
    chosen = {k.lower(): v for k, v in VALUES.items()}
    if name.lower() in chosen:
        return chosen[name.lower()]
    syntax = SCHEMA.syntax(name)
    assert syntax in (DIRECTORY_STRING, DN, None) or syntax.startswith(
        "1.3.6.1.4.1.1466.115.121.1."
    )
    return [UNIT_DN] if syntax == DN else [f"{name} value"]


def entry(classes: list[str], *, full: bool, read: list[str]) -> dict[str, list[str]]:
    """An entry of these classes: MUST attributes only, or every attribute the connector reads."""
    must, may = SCHEMA.allowed(classes)
    names = set(must)
    if full:
        names |= {a.lower() for a in read} & (must | may | OPERATIONAL)
    return {n: value_of(SCHEMA.canonical(n) if n in SCHEMA.attributes else n) for n in names}


def accounts(loaded: Any) -> list[Any]:
    """The generated people who have an entry in the directory."""
    return [p for p in loaded.owner.people() if p.has_feide_account]


def connector(**settings: Any) -> FeideLdap:
    base = {
        "type": "feide_ldap",
        "id": "feide",
        "uri": "ldap://127.0.0.1:1",
        "base_dn": ORG_DN,
        "bind_dn": "cn=reader,dc=skolehub,dc=test",
        "secret": {"env": "UNUSED"},
    }
    return FeideLdap(
        LdapSourceSettings.model_validate({**base, **settings}),
        tenant="skotthyll",
        password="unused",
        hmac_key=HMAC_KEY,
    )


# -- fields ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("read", "classes"),
    [
        (PERSON_ATTRIBUTES, PERSON_CLASSES),
        (UNIT_ATTRIBUTES, UNIT_CLASSES),
        (ORG_ATTRIBUTES, ORG_CLASSES),
    ],
    ids=["person", "unit", "organisation"],
)
def test_every_attribute_read_is_defined_and_allowed_on_its_entry(
    read: list[str], classes: list[str]
):
    """Each attribute the connector asks for is defined, and its entry's classes allow it."""
    must, may = SCHEMA.allowed(classes)
    undefined = [a for a in read if a.lower() not in SCHEMA.attributes | dict.fromkeys(OPERATIONAL)]
    not_allowed = [a for a in read if a.lower() not in must | may | OPERATIONAL]
    assert ([], []) == (undefined, not_allowed)


def test_single_valued_attributes_are_read_as_single_values():
    """Where the schema says SINGLE-VALUE the connector reads one value, never a list it needs."""
    single = {
        SCHEMA.canonical(a)
        for a in PERSON_ATTRIBUTES
        if a.lower() in SCHEMA.attributes and SCHEMA.attributes[a.lower()].single
    }
    assert {
        "eduPersonPrincipalName",
        "eduPersonPrimaryAffiliation",
        "eduPersonOrgDN",
        "eduPersonPrimaryOrgUnitDN",
        "norEduPersonNIN",
    } <= single


# -- generated entries --------------------------------------------------------------------


def test_a_maximal_person_maps_to_a_person_with_groups():
    """An entry with every attribute its classes allow and the connector reads maps in full."""
    attrs = entry(PERSON_CLASSES, full=True, read=PERSON_ATTRIBUTES)
    items = connector().person_items(
        "uid=kari,ou=people", attrs, {UNIT_DN.lower(): "NO974600005"}, set()
    )
    assert not [i for i in items if isinstance(i, Rejected)], items
    (person,) = [i for i in items if isinstance(i, Person)]
    assert ("NO974600005", 8) == (person.primary_unit_key, person.grade)


def test_a_minimal_person_is_a_dead_letter_naming_the_key():
    """Only the MUST attributes (cn, sn): the hub needs an eppn as key, and says so."""
    attrs = entry(PERSON_CLASSES, full=False, read=PERSON_ATTRIBUTES)
    assert {"cn", "sn"} == set(attrs)
    (rejected,) = connector().person_items("uid=kari,ou=people", attrs, {}, set())
    assert isinstance(rejected, Rejected)
    assert "eduPersonPrincipalName is missing" in rejected.reason


@pytest.mark.parametrize(
    "left_out",
    sorted({a for a in PERSON_ATTRIBUTES} - {"eduPersonPrincipalName", "givenName", "sn", "cn"}),
)
def test_any_optional_person_attribute_may_be_absent(left_out: str):
    """Leaving out one MAY attribute (not the key, not a name Feide requires) keeps the person."""
    attrs = entry(PERSON_CLASSES, full=True, read=PERSON_ATTRIBUTES)
    attrs.pop(left_out.lower(), None)
    items = connector().person_items(
        "uid=kari,ou=people", attrs, {UNIT_DN.lower(): "NO974600005"}, set()
    )
    assert [Person] == [type(i) for i in items if isinstance(i, (Person, Rejected))]


def test_the_organisation_number_comes_from_noreduorgnin():
    """`norEduOrgNIN` (NO + nine digits) fills org_number, with no norEduOrgUniqueIdentifier."""
    attrs = {"o": ["skotthyll"], "noreduorgnin": ["NO974600005"], "edulegalname": ["Skotthyll"]}
    owner = connector()._owner(ORG_DN, attrs)
    assert isinstance(owner, Organisation)
    assert ("NO974600005", "974600005") == (owner.key, owner.org_number)


@pytest.mark.parametrize(
    "left_out", ["norEduOrgNIN", "norEduOrgUniqueIdentifier", "eduOrgLegalName"]
)
def test_an_organisation_keeps_its_number_with_either_identifier(left_out: str):
    """Either of the two identifiers is enough for the owner's key and number."""
    attrs = entry(ORG_CLASSES, full=True, read=ORG_ATTRIBUTES)
    attrs.pop(left_out.lower())
    owner = connector()._owner(ORG_DN, attrs)
    assert "974600005" == owner.org_number


# -- layouts, against slapd ---------------------------------------------------------------


def _ldap(loaded: Any, **settings: Any) -> FeideLdap:
    server = loaded.server
    values = {
        "type": "feide_ldap",
        "id": "feide",
        "uri": server.uri,
        "base_dn": loaded.base_dn,
        "bind_dn": server.reader_dn,
        "secret": {"env": "UNUSED"},
        **settings,
    }
    return FeideLdap(
        LdapSourceSettings.model_validate(values),
        tenant=loaded.owner.tenant,
        password=server.reader_password,
        hmac_key=HMAC_KEY,
    )


@pytest.fixture
def flat(directory_factory: Any) -> Any:
    """A tenant whose units and people sit beside its organisation entry."""
    return directory_factory(scale=40, flat=True)


def test_a_flat_directory_read_from_the_organisation_entry_fails_saying_where_to_look(flat: Any):
    """base_dn at the organisation and nothing below it: check and read fail, naming search_base."""
    with _ldap(flat) as source:
        with pytest.raises(ConfigError, match="no people under .*search_base"):
            source.check()
        with pytest.raises(ConfigError, match="no people"):
            list(source.read())


def test_a_flat_directory_read_from_its_suffix_finds_the_organisation_units_and_people(flat: Any):
    """base_dn at the common container: check passes and the read finds everyone."""
    with _ldap(flat, base_dn=flat.search_base) as source:
        source.check()
        items = list(source.read())
        notes = source.notes
    people = [i for i in items if isinstance(i, Person)]
    orgs = [i for i in items if isinstance(i, Organisation)]
    assert len(accounts(flat)) == len(people)
    assert 1 + len(flat.owner.units) == len(orgs)
    assert f"{len(flat.owner.units)} units and {len(people)} people" in notes[-1]


def test_a_flat_directory_with_a_search_base_reads_people_beside_the_organisation(flat: Any):
    """base_dn at the organisation, search_base at the container: the read is complete."""
    with _ldap(flat, search_base=flat.search_base) as source:
        items = list(source.read())
    assert len(accounts(flat)) == sum(isinstance(i, Person) for i in items)


def test_people_of_another_organisation_under_the_same_suffix_are_left_out(directory_factory: Any):
    """Two flat tenants read from the shared suffix: each keeps its own people (eduPersonOrgDN)."""
    first = directory_factory(scale=30, flat=True)
    second = directory_factory(scale=30, flat=True)
    with _ldap(first, search_base=first.server.suffix) as source:
        items = list(source.read())
        notes = source.notes
    people = [i for i in items if isinstance(i, Person)]
    orgs = [i for i in items if isinstance(i, Organisation)]
    assert {p.eppn for p in people} == {p.eppn for p in accounts(first)}
    assert 1 + len(first.owner.units) == len(orgs)
    assert f"{len(first.owner.units)} units and {len(people)} people" in notes[-1]
    assert "people of other organisations left out" in notes[-1]
    assert not {u.feide_id for u in second.owner.units} & {o.key for o in orgs}


def test_the_nested_sandbox_layout_still_reads(directory: Any):
    """The nested layout (people below the organisation) reads as before, and is reported."""
    with _ldap(directory) as source:
        source.check()
        assert "people under" in source.notes[-1]
