"""The hub against a secured broker: SASL_SSL with SCRAM, a CA of its own, ACLs enforced.

One broker serves the whole session (`secure_kafka`); each test works under a topic
prefix of its own, so the ACLs one test grants never cover another's topics.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
import sqlalchemy as sa
import yaml
from kafka.admin import NewTopic

from hub.cli import main
from hub.dev.kafka_secure import ADMIN_USER, HUB_USER, SecureLocalKafka, make_ca
from hub.followup import compile_snapshot
from hub.followup.jobs import materialise
from hub.followup.publish import publish_snapshot
from hub.kafka_io import (
    COMPACTED,
    OutRecord,
    Publisher,
    PublishError,
    dead_letter_topic,
    ensure_topics,
    entity_topic,
)
from hub.kafka_security import Acl, KafkaAccessError, hub_acls, probe
from hub.materialise import Materialiser
from hub.settings import HubSettings, KafkaSecurity
from hub.store import StateStore
from hub.sync import SyncReport, SyncRunner
from schemas import Group, Person
from schemas.entities import Role
from schemas.followup import FOLLOWUP_RECORD_TYPES
from tests.conftest import TEST_HMAC_KEY
from tests.support import MemorySource, consume_all, settings_for, unique_prefix
from tests.unit.followup import golden

pytestmark = pytest.mark.integration


PASSWORD_ENV = "KAFKA_HUB_PASSWORD"


@pytest.fixture
def hub_password(secure_kafka: SecureLocalKafka, monkeypatch: pytest.MonkeyPatch) -> str:
    """The hub user's password in the environment, where hub.yaml's secret names it."""
    monkeypatch.delenv("HUB_KAFKA_BOOTSTRAP", raising=False)
    password = secure_kafka.passwords()[HUB_USER]
    monkeypatch.setenv(PASSWORD_ENV, password)
    return password


def _settings(
    broker: SecureLocalKafka,
    url: str,
    *,
    security: KafkaSecurity | None = None,
    create_topics: bool = True,
    prefix: str | None = None,
    **tenant: object,
) -> HubSettings:
    plain = settings_for(
        golden.TENANT, [], broker.read_state_bootstrap(), url, prefix or unique_prefix(), **tenant
    )
    kafka = plain.kafka.model_copy(
        update={
            "security": security or broker.security(),
            "create_topics": create_topics,
            "connect_timeout_seconds": 5.0,
        }
    )
    return plain.model_copy(update={"kafka": kafka})


def _people(count: int) -> list[Person]:
    source = MemorySource([], tenant=golden.TENANT)
    return [
        Person(
            tenant=golden.TENANT,
            source=source.ref,
            key=f"p{n}@guldby.example",
            eppn=f"p{n}@guldby.example",
            given_name="Test",
            family_name=f"Person {n}",
            roles=(Role.STAFF,),
        )
        for n in range(count)
    ]


def _sync_people(settings: HubSettings, count: int) -> SyncReport:
    source = MemorySource(list(_people(count)), tenant=golden.TENANT)
    store = StateStore(settings.store_url)
    publisher = Publisher(settings.bootstrap, settings.kafka)
    try:
        return SyncRunner(settings, store, publisher).sync(golden.TENANT, "mem", source=source)
    finally:
        publisher.close()
        store.close()


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    """A SQLite store of the test's own."""
    yield f"sqlite:///{tmp_path / 'hub.db'}"


