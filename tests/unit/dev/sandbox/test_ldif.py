import base64
import io

import pytest

from hub.dev.sandbox.ldif import (
    LINE_WIDTH,
    escape_rdn_value,
    format_entry,
    owner_entries,
    parse_ldif,
    person_dn,
    tenant_dn,
    unit_dn,
    write_ldif,
)
from hub.dev.sandbox.population import Role, generate

SUFFIX = "dc=skolehub,dc=test"


@pytest.fixture(scope="module")
def owner():
    return generate("skotthyll", 250)


@pytest.fixture(scope="module")
def text(owner):
    buffer = io.StringIO()
    write_ldif(buffer, [owner])
    return buffer.getvalue()


@pytest.fixture(scope="module")
def records(text):
    return list(parse_ldif(io.StringIO(text)))


def test_dit_layout(owner, records):
    """Suffix, tenant, units container, units, people container, then people, in that order."""
    base = f"o=skotthyll,{SUFFIX}"
    expected = [SUFFIX, base, f"ou=units,{base}"]
    expected += [f"ou={u.org_number},ou=units,{base}" for u in owner.units]
    expected += [f"ou=people,{base}"]
    expected += [f"uid={p.username},ou=people,{base}" for p in owner.people(include_children=False)]
    assert expected == [dn for dn, _ in records]


def test_tenant_entry(owner, records):
    """The tenant entry is an organization, eduOrg and norEduOrg with the owner's numbers."""
    attributes = dict(records)[tenant_dn("skotthyll")]
    assert ["top", "organization", "eduOrg", "norEduOrg"] == attributes["objectClass"]
    assert [owner.org_number] == attributes["norEduOrgUniqueIdentifier"]
    assert [f"NO{owner.org_number}"] == attributes["norEduOrgNIN"]
    assert ["Skotthyll kommune"] == attributes["eduOrgLegalName"]
    assert ["https://www.skotthyll.kommune.no"] == attributes["eduOrgHomePageURI"]


def test_unit_entries(owner, records):
    """Unit entries carry the org number, name, Feide id, level and grade range."""
    entries = dict(records)
    for unit in owner.units:
        attributes = entries[unit_dn("skotthyll", unit.org_number)]
        assert [unit.org_number] == attributes["ou"]
        assert [unit.name] == attributes["cn"]
        assert [f"NO{unit.org_number}"] == attributes["norEduOrgUnitUniqueIdentifier"]
        assert [unit.level.value] == attributes["businessCategory"]
        assert ([unit.grade_range] if unit.grades else None) == attributes.get("description")


def test_person_entry_matches_the_person(owner, records):
    """A person's entry carries every attribute the connector reads, decoded to the source."""
    entries = dict(records)
    teacher = next(p for p in owner.people() if p.role is Role.TEACHER and p.memberships)
    attributes = entries[person_dn("skotthyll", teacher.username)]
    units = [unit_dn("skotthyll", org) for org in teacher.unit_org_numbers]
    assert {
        "objectClass": [
            "person",
            "organizationalPerson",
            "inetOrgPerson",
            "eduPerson",
            "norEduPerson",
        ],
        "uid": [teacher.username],
        "cn": [teacher.full_name],
        "sn": [teacher.family_name],
        "givenName": [teacher.given_name],
        "displayName": [teacher.full_name],
        "norEduPersonLegalName": [teacher.full_name],
        "mail": [teacher.mail],
        "userPassword": [teacher.password],
        "title": ["lærer"],
        "eduPersonPrincipalName": [teacher.eppn],
        "eduPersonAffiliation": ["faculty", "employee", "member"],
        "eduPersonPrimaryAffiliation": ["faculty"],
        "eduPersonOrgDN": [tenant_dn("skotthyll")],
        "eduPersonOrgUnitDN": units,
        "eduPersonPrimaryOrgUnitDN": units[:1],
        "norEduPersonNIN": [teacher.nin],
        "eduPersonEntitlement": list(teacher.entitlements),
    } == attributes


def test_non_ascii_values_are_base64(text):
    """Values with æ, ø or å are written as `attr:: base64`, never raw."""
    assert text.isascii()
    encoded = base64.b64encode("lærer".encode()).decode()
    assert f"title:: {encoded}\n" in text


def test_ascii_values_are_plain(text, owner):
    """Plain ASCII values are written as `attr: value`."""
    assert f"eduPersonPrincipalName: {next(owner.people()).eppn}\n" in text


def test_long_lines_are_folded(text):
    """No physical line is longer than 76 characters; continuation lines start with a space."""
    lines = text.splitlines()
    assert LINE_WIDTH == max(len(line) for line in lines)
    assert any(line.startswith(" ") for line in lines)


