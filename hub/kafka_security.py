"""How every Kafka client of the hub connects: TLS, SASL, and errors an operator can act on.

`client_config` turns hub.yaml's `kafka.security` into kafka-python's connection options;
every producer, consumer and admin client the hub creates takes its options from there,
so the sync publisher, the materialiser, the follow-up publisher, topic creation and the
health checks connect alike. `explain` turns what kafka-python raises into one sentence
naming what to fix (an untrusted certificate, refused credentials, a missing ACL with its
resource); `probe` is `hub check`'s connection test and reports what was negotiated.
The secrets (SASL password, key passphrase, OAuth client secret) are resolved when a client
is made and never appear in a message or a log line.
"""

from __future__ import annotations

import gc
import logging
import socket
import ssl
import struct
import threading
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import requests
import structlog
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.errors import (
    AuthorizationError,
    ClusterAuthorizationFailedError,
    GroupAuthorizationFailedError,
    KafkaError,
    SaslAuthenticationFailedError,
    TopicAuthorizationFailedError,
    TransactionalIdAuthorizationFailedError,
    UnsupportedSaslMechanismError,
)
from kafka.net.sasl.oauth import AbstractTokenProvider

from connectors.settings import SettingsError
from hub.settings import KafkaOAuth, KafkaSecurity, KafkaSettings

log = structlog.get_logger(__name__)

#: Fetch limits of a consumer that reads topics to their end (the materialiser, the
#: publisher's read-back after a crash): at most 256 KiB per partition and 8 MiB per
#: fetch. kafka-python's defaults (1 MiB and 50 MiB) let it buffer a megabyte of every
#: assigned partition, with the next fetch already in flight: reading 807,335 events from
#: 21 partitions peaked 79 MB above the reader's start with the defaults and 37 MB with
#: these, in the same time (docs/scaling.md, "The materialiser's fetch buffers"). A record
#: batch larger than the limits is still returned whole, so nothing stalls.
TOPIC_READER_FETCH: dict[str, int] = {
    "max_partition_fetch_bytes": 256 * 1024,
    "fetch_max_bytes": 8 * 1024 * 1024,
}

#: How long before its expiry an OAuth token is replaced.
_TOKEN_LEEWAY_S = 60.0
_TOKEN_TIMEOUT_S = 15.0


class KafkaAccessError(KafkaError):
    """The hub could not connect to, authenticate with, or act on the Kafka cluster.

    A `KafkaError`, so every caller that handles Kafka failures handles it; its message
    says what to fix.
    """

    retriable = False

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class ClientCredentialsTokenProvider(AbstractTokenProvider):
    """OAUTHBEARER tokens from a token endpoint (OAuth 2.0 client credentials), cached."""

    def __init__(self, settings: KafkaOAuth) -> None:
        super().__init__()
        self.settings = settings
        self._lock = threading.Lock()
        self._token: str | None = None
        self._renew_at = 0.0

    def token(self) -> str:
        """A valid access token, fetching a new one when none is cached or it expires soon."""
        with self._lock:
            if self._token is None or time.monotonic() >= self._renew_at:
                self._fetch()
            assert self._token is not None
            return self._token

    def _fetch(self) -> None:
        data = {"grant_type": "client_credentials"}
        if self.settings.scope:
            data["scope"] = self.settings.scope
        verify: bool | str = str(self.settings.ca_file) if self.settings.ca_file else True
        try:
            response = requests.post(
                self.settings.token_url,
                data=data,
                auth=(self.settings.client_id, self.settings.secret.resolve()),
                timeout=_TOKEN_TIMEOUT_S,
                verify=verify,
            )
        except requests.RequestException as exc:
            raise KafkaAccessError(
                f"Kafka OAuth token endpoint {self.settings.token_url} did not answer: "
                f"{type(exc).__name__}"
            ) from None
        if response.status_code >= 400:
            raise KafkaAccessError(
                f"Kafka OAuth token endpoint refused client {self.settings.client_id} "
                f"(HTTP {response.status_code})"
            )
        try:
            body = response.json()
            token = str(body["access_token"])
            lifetime = float(body.get("expires_in") or 3600)
        except (ValueError, KeyError, TypeError):
            raise KafkaAccessError(
                f"Kafka OAuth token endpoint {self.settings.token_url} answered without an "
                "access_token"
            ) from None
        self._token = token
        self._renew_at = time.monotonic() + max(lifetime - min(_TOKEN_LEEWAY_S, lifetime / 10), 0)
        log.info("kafka_token_fetched", client_id=self.settings.client_id, expires_in=lifetime)


