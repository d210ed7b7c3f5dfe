"""kafka.security in hub.yaml: validation, kafka-python options, OAuth tokens, ACLs, messages."""

from __future__ import annotations

import ast
import json
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from kafka.errors import TopicAuthorizationFailedError

from connectors.settings import SettingsError
from hub.dev.kafka_secure import issue_certificate, make_ca
from hub.kafka_security import (
    ClientCredentialsTokenProvider,
    KafkaAccessError,
    client_config,
    explain,
    hub_acls,
)
from hub.settings import KafkaOAuth, KafkaSecurity, KafkaSettings, parse_settings

ROOT = Path(__file__).resolve().parents[3]


def _security(**fields: Any) -> KafkaSecurity:
    return KafkaSecurity.model_validate(fields)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"protocol": "SASL_SSL"}, "protocol SASL_SSL needs sasl_mechanism"),
        (
            {"protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512", "username": "hub"},
            "sasl_mechanism SCRAM-SHA-512 needs username and password",
        ),
        ({"ca_file": "/ca.pem"}, "ca_file need protocol SSL or SASL_SSL"),
        (
            {"protocol": "SSL", "cert_file": "/c.pem"},
            "give both cert_file and key_file for mutual TLS, or neither",
        ),
        (
            {"username": "hub", "password": {"env": "P"}},
            "username, password need protocol SASL_SSL (or SASL_PLAINTEXT)",
        ),
        (
            {"protocol": "SASL_SSL", "sasl_mechanism": "OAUTHBEARER"},
            "sasl_mechanism OAUTHBEARER needs oauth",
        ),
    ],
)
def test_an_inconsistent_security_section_fails_at_load_with_its_path(
    fields: dict[str, Any], message: str
):
    """A security setting that cannot work is refused when hub.yaml loads, naming the field."""
    with pytest.raises(SettingsError) as error:
        parse_settings({"kafka": {"security": fields}, "tenants": []})
    assert "kafka.security:" in str(error.value)
    assert message in str(error.value)


def test_the_password_is_never_in_hub_yaml():
    """The SASL password is a reference (env or Airflow connection), not a value."""
    with pytest.raises(SettingsError):
        parse_settings(
            {
                "kafka": {
                    "security": {
                        "protocol": "SASL_SSL",
                        "sasl_mechanism": "PLAIN",
                        "username": "hub",
                        "password": "hunter2",
                    }
                },
                "tenants": [],
            }
        )


def test_scram_over_tls_gives_kafka_python_the_protocol_context_and_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """SASL_SSL with SCRAM: the CA is loaded, host names checked, the password resolved."""
    ca = make_ca(tmp_path)
    monkeypatch.setenv("KAFKA_TEST_PASSWORD", "s3cret")
    security = _security(
        protocol="SASL_SSL",
        ca_file=str(ca.ca_file),
        sasl_mechanism="SCRAM-SHA-256",
        username="hub",
        password={"env": "KAFKA_TEST_PASSWORD"},
    )
    config = client_config("b:9093", security, client_id="x", security_protocol="PLAINTEXT")
    context = config.pop("ssl_context")
    assert {
        "client_id": "x",
        "bootstrap_servers": "b:9093",
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-256",
        "sasl_plain_username": "hub",
        "sasl_plain_password": "s3cret",
    } == config
    assert isinstance(context, ssl.SSLContext)
    assert (True, ssl.TLSVersion.TLSv1_2) == (context.check_hostname, context.minimum_version)
    assert 1 == context.cert_store_stats()["x509_ca"]
    assert "s3cret" not in repr(config)  # kafka-python logs its configuration at debug level


def test_mutual_tls_loads_the_client_certificate(tmp_path: Path):
    """SSL with cert_file and key_file authenticates the client by certificate."""
    ca = make_ca(tmp_path)
    client = issue_certificate(ca, tmp_path, "hub-client", ("hub",))
    security = _security(
        protocol="SSL",
        ca_file=str(ca.ca_file),
        cert_file=str(client.cert_file),
        key_file=str(client.key_file),
    )
    config = client_config("b:9093", security)
    assert "SSL" == config["security_protocol"]
    assert "sasl_mechanism" not in config


def test_plaintext_sends_no_credentials():
    """The default is the loopback broker: plaintext, no TLS, no SASL."""
    assert {"bootstrap_servers": "b:9092", "security_protocol": "PLAINTEXT"} == client_config(
        "b:9092", KafkaSecurity()
    )


def test_a_missing_password_variable_is_named(monkeypatch: pytest.MonkeyPatch):
    """An unset secret fails naming the variable, before any connection."""
    monkeypatch.delenv("KAFKA_UNSET_PASSWORD", raising=False)
    security = _security(
        protocol="SASL_SSL",
        sasl_mechanism="PLAIN",
        username="hub",
        password={"env": "KAFKA_UNSET_PASSWORD"},
    )
    with pytest.raises(SettingsError, match="KAFKA_UNSET_PASSWORD is not set"):
        client_config("b:9093", security)