def test_sync_materialise_and_publish_run_over_sasl_ssl(
    secure_kafka: SecureLocalKafka, hub_password: str, url: str
):
    """With only the documented ACLs the hub syncs, materialises and publishes over SASL_SSL."""
    settings = _settings(secure_kafka, url, policy=golden.POLICY)
    secure_kafka.grant(settings.kafka)
    ensure_topics(settings.bootstrap, settings.kafka, [Person, Group])
    report = _sync_people(settings, 3)
    assert ("success", 3) == (report.status, report.created), report.error

    assert 3 == materialise(settings, group="g").upserts  # as `hub compile` does
    security = settings.kafka.security
    engine = sa.create_engine(url)
    golden.write_entities(engine, golden.entities())
    key = TEST_HMAC_KEY.encode()
    snapshot = compile_snapshot(
        engine, settings.tenant(golden.TENANT), golden.AS_OF, pseudonym_key=key
    )
    published = publish_snapshot(engine, settings, snapshot, pseudonym_key=key)
    assert sum(snapshot.counts().values()) == published.created
    topics = [entity_topic(settings.kafka.topic_prefix, t) for t in FOLLOWUP_RECORD_TYPES]
    records = consume_all(settings.bootstrap, topics, security=security)
    assert published.created == len(records)
    engine.dispose()

    found = probe(settings.bootstrap, settings.kafka)
    assert found.protocol.startswith("SASL_SSL (TLSv1.")
    assert found.protocol.endswith("SCRAM-SHA-512 as user hub)")


def test_topics_provisioned_by_the_operator_need_no_create_right(
    secure_kafka: SecureLocalKafka, hub_password: str, url: str
):
    """With `create_topics: false` the hub uses the operator's topics and names a missing one."""
    settings = _settings(secure_kafka, url, create_topics=False)
    prefix = settings.kafka.topic_prefix
    secure_kafka.grant(settings.kafka)
    assert "CREATE" not in {a.operation for a in _acls_of(settings)}

    with pytest.raises(KafkaAccessError) as missing:
        ensure_topics(settings.bootstrap, settings.kafka, [Person])
    assert (
        f"topics missing on Kafka at {settings.bootstrap}: {dead_letter_topic(prefix)}, "
        f"{entity_topic(prefix, Person)} (kafka.create_topics is false"
    ) in str(missing.value)

    admin = secure_kafka.admin()
    try:
        admin.create_topics(  # type: ignore[attr-defined]
            [
                NewTopic(t, 1, 1, topic_configs=COMPACTED)
                for t in (entity_topic(prefix, Person), dead_letter_topic(prefix))
            ]
        )
    finally:
        admin.close()  # type: ignore[attr-defined]
    assert [] == ensure_topics(settings.bootstrap, settings.kafka, [Person])
    report = _sync_people(settings, 2)
    assert ("success", 2) == (report.status, report.created), report.error


def _acls_of(settings: HubSettings) -> list[Acl]:
    return hub_acls(settings.kafka)


def test_a_wrong_password_is_named_as_such(
    secure_kafka: SecureLocalKafka, hub_password: str, url: str, monkeypatch: pytest.MonkeyPatch
):
    """Refused SCRAM credentials fail with a message saying so, and without the password."""
    monkeypatch.setenv(PASSWORD_ENV, "not-the-password")
    settings = _settings(secure_kafka, url)
    expected = (
        f"Kafka at {settings.bootstrap} refused the credentials of user hub "
        "(SASL SCRAM-SHA-512): wrong username or password, or no such user"
    )
    with pytest.raises(KafkaAccessError) as checked:
        probe(settings.bootstrap, settings.kafka, timeout_ms=3000)
    assert expected == str(checked.value)
    with pytest.raises(KafkaAccessError) as synced:
        ensure_topics(settings.bootstrap, settings.kafka, [Person])
    assert expected == str(synced.value)
    with pytest.raises(KafkaAccessError) as published:  # the sync's publisher says the same
        Publisher(settings.bootstrap, settings.kafka)
    assert expected == str(published.value)
    assert "not-the-password" not in f"{synced.value} {published.value}"


def test_an_untrusted_broker_certificate_is_named_as_such(
    secure_kafka: SecureLocalKafka, hub_password: str, url: str, tmp_path: Path
):
    """A broker whose certificate the CA file did not sign is refused before any password."""
    other = make_ca(tmp_path / "other-ca", "Some other CA")
    security = secure_kafka.security().model_copy(update={"ca_file": other.ca_file})
    settings = _settings(secure_kafka, url, security=security)
    with pytest.raises(KafkaAccessError) as checked:
        probe(settings.bootstrap, settings.kafka, timeout_ms=3000)
    assert str(checked.value).startswith(
        f"the certificate of Kafka at {settings.bootstrap} is not trusted by {other.ca_file}: "
    )