def client_config(bootstrap: str, security: KafkaSecurity, **options: Any) -> dict[str, Any]:
    """kafka-python's keyword arguments for a client of `bootstrap` secured as configured.

    `options` are the client's own (client id, timeouts); they cannot override security.
    """
    config: dict[str, Any] = {
        **options,
        "bootstrap_servers": bootstrap,
        "security_protocol": security.protocol,
    }
    if security.tls:
        config["ssl_context"] = ssl_context(security)
    if security.sasl:
        config["sasl_mechanism"] = security.sasl_mechanism
        if security.sasl_mechanism == "OAUTHBEARER":
            assert security.oauth is not None
            config["sasl_oauth_token_provider"] = ClientCredentialsTokenProvider(security.oauth)
        else:
            assert security.password is not None
            config["sasl_plain_username"] = security.username
            config["sasl_plain_password"] = _Secret(security.password.resolve())
    return config


class _Secret(str):
    """A secret string that shows as `[redacted]`: kafka-python logs its whole configuration."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "'[redacted]'"


def ssl_context(security: KafkaSecurity) -> ssl.SSLContext:
    """The TLS context of a client: TLS 1.2 or newer, the CA bundle, the client certificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = security.check_hostname
    try:
        if security.ca_file is not None:
            context.load_verify_locations(cafile=str(security.ca_file))
        else:
            context.load_default_certs()
        if security.cert_file is not None:
            password = security.key_password.resolve() if security.key_password else None
            context.load_cert_chain(
                str(security.cert_file), str(security.key_file), password=password
            )
    except (OSError, ssl.SSLError) as exc:
        raise SettingsError(
            f"kafka.security: cannot load the TLS files ({type(exc).__name__}: "
            f"{getattr(exc, 'strerror', None) or exc})"
        ) from None
    return context


def admin_client(bootstrap: str, security: KafkaSecurity, **options: Any) -> KafkaAdminClient:
    """A connected admin client; raise `KafkaAccessError` saying why it could not connect."""
    return _connected(KafkaAdminClient, bootstrap, security, options)


def consumer(bootstrap: str, security: KafkaSecurity, **options: Any) -> KafkaConsumer:
    """A consumer (no group unless `options` name one), as `admin_client`."""
    return _connected(KafkaConsumer, bootstrap, security, options)


def producer(bootstrap: str, security: KafkaSecurity, **options: Any) -> KafkaProducer:
    """A producer, as `admin_client`."""
    return _connected(KafkaProducer, bootstrap, security, options)


_Client = TypeVar("_Client")


def _connected(
    factory: Callable[..., _Client],
    bootstrap: str,
    security: KafkaSecurity,
    options: dict[str, Any],
) -> _Client:
    config = client_config(bootstrap, security, **options)
    try:
        return factory(**config)
    except KafkaAccessError:
        raise
    except KafkaError as exc:
        _close_abandoned_sockets()
        raise KafkaAccessError(explain(exc, bootstrap, security)) from None


