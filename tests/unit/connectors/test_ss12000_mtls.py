"""Mutual TLS: the SS 12000 connector presents its client certificate when a server demands it."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from connectors.base import RetryPolicy
from connectors.errors import FatalError
from connectors.identity.ss12000 import SS12000, SS12000SourceSettings
from hub.dev.sandbox.ss12000 import SS12000App, SS12000Tenant, client_id, tenant_config
from hub.dev.sandbox.swedish import generate_swedish
from hub.dev.sandbox.webserver import SandboxServer
from hub.settings import parse_settings
from schemas.entities import Person
from tests.fixtures._web import HMAC_KEY
from tests.fixtures.ss12000 import CLIENT_SECRET

TENANT = "ekby"


@dataclass(frozen=True)
class Pki:
    """A private CA with a server certificate for 127.0.0.1 and a client certificate."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> Path:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)
    return path


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name | None,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool = False,
    usage: x509.ObjectIdentifier | None = None,
    ip: str | None = None,
) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer or name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), True
        )
    if usage is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if ip is not None:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(IPv4Address(ip))]), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """Certificates for one module: a CA, the server's and the hub's client certificate."""
    folder = tmp_path_factory.mktemp("pki")
    ca_key = _key()
    ca = _certificate("Skolfederation test CA", ca_key, None, ca_key, ca=True)
    pem = serialization.Encoding.PEM
    (folder / "ca.pem").write_bytes(ca.public_bytes(pem))
    server_key, client_key = _key(), _key()
    server = _certificate(
        "127.0.0.1", server_key, ca.subject, ca_key, usage=ExtendedKeyUsageOID.SERVER_AUTH,
        ip="127.0.0.1",
    )  # fmt: skip
    client = _certificate(
        "skolehub", client_key, ca.subject, ca_key, usage=ExtendedKeyUsageOID.CLIENT_AUTH
    )
    (folder / "server.pem").write_bytes(server.public_bytes(pem))
    (folder / "client.pem").write_bytes(client.public_bytes(pem))
    return Pki(
        ca=folder / "ca.pem",
        server_cert=folder / "server.pem",
        server_key=_write_key(folder / "server.key", server_key),
        client_cert=folder / "client.pem",
        client_key=_write_key(folder / "client.key", client_key),
    )


@pytest.fixture(scope="module")
def tls_server(pki: Pki) -> Iterator[SandboxServer]:
    """The sandbox SS 12000 API over HTTPS, requiring a client certificate from the CA."""
    app = SS12000App(
        {TENANT: SS12000Tenant(generate_swedish(TENANT, 40))},
        clients={TENANT: (client_id(TENANT), CLIENT_SECRET)},
    )
    server = SandboxServer({"ss12000": app})
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(pki.ca))
    context.load_cert_chain(str(pki.server_cert), str(pki.server_key))
    context.verify_mode = ssl.CERT_REQUIRED
    # The sandbox speaks plain HTTP; wrapping its listening socket is enough for this test.
    server._httpd.socket = context.wrap_socket(server._httpd.socket, server_side=True)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def settings(server: SandboxServer, pki: Pki, **extra: Any) -> SS12000SourceSettings:
    """Source settings for the HTTPS sandbox, trusting the test CA."""
    base = f"https://127.0.0.1:{server.port}/{TENANT}/ss12000"
    entry = tenant_config(TENANT, base)
    entry["sources"][0].update({"ca_file": str(pki.ca), **extra})
    source = parse_settings({"tenants": [entry]}).tenant(TENANT).sources[0]
    assert isinstance(source, SS12000SourceSettings)
    return source


def test_with_its_client_certificate_the_connector_reads_over_mutual_tls(
    tls_server: SandboxServer, pki: Pki, monkeypatch: pytest.MonkeyPatch
):
    """Token request and API calls succeed with the client certificate and the source's CA."""
    # requests would let this variable override the source's ca_file; the connector does not.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(pki.client_cert))
    source = SS12000(
        settings(tls_server, pki, client_cert=str(pki.client_cert), client_key=str(pki.client_key)),
        tenant=TENANT,
        secret=CLIENT_SECRET,
        hmac_key=HMAC_KEY,
    )
    with source:
        source.check()
        people = [i for i in source.read() if isinstance(i, Person)]
    assert 40 <= len(people)
    assert 1 <= tls_server.count("/oauth/token", status=200)


def test_without_a_client_certificate_the_server_refuses_the_connection(
    tls_server: SandboxServer, pki: Pki
):
    """No client certificate: the TLS handshake fails and the check fails without a secret."""
    source = SS12000(
        settings(tls_server, pki),
        tenant=TENANT,
        secret=CLIENT_SECRET,
        hmac_key=HMAC_KEY,
        retry=RetryPolicy(attempts=1),
    )
    with pytest.raises(FatalError) as caught, source:
        source.check()
    assert SS12000.name == caught.value.connector
    assert CLIENT_SECRET not in str(caught.value)