def test_a_missing_acl_names_the_topic(secure_kafka: SecureLocalKafka, hub_password: str, url: str):
    """Without Write on its topics a publish fails naming the topic and the missing ACL."""
    settings = _settings(secure_kafka, url)
    prefix = settings.kafka.topic_prefix
    topic = entity_topic(prefix, Person)
    admin = secure_kafka.admin()
    try:
        admin.create_topics([NewTopic(topic, 1, 1, topic_configs=COMPACTED)])  # type: ignore[attr-defined]
    finally:
        admin.close()  # type: ignore[attr-defined]
    secure_kafka.grant_acls(
        [Acl("TOPIC", "PREFIXED", f"{prefix}.", op) for op in ("DESCRIBE", "READ")]
    )
    publisher = Publisher(settings.bootstrap, settings.kafka)
    try:
        with pytest.raises(PublishError) as refused:
            publisher.publish([OutRecord(topic, "k", b"{}", [])])
    finally:
        publisher.close()
    assert str(refused.value).endswith(
        f": Kafka denied user hub access to topic {topic} (TopicAuthorizationFailedError): "
        "an ACL is missing (see docs/operations.md, 'Kafka ACLs')"
    )

    with pytest.raises(KafkaAccessError) as create:
        ensure_topics(settings.bootstrap, settings.kafka, [Group])
    assert (
        f"Kafka denied user hub access to topic {dead_letter_topic(prefix)}, "
        f"{entity_topic(prefix, Group)} (Create)"
    ) in str(create.value)


def test_a_plaintext_client_gets_nothing_from_the_secured_listener(
    secure_kafka: SecureLocalKafka, hub_password: str, url: str
):
    """A client configured without TLS is told the listener wants TLS; nothing falls back."""
    settings = _settings(secure_kafka, url, security=KafkaSecurity())
    with pytest.raises(KafkaAccessError) as checked:
        probe(settings.bootstrap, settings.kafka, timeout_ms=3000)
    assert (
        f"Kafka at {settings.bootstrap} does not answer plaintext Kafka requests: the "
        "listener probably requires TLS"
    ) in str(checked.value)


def test_hub_check_reports_the_negotiated_protocol(
    secure_kafka: SecureLocalKafka,
    hub_password: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
):
    """`hub check` prints the TLS version and SASL mechanism it connected with."""
    config = tmp_path / "hub.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "kafka": {
                    "bootstrap": secure_kafka.read_state_bootstrap(),
                    "security": json.loads(secure_kafka.security().model_dump_json()),
                },
                "database_url": f"sqlite:///{tmp_path / 'hub.db'}",
                "tenants": [],
            }
        ),
        encoding="utf-8",
    )
    monkeypatch.setenv("HUB_CONFIG", str(config))
    assert 0 == main(["check", "--json"])
    checks = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["checks"]
    kafka = next(c for c in checks if c["what"] == "kafka")
    assert "ok" == kafka["status"]
    assert " SASL_SSL (TLSv1." in kafka["detail"]
    assert "SCRAM-SHA-512 as user hub), " in kafka["detail"]
    assert ADMIN_USER != HUB_USER


def test_a_materialiser_without_read_names_the_topic(
    secure_kafka: SecureLocalKafka, hub_password: str, url: str
):
    """Without Read on its topics the materialiser fails naming the topic, storing nothing."""
    settings = _settings(secure_kafka, url)
    prefix = settings.kafka.topic_prefix
    secure_kafka.grant_acls(
        [Acl("TOPIC", "PREFIXED", f"{prefix}.", op) for op in ("DESCRIBE", "WRITE", "CREATE")]
        + [Acl("CLUSTER", "LITERAL", "kafka-cluster", "IDEMPOTENT_WRITE")]
    )
    ensure_topics(settings.bootstrap, settings.kafka, [Person, Group])
    report = _sync_people(settings, 1)
    assert ("success", 1) == (report.status, report.created), report.error
    with pytest.raises(KafkaAccessError) as refused:
        materialise(settings, group="g")
    topics = {entity_topic(prefix, t) for t in (Person, Group)}
    message = str(refused.value)
    assert message.startswith("Kafka denied user hub access to topic ")
    assert message.split(" ")[7] in topics
    engine = sa.create_engine(url)
    assert {} == Materialiser(engine, settings.bootstrap, prefix, "g").stored_offsets()
    engine.dispose()