def _close_abandoned_sockets() -> None:
    """Close the sockets of a client that failed to bootstrap.

    kafka-python leaves the sockets of connections a broker closed during the TLS or SASL
    handshake to the garbage collector, which warns about each one later, anywhere.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


def cause(exc: BaseException, bootstrap: str, security: KafkaSecurity) -> str | None:
    """Why a Kafka call failed, when the failure is one of access: the sentence, else None.

    Authorisation and SASL errors always are; a timeout or a lost connection is looked
    into (reachability, TLS trust, plaintext against TLS, refused credentials).
    """
    if isinstance(exc, KafkaAccessError):
        return str(exc)
    if isinstance(exc, AuthorizationError | SaslAuthenticationFailedError):
        return explain(exc, bootstrap, security)
    return _diagnose_connection(bootstrap, security)


def who(security: KafkaSecurity) -> str:
    """The client's identity as a sentence fragment, for messages."""
    if security.sasl_mechanism == "OAUTHBEARER" and security.oauth is not None:
        return f"OAuth client {security.oauth.client_id}"
    if security.username:
        return f"user {security.username}"
    if security.cert_file is not None:
        return f"the certificate {security.cert_file}"
    return "the anonymous client"


def explain(exc: BaseException, bootstrap: str, security: KafkaSecurity) -> str:
    """One sentence on why a Kafka call failed and what to fix; never holds a secret."""
    if isinstance(exc, KafkaAccessError | SettingsError):
        return str(exc)
    if isinstance(exc, SaslAuthenticationFailedError):
        return (
            f"Kafka at {bootstrap} refused the credentials of {who(security)} "
            f"(SASL {security.sasl_mechanism}): wrong username or password, or no such user"
        )
    if isinstance(exc, UnsupportedSaslMechanismError):
        return f"Kafka at {bootstrap} does not offer SASL {security.sasl_mechanism}: {exc}"
    if isinstance(exc, AuthorizationError):
        return denied(exc, security)
    cause = _diagnose_connection(bootstrap, security)
    if cause is not None:
        return cause
    return f"Kafka at {bootstrap} failed: {type(exc).__name__}: {exc}"


_RESOURCE = {
    TopicAuthorizationFailedError: "topic",
    GroupAuthorizationFailedError: "consumer group",
    ClusterAuthorizationFailedError: "cluster",
    TransactionalIdAuthorizationFailedError: "transactional id",
}


def denied(exc: AuthorizationError, security: KafkaSecurity, what: str = "") -> str:
    """The message of a missing ACL, naming the resource kind and (when known) its name."""
    kind = next((k for t, k in _RESOURCE.items() if isinstance(exc, t)), "resource")
    names = what or _names_in(exc)
    target = f"{kind} {names}" if names else kind
    return (
        f"Kafka denied {who(security)} access to {target} ({type(exc).__name__}): "
        "an ACL is missing (see docs/operations.md, 'Kafka ACLs')"
    )


def _names_in(exc: BaseException) -> str:
    args = [a for a in exc.args if a]
    names: list[str] = []
    for arg in args:
        if isinstance(arg, set | list | tuple | frozenset):
            names += sorted(str(a) for a in arg)
        else:
            text = str(arg)
            if text and "AUTHORIZATION_FAILED" not in text:
                names.append(text)
    return ", ".join(names)


def _first_address(bootstrap: str) -> tuple[str, int]:
    first = bootstrap.split(",")[0].strip()
    host, _, port = first.rpartition(":")
    return host.strip("[]") or first, int(port or 9092)


