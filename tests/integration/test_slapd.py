import ssl

import pytest

from hub.dev.sandbox.ldif import parse_ldif, person_dn, unit_dn
from hub.dev.sandbox.population import Role, generate
from hub.dev.sandbox.slapd import SOFT_SIZE_LIMIT, SlapdServer, ldap3
from tests.fixtures.slapd import require_slapd

pytestmark = pytest.mark.integration

PEOPLE = "(objectClass=eduPerson)"


def paged_uids(conn, base: str, page_size: int = 200) -> list[str]:
    """Every uid under `base`, read with the paged results control (RFC 2696)."""
    entries = conn.extend.standard.paged_search(
        base, PEOPLE, attributes=["uid"], paged_size=page_size, generator=False
    )
    assert "success" == conn.result["description"]
    return [e["attributes"]["uid"][0] for e in entries if e["type"] == "searchResEntry"]


def test_paged_search_returns_every_person(directory_factory):
    """The service account pages through a tenant bigger than the size limit and gets everyone."""
    server, owner = directory_factory(scale=800)
    with server.connection("reader") as conn:
        uids = paged_uids(conn, f"o={owner.tenant},{server.suffix}")
    assert owner.person_count > SOFT_SIZE_LIMIT
    assert sorted(p.username for p in owner.people(include_children=False)) == sorted(uids)


def test_unpaged_search_stops_at_the_size_limit(directory_factory):
    """A search without paging gets sizeLimitExceeded after 500 entries."""
    server, owner = directory_factory(scale=800)
    with server.connection("reader") as conn:
        conn.search(f"o={owner.tenant},{server.suffix}", PEOPLE, attributes=["uid"])
        assert ("sizeLimitExceeded", SOFT_SIZE_LIMIT) == (
            conn.result["description"],
            len(conn.entries),
        )


def test_person_reads_back_as_generated(directory):
    """Names with æ, ø, å, entitlements and unit links come back exactly as generated."""
    server, owner = directory
    person = next(
        p for p in owner.people() if p.role is Role.PUPIL and set("æøå") & set(p.full_name)
    )
    with server.connection("reader") as conn:
        conn.search(
            person_dn(owner.tenant, person.username),
            "(objectClass=*)",
            search_scope="BASE",
            attributes=["*"],
        )
        entry = conn.entries[0].entry_attributes_as_dict
    assert {
        "cn": [person.full_name],
        "eduPersonPrincipalName": [person.eppn],
        "eduPersonAffiliation": list(person.affiliations),
        "eduPersonPrimaryOrgUnitDN": [unit_dn(owner.tenant, person.primary_unit)],
        "eduPersonEntitlement": sorted(person.entitlements),
        "norEduPersonNIN": [person.nin],
        "title": ["elev"],
    } == {
        "cn": entry["cn"],
        "eduPersonPrincipalName": entry["eduPersonPrincipalName"],
        "eduPersonAffiliation": entry["eduPersonAffiliation"],
        "eduPersonPrimaryOrgUnitDN": entry["eduPersonPrimaryOrgUnitDN"],
        "eduPersonEntitlement": sorted(entry["eduPersonEntitlement"]),
        "norEduPersonNIN": entry["norEduPersonNIN"],
        "title": entry["title"],
    }


def test_units_can_be_found_by_feide_id(directory):
    """A unit is found by norEduOrgUnitUniqueIdentifier under the tenant."""
    server, owner = directory
    unit = owner.schools[0]
    with server.connection("reader") as conn:
        conn.search(
            f"ou=units,o={owner.tenant},{server.suffix}",
            f"(norEduOrgUnitUniqueIdentifier={unit.feide_id})",
            attributes=["cn"],
        )
        assert [unit.name] == [e.cn.value for e in conn.entries]


def test_reader_cannot_see_passwords_but_the_admin_can(directory, ldap_admin):
    """The userPassword attribute is hidden from the service account and readable by the admin."""
    server, owner = directory
    person = next(owner.people())
    dn = person_dn(owner.tenant, person.username)
    with server.connection("reader") as conn:
        conn.search(dn, "(objectClass=*)", search_scope="BASE", attributes=["userPassword"])
        assert [] == conn.entries[0].entry_attributes_as_dict.get("userPassword", [])
    ldap_admin.search(dn, "(objectClass=*)", search_scope="BASE", attributes=["userPassword"])
    assert [person.password.encode()] == ldap_admin.entries[0].userPassword.values


def test_a_person_can_bind_with_their_password(directory):
    """A generated person's password works for a simple bind."""
    server, owner = directory
    person = next(p for p in owner.people() if p.role is Role.TEACHER)
    conn = ldap3.Connection(
        server.uri, user=person_dn(owner.tenant, person.username), password=person.password
    )
    try:
        assert conn.bind()
    finally:
        conn.unbind()


def test_the_admin_can_modify_and_delete(directory, ldap_admin):
    """Tests can change and remove entries through the admin connection."""
    server, owner = directory
    person = next(p for p in owner.people() if p.role is Role.PUPIL)
    dn = person_dn(owner.tenant, person.username)
    ldap_admin.modify(dn, {"displayName": [("MODIFY_REPLACE", ["Ny Visningsnavn"])]})
    assert "success" == ldap_admin.result["description"]
    ldap_admin.delete(dn)
    assert "success" == ldap_admin.result["description"]
    with server.connection("reader") as conn:
        remaining = paged_uids(conn, f"o={owner.tenant},{server.suffix}")
    assert owner.person_count - 1 == len(remaining)
    assert person.username not in remaining