class _TokenEndpoint(BaseHTTPRequestHandler):
    """An identity provider's token endpoint handing out unsigned tokens for `hub`.

    The secured test broker validates OAUTHBEARER with Kafka's unsecured validator, which
    takes the principal from the token's `sub`.
    """

    grants: ClassVar[list[str]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        _TokenEndpoint.grants.append(body)
        now = int(time.time())
        token = ".".join(
            [_b64({"alg": "none"}), _b64({"sub": HUB_USER, "iat": now, "exp": now + 600}), ""]
        )
        answer = json.dumps({"access_token": token, "expires_in": 600}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: object) -> None:
        """Quiet."""


def _b64(part: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()


def test_oauthbearer_tokens_from_a_token_endpoint_authenticate_the_hub(
    secure_kafka: SecureLocalKafka,
    hub_password: str,
    url: str,
    monkeypatch: pytest.MonkeyPatch,
):
    """With OAUTHBEARER the hub gets a client-credentials token and publishes with it."""
    server = HTTPServer(("127.0.0.1", 0), _TokenEndpoint)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("KAFKA_OAUTH_SECRET", "client-secret")
    security = KafkaSecurity.model_validate(
        {
            "protocol": "SASL_SSL",
            "ca_file": str(secure_kafka.ca_file),
            "sasl_mechanism": "OAUTHBEARER",
            "oauth": {
                "token_url": f"http://127.0.0.1:{server.server_address[1]}/token",
                "client_id": "skolehub",
                "secret": {"env": "KAFKA_OAUTH_SECRET"},
                "scope": "kafka",
            },
        }
    )
    try:
        settings = _settings(secure_kafka, url, security=security)
        secure_kafka.grant(settings.kafka)
        ensure_topics(settings.bootstrap, settings.kafka, [Person, Group])
        report = _sync_people(settings, 2)
        assert ("success", 2) == (report.status, report.created), report.error
        found = probe(settings.bootstrap, settings.kafka)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    assert found.protocol.endswith("OAUTHBEARER as OAuth client skolehub)")
    assert _TokenEndpoint.grants and all(
        "grant_type=client_credentials" in g for g in _TokenEndpoint.grants
    )


def test_mutual_tls_authenticates_the_hub_by_its_certificate(
    secure_kafka: SecureLocalKafka, hub_password: str, url: str
):
    """On a listener that requires client certificates the hub's certificate is its name."""
    client = secure_kafka.client_certificate("hub-client")
    security = KafkaSecurity.model_validate(
        {
            "protocol": "SSL",
            "ca_file": str(secure_kafka.ca_file),
            "cert_file": str(client.cert_file),
            "key_file": str(client.key_file),
        }
    )
    settings = _settings(secure_kafka, url, security=security)
    settings = settings.model_copy(
        update={
            "kafka": settings.kafka.model_copy(update={"bootstrap": secure_kafka.mtls_bootstrap})
        }
    )
    secure_kafka.grant(settings.kafka, user="CN=hub-client,O=Skolehub development")
    ensure_topics(settings.bootstrap, settings.kafka, [Person, Group])
    report = _sync_people(settings, 2)
    assert ("success", 2) == (report.status, report.created), report.error
    found = probe(settings.bootstrap, settings.kafka)
    assert found.protocol.startswith("SSL (TLSv1.")
    assert found.protocol.endswith("client certificate hub-client.pem)")

    anonymous = settings.kafka.model_copy(
        update={"security": KafkaSecurity(protocol="SSL", ca_file=secure_kafka.ca_file)}
    )
    with pytest.raises(KafkaAccessError) as refused:
        probe(settings.bootstrap, anonymous, timeout_ms=3000)
    assert (
        f"Kafka at {settings.bootstrap} requires a client certificate (mutual TLS): "
        "set kafka.security.cert_file and key_file"
    ) == str(refused.value)