def _diagnose_connection(bootstrap: str, security: KafkaSecurity) -> str | None:
    """Find why a connection failed below Kafka: unreachable, TLS trust, TLS vs plaintext."""
    try:
        host, port = _first_address(bootstrap)
    except ValueError:
        return f"kafka.bootstrap {bootstrap!r} is not host:port"
    try:
        sock = socket.create_connection((host, port), timeout=5)
    except OSError as exc:
        return f"Kafka at {host}:{port} is not reachable ({type(exc).__name__})"
    with sock:
        if not security.tls:
            if not _speaks_plaintext_kafka(sock):
                return (
                    f"Kafka at {host}:{port} does not answer plaintext Kafka requests: the "
                    "listener probably requires TLS (set kafka.security.protocol to SSL or "
                    "SASL_SSL and its ca_file)"
                )
            return _sasl_failure(bootstrap, security)
        try:
            tls = ssl_context(security).wrap_socket(
                sock, server_hostname=host, do_handshake_on_connect=False
            )
        except (ssl.SSLError, SettingsError) as exc:
            return str(exc) if isinstance(exc, SettingsError) else f"TLS setup failed: {exc}"
        try:
            tls.do_handshake()
            refusal = _refused_after_handshake(tls)
            if refusal is not None:
                if security.cert_file is None:
                    return (
                        f"Kafka at {host}:{port} requires a client certificate (mutual TLS): "
                        "set kafka.security.cert_file and key_file"
                    )
                return (
                    f"Kafka at {host}:{port} refused the client certificate "
                    f"{security.cert_file} ({refusal})"
                )
        except ssl.SSLCertVerificationError as exc:
            trusted = security.ca_file or "the system's CA store"
            return (
                f"the certificate of Kafka at {host}:{port} is not trusted by {trusted}: "
                f"{exc.verify_message}"
            )
        except (ssl.SSLError, OSError) as exc:
            return (
                f"TLS handshake with Kafka at {host}:{port} failed ({type(exc).__name__}): "
                "is the listener TLS, and does it accept this client certificate?"
            )
        finally:
            tls.close()
    return _sasl_failure(bootstrap, security)


def _refused_after_handshake(tls: ssl.SSLSocket) -> str | None:
    """Why the broker dropped a TLS connection at the first request, or None if it answered.

    With TLS 1.3 a broker rejects a missing or untrusted client certificate only after
    the client's side of the handshake has finished, so the first request finds out.
    """
    try:
        return None if _speaks_plaintext_kafka(tls, raise_tls=True) else "connection closed"
    except ssl.SSLError as exc:
        return str(exc.reason or exc)


def _speaks_plaintext_kafka(sock: socket.socket, *, raise_tls: bool = False) -> bool:
    """Whether the peer answers an ApiVersions (v0) request (over `sock`, TLS or not)."""
    client_id = b"skolehub-check"
    body = struct.pack(">hhih", 18, 0, 7, len(client_id)) + client_id
    try:
        sock.settimeout(3)
        sock.sendall(struct.pack(">i", len(body)) + body)
        header = sock.recv(8)
    except ssl.SSLError:
        if raise_tls:
            raise
        return False
    except OSError:
        return False
    return len(header) == 8 and struct.unpack(">ii", header)[1] == 7


class _SaslWatch(logging.Handler):
    """Sees whether a connection ended while kafka-python was authenticating with SASL.

    A broker that refuses SASL credentials answers and closes the connection at once;
    kafka-python reports the lost connection and retries until its bootstrap times out.
    Only the kind of each record is looked at: nothing of it is kept or passed on.
    """

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.authenticating = False
        self.refused = False

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "SaslAuthenticationFailed" in message:
            self.refused = True
        elif "Request" in message and "SaslAuthenticateRequest" in message:
            self.authenticating = True
        elif "Connection lost" in message and self.authenticating:
            self.refused = True
        elif "Connected" in message:
            self.authenticating = False


def _sasl_failure(bootstrap: str, security: KafkaSecurity) -> str | None:
    """Connect once more to see whether SASL refused the client (kafka-python retries it)."""
    if not security.sasl:
        return None
    watch = _SaslWatch()
    logger = logging.getLogger("kafka.net.connection")
    level, propagate = logger.level, logger.propagate
    logger.addHandler(watch)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False  # the debug records (SASL exchanges) go nowhere else
    try:
        admin = KafkaAdminClient(
            **client_config(
                bootstrap, security, client_id="skolehub-check", bootstrap_timeout_ms=3000
            )
        )
        admin.close()
    except (KafkaError, KafkaAccessError, OSError):
        _close_abandoned_sockets()
    finally:
        logger.removeHandler(watch)
        logger.setLevel(level)
        logger.propagate = propagate
    if watch.refused:
        return explain(SaslAuthenticationFailedError(), bootstrap, security)
    return None


