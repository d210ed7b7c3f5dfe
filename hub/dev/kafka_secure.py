"""A local KRaft broker secured like a school owner's cluster: SASL_SSL, SCRAM and ACLs.

The same single-node broker as `kafka_local`, but its only client listener is SASL_SSL:
a CA and a broker certificate are generated into the broker home at the first start
(`cryptography`), SCRAM-SHA-512 credentials for an `admin` super user and the `hub` user
are written into the KRaft metadata when the storage is formatted, and the standard
authoriser (`StandardAuthorizer`) denies everything an ACL does not allow. After the
start, `grant` gives the `hub` user the ACLs of `hub.kafka_security.hub_acls`.
The controller listener is loopback-only and authenticates the broker with SASL PLAIN.

Layout added to a broker home:

    tls/ca.pem, tls/ca.key      the CA (the clients' `ca_file`)
    tls/broker.pem              the broker's key and certificate (127.0.0.1, localhost)
    credentials.json            the SCRAM users' passwords (mode 0600)
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import secrets
from dataclasses import dataclass
from pathlib import Path

import structlog
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from hub.dev.kafka_local import KafkaState, LocalKafka, render_server_properties
from hub.kafka_security import Acl
from hub.settings import KafkaSecurity, KafkaSettings

log = structlog.get_logger(__name__)

ADMIN_USER = "admin"
HUB_USER = "hub"
SCRAM_MECHANISM = "SCRAM-SHA-512"
_CONTROLLER_USER = "controller"
_AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
_SCRAM_LOGIN = "org.apache.kafka.common.security.scram.ScramLoginModule"
_PLAIN_LOGIN = "org.apache.kafka.common.security.plain.PlainLoginModule"
_CERT_DAYS = 30


@dataclass(frozen=True)
class TlsFiles:
    """The PEM files of a generated CA and a certificate it signed."""

    ca_file: Path
    cert_file: Path
    key_file: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Skolehub development"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _pkcs8(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def make_ca(folder: Path, common_name: str = "Skolehub development CA") -> TlsFiles:
    """Write a self-signed CA (`ca.pem`, `ca.key`) into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=_CERT_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    ca_file, key_file = folder / "ca.pem", folder / "ca.key"
    ca_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(_pkcs8(key))
    key_file.chmod(0o600)
    return TlsFiles(ca_file, ca_file, key_file)


