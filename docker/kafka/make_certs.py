"""One-shot of docker/compose.yaml: the Kafka cluster's CA and certificates, made once.

Run in the hub image (it has `cryptography`) as `make_certs.py TLS_DIR CA_DIR`:
TLS_DIR (the `kafka-tls` volume, mounted only by the brokers and `kafka-setup`) gets
`ca.pem`, `ca.key`, `broker.pem` (key and certificate of CN=kafka-broker for kafka-1..3
and localhost, the brokers' principal on their mutual-TLS listeners) and `admin.pem`
(CN=kafka-admin, the super user `kafka-setup` and the health checks connect as) with
`admin.properties` for Kafka's command line tools; CA_DIR (the `kafka-ca` volume the
Airflow containers mount) gets `ca.pem` only. Existing files are kept.
A production cluster has certificates from the owner's CA instead.
"""

from __future__ import annotations

import datetime
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

BROKER_HOSTS = ("kafka-1", "kafka-2", "kafka-3", "localhost")
#: Where the Kafka containers mount the kafka-tls volume.
KAFKA_MOUNT = Path("/etc/kafka/tls")
DAYS = 825


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _issue(
    ca_key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name,
    name: str,
    hosts: tuple[str, ...],
    *,
    ca: bool = False,
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1()) if not ca else ca_key
    now = datetime.datetime.now(datetime.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject if ca else issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=DAYS))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        if hosts:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(h) for h in hosts]), critical=False
            )
    return key, builder.sign(ca_key, hashes.SHA256())


def main(tls_dir: Path, ca_dir: Path) -> None:
    """Write the files that are missing."""
    tls_dir.mkdir(parents=True, exist_ok=True)
    ca_dir.mkdir(parents=True, exist_ok=True)
    if not (tls_dir / "ca.pem").exists():
        ca_key = ec.generate_private_key(ec.SECP256R1())
        _, ca_cert = _issue(ca_key, x509.Name([]), "Skolehub Kafka CA", (), ca=True)
        (tls_dir / "ca.key").write_bytes(_key_pem(ca_key))
        (tls_dir / "ca.pem").write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    ca_cert = x509.load_pem_x509_certificate((tls_dir / "ca.pem").read_bytes())
    ca_key = serialization.load_pem_private_key((tls_dir / "ca.key").read_bytes(), None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    for name, hosts in (("broker", BROKER_HOSTS), ("admin", ())):
        target = tls_dir / f"{name}.pem"
        if not target.exists():
            key, cert = _issue(ca_key, ca_cert.subject, f"kafka-{name}", hosts)
            target.write_bytes(_key_pem(key) + cert.public_bytes(serialization.Encoding.PEM))
    (tls_dir / "admin.properties").write_text(
        "security.protocol=SSL\n"
        "ssl.keystore.type=PEM\n"
        f"ssl.keystore.location={KAFKA_MOUNT / 'admin.pem'}\n"
        "ssl.truststore.type=PEM\n"
        f"ssl.truststore.location={KAFKA_MOUNT / 'ca.pem'}\n",
        encoding="utf-8",
    )
    # The brokers run as another user than this job; the volume is theirs alone.
    for path in tls_dir.iterdir():
        path.chmod(0o644)
    (ca_dir / "ca.pem").write_bytes((tls_dir / "ca.pem").read_bytes())
    print(f"Kafka certificates ready in {tls_dir}; CA in {ca_dir}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