@dataclass(frozen=True)
class ProbeResult:
    """What `probe` found: the negotiated protocol and how many topics the client may see."""

    protocol: str
    topics: int

    def describe(self) -> str:
        """`SASL_SSL (TLSv1.3, SCRAM-SHA-512 as hub), 12 topics`."""
        return f"{self.protocol}, {self.topics} topics"


def negotiated(bootstrap: str, security: KafkaSecurity) -> str:
    """The protocol a connection to the first bootstrap broker negotiates.

    For example `SASL_SSL (TLSv1.3 TLS_AES_256_GCM_SHA384, SCRAM-SHA-512 as user hub)`.
    """
    parts: list[str] = []
    if security.tls:
        host, port = _first_address(bootstrap)
        sock = socket.create_connection((host, port), timeout=5)
        tls = ssl_context(security).wrap_socket(
            sock, server_hostname=host, do_handshake_on_connect=False
        )
        try:
            tls.do_handshake()
            cipher = tls.cipher()
            parts.append(f"{tls.version()} {cipher[0] if cipher else ''}".strip())
        finally:
            tls.close()
    if security.sasl:
        parts.append(f"{security.sasl_mechanism} as {who(security)}")
    elif security.cert_file is not None:
        parts.append(f"client certificate {security.cert_file.name}")
    return security.protocol + (f" ({', '.join(parts)})" if parts else "")


def probe(bootstrap: str, settings: KafkaSettings, timeout_ms: int = 10_000) -> ProbeResult:
    """Connect, authenticate and list topics as the hub would; raise `KafkaAccessError`."""
    security = settings.security
    try:
        admin = admin_client(
            bootstrap,
            security,
            client_id="skolehub-check",
            bootstrap_timeout_ms=timeout_ms,
            request_timeout_ms=timeout_ms,
        )
        try:
            topics = admin.list_topics()
        finally:
            admin.close()
        protocol = negotiated(bootstrap, security)
    except (KafkaError, OSError, SettingsError, KafkaAccessError) as exc:
        raise KafkaAccessError(explain(exc, bootstrap, security)) from None
    return ProbeResult(protocol, len(topics))


def missing_topics(wanted: Iterable[str], existing: Iterable[str]) -> list[str]:
    """The wanted topics the cluster lacks (or this client may not describe), sorted."""
    have = set(existing)
    return sorted(t for t in wanted if t not in have)


@dataclass(frozen=True)
class Acl:
    """One ALLOW rule the hub's principal needs: operation on a resource (pattern)."""

    resource_type: str  # TOPIC or CLUSTER
    pattern_type: str  # PREFIXED or LITERAL
    resource: str
    operation: str

    def kafka_acls_args(self, principal: str) -> str:
        """The `kafka-acls.sh --add` arguments that grant this rule to `principal`."""
        target = (
            "--cluster"
            if self.resource_type == "CLUSTER"
            else f"--topic '{self.resource}' --resource-pattern-type {self.pattern_type.lower()}"
        )
        operation = "".join(part.title() for part in self.operation.split("_"))
        return f"--allow-principal {principal} --operation {operation} {target}"


def hub_acls(settings: KafkaSettings) -> list[Acl]:
    """Exactly the ACLs the hub needs on a cluster with an authoriser, for its topic prefix.

    Write and Describe on its topics (publishing, listing, end offsets), Read on them (the
    materialiser and the recovery of an interrupted run read them back; offsets live in the
    store, so no consumer group is used), IdempotentWrite on the cluster (the idempotent
    producer; Kafka 3.0 and newer also accept Write on a topic for it), and Create on its
    topics only when it creates them (`kafka.create_topics`).
    """
    prefix = f"{settings.topic_prefix}."
    operations = ["DESCRIBE", "READ", "WRITE"] + (["CREATE"] if settings.create_topics else [])
    acls = [Acl("TOPIC", "PREFIXED", prefix, op) for op in operations]
    acls.append(Acl("CLUSTER", "LITERAL", "kafka-cluster", "IDEMPOTENT_WRITE"))
    return acls