def issue_certificate(ca: TlsFiles, folder: Path, name: str, hosts: tuple[str, ...]) -> TlsFiles:
    """Write `<name>.pem` (key then certificate, signed by `ca`) for `hosts` into `folder`."""
    ca_cert = x509.load_pem_x509_certificate(ca.ca_file.read_bytes())
    ca_key = serialization.load_pem_private_key(ca.key_file.read_bytes(), password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    alt_names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            alt_names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            alt_names.append(x509.DNSName(host))
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(name))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=_CERT_DAYS))
    )
    if alt_names:
        builder = builder.add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
    cert = (
        builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [x509.ExtendedKeyUsageOID.SERVER_AUTH, x509.ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = folder / f"{name}.pem"
    pem.write_bytes(_pkcs8(key) + cert.public_bytes(serialization.Encoding.PEM))
    pem.chmod(0o600)
    return TlsFiles(ca.ca_file, pem, pem)


def _jaas(module: str, user: str, password: str, extra: str = "") -> str:
    return f'{module} required username="{user}" password="{password}"{extra};'


class SecureLocalKafka(LocalKafka):
    """The local broker with a SASL_SSL listener, SCRAM users and the standard authoriser."""

    @property
    def tls_dir(self) -> Path:
        """Where the CA and the broker's certificate live."""
        return self.home / "tls"

    @property
    def ca_file(self) -> Path:
        """The CA that signed the broker's certificate: the clients' `ca_file`."""
        return self.tls_dir / "ca.pem"

    @property
    def credentials_file(self) -> Path:
        """The SCRAM users' passwords, written once."""
        return self.home / "credentials.json"

    def passwords(self) -> dict[str, str]:
        """The passwords of `admin`, `hub` and the controller, made at the first start."""
        if self.credentials_file.exists():
            return dict(json.loads(self.credentials_file.read_text(encoding="utf-8")))
        self.home.mkdir(parents=True, exist_ok=True)
        made = {u: secrets.token_urlsafe(18) for u in (ADMIN_USER, HUB_USER, _CONTROLLER_USER)}
        self.credentials_file.touch(mode=0o600)
        self.credentials_file.write_text(json.dumps(made), encoding="utf-8")
        return made

    def security(
        self, user: str = HUB_USER, password_env: str = "KAFKA_HUB_PASSWORD"
    ) -> KafkaSecurity:
        """Client settings for `user`, its password read from the environment variable named."""
        return KafkaSecurity.model_validate(
            {
                "protocol": "SASL_SSL",
                "ca_file": self.ca_file,
                "sasl_mechanism": SCRAM_MECHANISM,
                "username": user,
                "password": {"env": password_env},
            }
        )

    def _certificates(self) -> None:
        if (self.tls_dir / "broker.pem").exists():
            return
        ca = make_ca(self.tls_dir)
        issue_certificate(ca, self.tls_dir, "broker", ("127.0.0.1", "localhost"))
        log.info("kafka_certificates_made", ca_file=str(self.ca_file))

    def _server_properties(self, state: KafkaState) -> str:
        self._certificates()
        passwords = self.passwords()
        host = "127.0.0.1"
        mtls = self._mtls_port(state)
        listeners = (
            f"SASL_SSL://{host}:{state.broker_port},CONTROLLER://{host}:{state.controller_port},"
            f"MTLS://{host}:{mtls}"
        )
        admin_scram = _jaas(_SCRAM_LOGIN, ADMIN_USER, passwords[ADMIN_USER])
        controller = passwords[_CONTROLLER_USER]
        secured = {
            "listeners": listeners,
            "advertised.listeners": f"SASL_SSL://{host}:{state.broker_port},MTLS://{host}:{mtls}",
            "inter.broker.listener.name": "SASL_SSL",
            "listener.security.protocol.map": (
                "SASL_SSL:SASL_SSL,CONTROLLER:SASL_PLAINTEXT,MTLS:SSL"
            ),
            # Mutual TLS: the client's certificate is its identity (`User:CN=…,O=…`).
            "listener.name.mtls.ssl.client.auth": "required",
            "sasl.enabled.mechanisms": "SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER",
            # OAUTHBEARER with Kafka's unsecured validator: it accepts any unsigned token
            # and takes the principal from its `sub`. Good for trying a token endpoint,
            # never for production (which validates signed tokens against the IdP's keys).
            "listener.name.sasl_ssl.oauthbearer.sasl.jaas.config": (
                "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required "
                f'unsecuredLoginStringClaim_sub="{ADMIN_USER}";'
            ),
            "sasl.mechanism.inter.broker.protocol": SCRAM_MECHANISM,
            "listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config": admin_scram,
            "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": admin_scram,
            "listener.name.controller.sasl.enabled.mechanisms": "PLAIN",
            "sasl.mechanism.controller.protocol": "PLAIN",
            "listener.name.controller.plain.sasl.jaas.config": _jaas(
                _PLAIN_LOGIN,
                _CONTROLLER_USER,
                controller,
                f' user_{_CONTROLLER_USER}="{controller}"',
            ),
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": str(self.tls_dir / "broker.pem"),
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(self.ca_file),
            "ssl.enabled.protocols": "TLSv1.2,TLSv1.3",
            "authorizer.class.name": _AUTHORIZER,
            "super.users": f"User:{ADMIN_USER};User:{_CONTROLLER_USER}",
            "allow.everyone.if.no.acl.found": "false",
        }
        return render_server_properties(state, self.data_dir, extra=secured)

    def _mtls_port(self, state: KafkaState) -> int:
        """The mutual-TLS listener's port, kept in the home like the others."""
        from hub.dev._services import free_port, port_free

        kept = self.home / "mtls_port"
        port = int(kept.read_text(encoding="utf-8")) if kept.exists() else 0
        taken = {state.broker_port, state.controller_port}
        if port == 0 or port in taken or not port_free("127.0.0.1", port):
            port = free_port("127.0.0.1", exclude=taken)
            kept.write_text(str(port), encoding="utf-8")
        return port

    @property
    def mtls_bootstrap(self) -> str:
        """The address of the listener that authenticates clients by certificate."""
        return f"127.0.0.1:{(self.home / 'mtls_port').read_text(encoding='utf-8').strip()}"

    def client_certificate(self, name: str) -> TlsFiles:
        """A client certificate (key and certificate in one PEM) the broker's CA signed."""
        ca = TlsFiles(self.ca_file, self.ca_file, self.tls_dir / "ca.key")
        return issue_certificate(ca, self.tls_dir, name, ())

    def _format_arguments(self) -> list[str]:
        passwords = self.passwords()
        arguments = []
        for user in (ADMIN_USER, HUB_USER):
            for mechanism in ("SCRAM-SHA-256", SCRAM_MECHANISM):
                arguments += [
                    "--add-scram",
                    f"{mechanism}=[name={user},password={passwords[user]}]",
                ]
        return arguments

    def _admin_config(self, timeout: float) -> dict[str, object]:
        from hub.kafka_security import ssl_context

        state = self.read_state()
        assert state is not None, "the broker has not been prepared"
        return {
            "bootstrap_servers": state.bootstrap,
            "client_id": "hub-kafka-local",
            "bootstrap_timeout_ms": int(timeout * 1000),
            "request_timeout_ms": max(int(timeout * 1000), 1000),
            "security_protocol": "SASL_SSL",
            "ssl_context": ssl_context(KafkaSecurity(protocol="SSL", ca_file=self.ca_file)),
            "sasl_mechanism": SCRAM_MECHANISM,
            "sasl_plain_username": ADMIN_USER,
            "sasl_plain_password": self.passwords()[ADMIN_USER],
        }

    def read_state_bootstrap(self) -> str:
        """The bootstrap address of the broker, from its state file."""
        state = self.read_state()
        assert state is not None, "the broker has not been prepared"
        return state.bootstrap

    def admin(self, timeout: float = 10.0) -> object:
        """A `KafkaAdminClient` logged in as the super user `admin`."""
        from kafka import KafkaAdminClient

        return KafkaAdminClient(**self._admin_config(timeout))

    def _answers(self, state: KafkaState, timeout: float) -> bool:
        from kafka.errors import KafkaError

        try:
            admin = self.admin(min(max(timeout, 1.0), 10.0))
        except KafkaError:
            return False
        try:
            return bool(admin.describe_cluster()["brokers"])  # type: ignore[attr-defined]
        except KafkaError:
            return False
        finally:
            admin.close()  # type: ignore[attr-defined]

    def grant(self, settings: KafkaSettings, user: str = HUB_USER) -> None:
        """Give `user` exactly the ACLs the hub needs for `settings` (its prefix, creation)."""
        from hub.kafka_security import hub_acls

        self.grant_acls(hub_acls(settings), user)
        log.info("kafka_acls_granted", user=user, prefix=settings.topic_prefix)

    def grant_acls(self, rules: list[Acl], user: str = HUB_USER) -> None:
        """Allow `user` these rules, as the super user."""
        from kafka.admin import (
            ACL,
            ACLOperation,
            ACLPermissionType,
            ACLResourcePatternType,
            ResourcePattern,
            ResourceType,
        )

        acls = [
            ACL(
                principal=f"User:{user}",
                host="*",
                operation=ACLOperation[rule.operation],
                permission_type=ACLPermissionType.ALLOW,
                resource_pattern=ResourcePattern(
                    ResourceType[rule.resource_type],
                    rule.resource,
                    ACLResourcePatternType[rule.pattern_type],
                ),
            )
            for rule in rules
        ]
        admin = self.admin()
        try:
            result = admin.create_acls(acls)  # type: ignore[attr-defined]
        finally:
            admin.close()  # type: ignore[attr-defined]
        if result.get("failed"):
            raise RuntimeError(f"could not create ACLs: {result['failed']}")