def test_the_service_account_cannot_write(directory):
    """The hub's service account is read-only."""
    server, owner = directory
    person = next(owner.people())
    with server.connection("reader") as conn:
        conn.delete(person_dn(owner.tenant, person.username))
        assert "insufficientAccessRights" == conn.result["description"]


def test_a_tenant_with_faults_loads(directory_factory):
    """Deliberately malformed records are still accepted by slapd's schema checks."""
    server, owner = directory_factory(scale=300, faults=True)
    with server.connection("reader") as conn:
        assert owner.person_count == len(paged_uids(conn, f"o={owner.tenant},{server.suffix}"))


def test_children_can_be_included(directory_factory):
    """include_children=True puts preschool children in the directory as affiliates."""
    server, owner = directory_factory(scale=100, include_children=True)
    with server.connection("reader") as conn:
        conn.search(
            f"o={owner.tenant},{server.suffix}",
            "(eduPersonPrimaryAffiliation=affiliate)",
            attributes=["uid"],
        )
        assert owner.child_count == len(conn.entries)


def test_session_server_offers_ldaps(slapd_server):
    """The session's slapd listens for LDAPS too and has a certificate to trust."""
    assert slapd_server.ldaps_uri.startswith("ldaps://127.0.0.1:")
    assert slapd_server.ca_certificate.read_text().startswith("-----BEGIN CERTIFICATE-----")


def test_schema_carries_the_published_oids(slapd_server):
    """The eduPerson and norEdu* definitions are loaded with their published OIDs."""
    with slapd_server.connection("reader") as conn:
        schema = conn.server.schema
        oids = {
            name: schema.attribute_types[name].oid
            for name in (
                "eduPersonPrincipalName",
                "eduPersonEntitlement",
                "norEduPersonNIN",
                "norEduOrgUnitUniqueIdentifier",
            )
        }
        classes = {
            name: schema.object_classes[name].oid
            for name in ("eduPerson", "eduOrg", "norEduOrg", "norEduOrgUnit", "norEduPerson")
        }
    assert {
        "eduPersonPrincipalName": "1.3.6.1.4.1.5923.1.1.1.6",
        "eduPersonEntitlement": "1.3.6.1.4.1.5923.1.1.1.7",
        "norEduPersonNIN": "1.3.6.1.4.1.2428.90.1.5",
        "norEduOrgUnitUniqueIdentifier": "1.3.6.1.4.1.2428.90.1.8",
    } == oids
    assert {
        "eduPerson": "1.3.6.1.4.1.5923.1.1.2",
        "eduOrg": "1.3.6.1.4.1.5923.1.2.2",
        "norEduOrg": "1.3.6.1.4.1.2428.90.2.1",
        "norEduOrgUnit": "1.3.6.1.4.1.2428.90.2.2",
        "norEduPerson": "1.3.6.1.4.1.2428.90.2.3",
    } == classes


def test_offline_load_then_start_stop_from_another_instance(tmp_path):
    """Offline slapadd loads a stopped home; another instance on that home sees and stops it."""
    require_slapd()
    owner = generate("offline", 120)
    server = SlapdServer(tmp_path / "home")
    server.load_owners([owner])
    uri = server.start()
    try:
        other = SlapdServer(tmp_path / "home")
        status = other.status()
        assert (True, uri) == (status.running, status.uri)
        with other.connection("reader") as conn:
            assert owner.person_count == len(paged_uids(conn, f"o=offline,{server.suffix}"))
        other.stop()
        assert not server.status().running
    finally:
        server.stop()


def test_secrets_are_private_and_not_in_the_config(tmp_path):
    """The passwords sit in 0600 files and only hashed in slapd's configuration."""
    require_slapd()
    server = SlapdServer(tmp_path / "home")
    server.start()
    try:
        assert 0o600 == (tmp_path / "home" / "admin.secret").stat().st_mode & 0o777
        assert 0o600 == (tmp_path / "home" / "reader.secret").stat().st_mode & 0o777
        files = list((tmp_path / "home" / "slapd.d").rglob("*.ldif"))
        values = [
            v
            for f in files
            for _, attributes in parse_ldif(f.read_text().splitlines())
            for vs in attributes.values()
            for v in vs
        ]
        assert [] == [v for v in values if server.admin_password in v]
        assert [True] == [
            v.startswith("{SSHA}")
            for f in files
            for _, attributes in parse_ldif(f.read_text().splitlines())
            for v in attributes.get("olcRootPW", [])
        ]
    finally:
        server.stop()


# ldap3 2.9.1 checks host names with ssl.match_hostname, deprecated since Python 3.7.
@pytest.mark.filterwarnings(r"ignore:ssl.match_hostname\(\) is deprecated:DeprecationWarning")
def test_ldaps_and_starttls_with_the_generated_certificate(tmp_path):
    """tls=True serves LDAPS on a second port and StartTLS on the first, trusted via the CA."""
    require_slapd()
    server = SlapdServer(tmp_path / "home", tls=True)
    server.start()
    try:
        tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=str(server.ca_certificate))
        ldaps = ldap3.Connection(
            ldap3.Server(server.ldaps_uri, use_ssl=True, tls=tls),
            user=server.reader_dn,
            password=server.reader_password,
        )
        plain = ldap3.Connection(
            ldap3.Server(server.uri, tls=tls),
            user=server.reader_dn,
            password=server.reader_password,
        )
        try:
            assert ldaps.bind()
            assert f"dn:{server.reader_dn}" == ldaps.extend.standard.who_am_i()
            plain.open()
            assert plain.start_tls()
            assert plain.bind()
        finally:
            ldaps.unbind()
            plain.unbind()
    finally:
        server.stop()
