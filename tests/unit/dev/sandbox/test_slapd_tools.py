import base64
import hashlib

import pytest

from hub.dev.sandbox import slapd
from hub.dev.sandbox.slapd import SlapdError, SlapdNotFoundError, SlapdServer
from tests.fixtures import slapd as fixture


def missing_tools() -> slapd.SlapdTools:
    raise SlapdNotFoundError("slapd not found: install Debian's slapd and ldap-utils packages")


def test_missing_slapd_skips_outside_ci(monkeypatch):
    """Without slapd the fixture skips on a developer machine, naming CI in the reason."""
    monkeypatch.setattr(fixture, "find_tools", missing_tools)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="CI=true"):
        fixture.require_slapd()


def test_missing_slapd_fails_under_ci(monkeypatch):
    """Under CI=true a missing slapd is a failure, not a skip."""
    monkeypatch.setattr(fixture, "find_tools", missing_tools)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="slapd not found"):
        fixture.require_slapd()


def test_ssha_hash_verifies_against_the_password():
    """The config holds {SSHA} = base64(sha1(password + salt) + salt)."""
    hashed = slapd._ssha("hemmelig")
    raw = base64.b64decode(hashed.removeprefix("{SSHA}"))
    digest, salt = raw[:20], raw[20:]
    assert hashed.startswith("{SSHA}")
    assert hashlib.sha1(b"hemmelig" + salt, usedforsecurity=False).digest() == digest


def test_passwords_are_generated_per_home_and_private(tmp_path):
    """Each home gets its own admin and reader passwords in 0600 files."""
    one, other = SlapdServer(tmp_path / "one"), SlapdServer(tmp_path / "two")
    assert one.admin_password != other.admin_password
    assert one.admin_password != one.reader_password
    assert one.admin_password == SlapdServer(tmp_path / "one").admin_password
    assert 0o600 == (tmp_path / "one" / "admin.secret").stat().st_mode & 0o777


def test_a_stopped_home_reports_not_running(tmp_path):
    """status() of a home that never started says so, without a pid or URL."""
    status = SlapdServer(tmp_path / "home").status()
    assert (False, None, None) == (status.running, status.pid, status.uri)


def test_tls_cannot_be_added_to_a_home_set_up_without_it(tmp_path):
    """TLS is decided when a home is first set up."""
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "server.json").write_text(
        '{"suffix": "dc=skolehub,dc=test", "tls": false}'
    )
    with pytest.raises(SlapdError, match="without TLS"):
        SlapdServer(tmp_path / "home", tls=True)


def test_dns_follow_the_suffix(tmp_path):
    """The admin and service account live directly under the suffix."""
    server = SlapdServer(tmp_path / "home", suffix="dc=example,dc=test")
    assert ("cn=admin,dc=example,dc=test", "cn=hub-reader,dc=example,dc=test") == (
        server.admin_dn,
        server.reader_dn,
    )