@pytest.mark.parametrize("value", [" leading space", ":colon", "<angle", "trailing ", "a\nb"])
def test_unsafe_ascii_values_are_base64(value):
    """Values that are not RFC 2849 safe strings are base64-encoded."""
    encoded = base64.b64encode(value.encode()).decode()
    expected = f"dn: cn=x\ndescription:: {encoded}\n\n"
    assert expected == format_entry("cn=x", [("description", value)])


def test_round_trip_gives_back_every_entry(owner, records):
    """Parsing the written LDIF gives the entries that were written, values decoded."""
    expected = []
    for dn, attributes in owner_entries(owner):
        values: dict[str, list[str]] = {}
        for name, value in attributes:
            values.setdefault(name, []).append(value)
        expected.append((dn, values))
    assert expected == records[1:]


def test_round_trip_of_a_folded_base64_dn():
    """A long non-ASCII DN survives base64 and folding."""
    dn = "cn=Bjørn Ødegård Kvåle Sæther Hætta Strøm Sørli Nærland Østby,ou=people,o=bærum," + SUFFIX
    text = format_entry(dn, [("cn", "Bjørn")])
    assert text.startswith("dn:: ")
    assert [(dn, {"cn": ["Bjørn"]})] == list(parse_ldif(io.StringIO(text)))


def test_children_are_left_out_by_default(owner):
    """Preschool children are written only with include_children=True."""
    default, with_children = io.StringIO(), io.StringIO()
    left_out = write_ldif(default, [owner])
    included = write_ldif(with_children, [owner], include_children=True)
    assert owner.person_count == left_out.people
    assert owner.person_count + owner.child_count == included.people
    assert "eduPersonAffiliation: affiliate" in with_children.getvalue()
    assert "eduPersonAffiliation: affiliate" not in default.getvalue()


def test_suffix_can_be_left_out(owner):
    """include_suffix=False starts with the tenant entry."""
    buffer = io.StringIO()
    stats = write_ldif(buffer, [owner], include_suffix=False)
    first = next(parse_ldif(io.StringIO(buffer.getvalue())))
    assert tenant_dn("skotthyll") == first[0]
    assert stats.entries == len(list(parse_ldif(io.StringIO(buffer.getvalue()))))


def test_writes_several_owners_to_a_path(tmp_path):
    """Two tenants go into one file under the same suffix."""
    path = tmp_path / "two.ldif"
    stats = write_ldif(path, [generate("lade", 60), generate("tiller", 60)])
    dns = [dn for dn, _ in parse_ldif(path.read_text(encoding="utf-8").splitlines())]
    assert [SUFFIX] == [dn for dn in dns if dn == SUFFIX]
    assert {tenant_dn("lade"), tenant_dn("tiller")} <= set(dns)
    assert stats.entries == len(dns)


def test_faulty_people_are_written(tmp_path):
    """Malformed records still make valid LDIF (slapd must accept them)."""
    owner = generate("feil", 400, faults=True)
    records = dict(parse_ldif(io.StringIO(_ldif(owner))))
    faulty = {p.fault: p for p in owner.people() if p.fault}
    missing = records[person_dn("feil", faulty["given_name_missing"].username)]
    assert "givenName" not in missing
    bare = records[person_dn("feil", faulty["eppn_without_realm"].username)]
    assert [faulty["eppn_without_realm"].username] == bare["eduPersonPrincipalName"]


@pytest.mark.parametrize(
    ("value", "escaped"),
    [
        ("plain", "plain"),
        ("a,b", "a\\,b"),
        (" lead", "\\ lead"),
        ("#x", "\\#x"),
        ("trail ", "trail\\ "),
        ('q"+;<>=\\', 'q\\"\\+\\;\\<\\>\\=\\\\'),
    ],
)
def test_escape_rdn_value(value, escaped):
    """RDN values are escaped per RFC 4514."""
    assert escaped == escape_rdn_value(value)


def test_parser_rejects_change_records():
    """Change records are not content and are refused."""
    with pytest.raises(ValueError, match="change records"):
        list(parse_ldif(["dn: cn=x", "changetype: delete", ""]))


def test_parser_skips_version_and_comments():
    """A version line and comment lines are ignored."""
    lines = ["version: 1", "", "# a comment", "dn: cn=x", "cn: x", ""]
    assert [("cn=x", {"cn": ["x"]})] == list(parse_ldif(lines))


def _ldif(owner) -> str:
    buffer = io.StringIO()
    write_ldif(buffer, [owner])
    return buffer.getvalue()