class _TokenEndpoint(BaseHTTPRequestHandler):
    calls: list[dict[str, Any]] = []
    status = 200

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        length = int(self.headers["Content-Length"])
        _TokenEndpoint.calls.append(
            {"auth": self.headers["Authorization"], "body": self.rfile.read(length).decode()}
        )
        body = json.dumps({"access_token": "tok-1", "expires_in": 3600}).encode()
        self.send_response(_TokenEndpoint.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def token_url() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _TokenEndpoint)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _TokenEndpoint.calls = []
    _TokenEndpoint.status = 200
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/oauth2/token"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_oauthbearer_fetches_a_client_credentials_token_once(
    token_url: str, monkeypatch: pytest.MonkeyPatch
):
    """The token provider asks the endpoint once and reuses the token until it expires."""
    monkeypatch.setenv("KAFKA_OAUTH_SECRET", "client-secret")
    oauth = KafkaOAuth(
        token_url=token_url,
        client_id="skolehub",
        secret={"env": "KAFKA_OAUTH_SECRET"},  # type: ignore[arg-type]
        scope="kafka",
    )
    security = _security(protocol="SASL_SSL", sasl_mechanism="OAUTHBEARER", oauth=oauth)
    provider = client_config("b:9093", security)["sasl_oauth_token_provider"]
    assert isinstance(provider, ClientCredentialsTokenProvider)
    assert ("tok-1", "tok-1") == (provider.token(), provider.token())
    assert 1 == len(_TokenEndpoint.calls)
    assert "grant_type=client_credentials&scope=kafka" == _TokenEndpoint.calls[0]["body"]
    assert _TokenEndpoint.calls[0]["auth"].startswith("Basic ")


def test_a_refused_token_request_names_the_client_not_the_secret(
    token_url: str, monkeypatch: pytest.MonkeyPatch
):
    """A 401 from the token endpoint fails with the client id and status, no secret."""
    monkeypatch.setenv("KAFKA_OAUTH_SECRET", "client-secret")
    _TokenEndpoint.status = 401
    provider = ClientCredentialsTokenProvider(
        KafkaOAuth(
            token_url=token_url,
            client_id="skolehub",
            secret={"env": "KAFKA_OAUTH_SECRET"},  # type: ignore[arg-type]
        )
    )
    with pytest.raises(KafkaAccessError) as refused:
        provider.token()
    assert "Kafka OAuth token endpoint refused client skolehub (HTTP 401)" == str(refused.value)


def test_a_missing_acl_message_names_the_topic_and_the_user():
    """An authorisation error becomes one sentence with the resource and who was refused."""
    security = _security(
        protocol="SASL_SSL", sasl_mechanism="PLAIN", username="hub", password={"env": "X"}
    )
    message = explain(TopicAuthorizationFailedError("hub.identity.person.v1"), "b:1", security)
    assert (
        "Kafka denied user hub access to topic hub.identity.person.v1 "
        "(TopicAuthorizationFailedError): an ACL is missing (see docs/operations.md, "
        "'Kafka ACLs')"
    ) == message


def test_the_hub_needs_create_only_when_it_creates_topics():
    """The ACL list: Describe, Read, Write on the prefix, IdempotentWrite, Create if asked."""
    creating = [(a.resource, a.operation) for a in hub_acls(KafkaSettings(topic_prefix="skole"))]
    assert [
        ("skole.", "DESCRIBE"),
        ("skole.", "READ"),
        ("skole.", "WRITE"),
        ("skole.", "CREATE"),
        ("kafka-cluster", "IDEMPOTENT_WRITE"),
    ] == creating
    provisioned = hub_acls(KafkaSettings(topic_prefix="skole", create_topics=False))
    assert "CREATE" not in {a.operation for a in provisioned}


def test_docs_list_exactly_the_acls_the_code_grants():
    """docs/operations.md shows the kafka-acls.sh lines of `hub_acls`, so the two agree."""
    docs = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    for acl in hub_acls(KafkaSettings()):
        assert acl.kafka_acls_args("User:hub") in docs


def _calls(name: str) -> list[tuple[str, ast.Call]]:
    found = []
    for path in sorted((ROOT / "hub").rglob("*.py")):
        if "dev" in path.relative_to(ROOT / "hub").parts:
            continue  # the workbench's plaintext launchers
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                func = node.func
                called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if called == name:
                    found.append((str(path.relative_to(ROOT)), node))
    return found


def test_every_kafka_client_of_the_hub_is_made_with_its_security_settings():
    """No product code makes a kafka-python client or a materialiser past `kafka.security`."""
    unsecured = [
        f"{path}:{call.lineno} {name}"
        for name in ("KafkaProducer", "KafkaConsumer", "KafkaAdminClient")
        for path, call in _calls(name)
        if path != "hub/kafka_security.py"
        and not any(
            isinstance(k.value, ast.Call) and getattr(k.value.func, "id", "") == "client_config"
            for k in call.keywords
            if k.arg is None
        )
    ]
    unsecured += [
        f"{path}:{call.lineno} Materialiser"
        for path, call in _calls("Materialiser")
        if "security" not in {k.arg for k in call.keywords}
    ]
    assert [] == unsecured
