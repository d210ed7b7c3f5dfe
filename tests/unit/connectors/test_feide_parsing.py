from datetime import date

import pytest

from connectors.identity.feide_ldap import parse_grade, parse_group_entitlement


def test_teaching_group_entitlement_parses():
    """A `u` group entitlement gives key, subject, dates, role and decoded name."""
    value = (
        "urn:mace:feide.no:go:group:u:MAT0010:NO974557746:7a-mat:2026-08-17:2027-06-20:"
        "student:Matematikk%207A"
    )
    ent = parse_group_entitlement(value)
    assert "NO974557746:u:7a-mat" == ent.group_key
    assert "MAT0010" == ent.grep_code
    assert date(2026, 8, 17) == ent.valid_from
    assert date(2027, 6, 20) == ent.valid_to
    assert "student" == ent.role
    assert "Matematikk 7A" == ent.name


def test_base_group_without_grep_code_or_dates_parses():
    """Empty grep code and dates are allowed."""
    ent = parse_group_entitlement("urn:mace:feide.no:go:group:b::NO1:7a:::faculty:7A")
    assert ("b", "", None, None) == (ent.kind, ent.grep_code, ent.valid_from, ent.valid_to)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("urn:mace:feide.no:go:group:u:MAT0010:NO1:x:2026-08-17:student:X", "expected 8 fields"),
        ("urn:mace:feide.no:go:group:z::NO1:x:::student:X", "unknown group type"),
        ("urn:mace:feide.no:go:group:b::NO1:x:2026-13-01::student:X", "not a date"),
        ("urn:mace:feide.no:go:group:b::NO1:x:::wizard:X", "unknown member role"),
    ],
)
def test_malformed_entitlements_say_what_is_wrong(value: str, message: str):
    """A malformed group value raises ValueError naming the problem."""
    with pytest.raises(ValueError, match=message):
        parse_group_entitlement(value)


@pytest.mark.parametrize(
    ("value", "grade"),
    [
        ("urn:mace:feide.no:go:grep:http://psi.udir.no/kl06/aarstrinn5", 5),
        ("urn:mace:feide.no:go:grep:https://data.udir.no/kl06/v201906/aarstrinn/aarstrinn10", 10),
        ("urn:mace:feide.no:go:grep:http://psi.udir.no/kl06/vg2", 12),
        ("urn:mace:feide.no:go:grep:http://psi.udir.no/kl06/something", None),
    ],
)
def test_grade_from_grep_entitlement(value: str, grade: int | None):
    """Grade levels come from the trailing aarstrinn or Vg number."""
    assert grade == parse_grade(value)


def test_norwegian_nin_check_digits():
    """Synthetic test numbers with right check digits pass; a changed digit fails."""
    from connectors.privacy import is_valid_norwegian_nin
    from hub.dev.sandbox.population import synthetic_nin

    nin = synthetic_nin(date(2012, 3, 4), 7)
    assert is_valid_norwegian_nin(nin)
    broken = nin[:10] + str((int(nin[10]) + 1) % 10)
    assert not is_valid_norwegian_nin(broken)
    assert not is_valid_norwegian_nin("1234567890")


@pytest.mark.parametrize(
    ("affiliations", "title", "role"),
    [
        (["student", "member"], "elev", "pupil"),
        (["faculty", "employee", "member"], "lærer", "teacher"),
        (["faculty", "employee", "member"], "barnehagelærer", "preschool_teacher"),
        (["staff", "employee", "member"], "IKT-veileder", "it_pedagogue"),
        (["staff", "employee", "member"], "styrer", "school_leader"),
        (["staff", "employee", "member"], "vaktmester", "staff"),
        (["affiliate"], "barn", "child"),
        (["faculty", "employee", "member"], None, "teacher"),
    ],
)
def test_roles_from_affiliation_and_title(affiliations: list[str], title: str | None, role: str):
    """Roles come from the affiliation for pupils and from the title for staff and children."""
    from connectors.identity.feide_ldap import FeideLdap

    assert (role,) == tuple(r.value for r in FeideLdap._roles(affiliations, title))


def test_an_empty_page_with_a_paged_results_cookie_is_read_past(monkeypatch: pytest.MonkeyPatch):
    """A search page without entries but with a cookie does not end the search."""
    from connectors.identity import feide_ldap
    from connectors.identity.feide_ldap import LdapSourceSettings

    settings = LdapSourceSettings.model_validate(
        {
            "type": "feide_ldap",
            "id": "feide",
            "uri": "ldap://127.0.0.1:1",
            "base_dn": "dc=example,dc=no",
            "bind_dn": "cn=reader,dc=example,dc=no",
            "secret": {"env": "UNUSED"},
        }
    )
    source = feide_ldap.FeideLdap(settings, tenant="t", password="x", hmac_key=b"k")
    script = {
        None: feide_ldap._Page([("uid=a", {})], b"\x01"),
        b"\x01": feide_ldap._Page([], b"\x02"),
        b"\x02": feide_ldap._Page([("uid=b", {})], b""),
    }
    monkeypatch.setattr(
        source, "_search_page", lambda _base, _filter, _attrs, _scope, cookie: script[cookie]
    )
    pages = list(source._search("(objectClass=eduPerson)", ["uid"]))
    assert ["uid=a", "uid=b"] == [dn for page in pages for dn, _ in page.entries]
