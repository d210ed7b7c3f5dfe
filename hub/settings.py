"""The hub's configuration: `hub.yaml` validated by pydantic, plus a few environment variables.

A wrong file fails at load with the dotted path of the bad field and what was expected.
Secrets are never in the file: a source names the environment variable or the Airflow
connection that holds its secret (`SecretRef`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal, TypeAlias

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from connectors import registry
from connectors.settings import ConfiguredSource, SecretRef, SettingsError
from connectors.settings import SettingsModel as _Model
from hub.policy import Policy

#: Every environment variable the hub reads, with what it means. docker/ and the README
#: are checked against this table by the tests.
ENVIRONMENT: Mapping[str, str] = {
    "HUB_CONFIG": "path of hub.yaml "
    "(default: $HUB_VAR_DIR/hub.yaml, which `hub sandbox up` writes)",
    "HUB_VAR_DIR": "working folder for local state, caches and local services (default: ./var)",
    "HUB_DATABASE_URL": "SQLAlchemy URL of the state and reporting store "
    "(default: sqlite:///$HUB_VAR_DIR/hub.db; postgresql+psycopg2://... in production)",
    "HUB_KAFKA_BOOTSTRAP": "Kafka bootstrap servers; overrides kafka.bootstrap in hub.yaml",
    "HUB_HMAC_KEY": "key for the keyed HMAC of national identity numbers and pseudonyms",
    "HUB_ENV_FILE": "optional KEY=value file read at start-up; never overrides the environment",
    "HUB_LOG_FORMAT": "`json` (default when not a terminal) or `console`",
    "HUB_AIRFLOW_PORT": "port of the local Airflow of `hub airflow up` and `make airflow` "
    "(default: 8080)",
    "HUB_AIRFLOW_DATABASE_URL": "metadata database of `hub airflow up` (default: a local "
    "PostgreSQL cluster in the Airflow home)",
    "HUB_LEASE_TTL_SECONDS": "how long a run's lease lives without renewal (default: 300); "
    "a run that dies blocks its source at most this long",
    "HUB_PUSH_SECRET": "key of the tokens in the webhook URLs SS 12000 subscriptions post to "
    "(`hub listen`, `hub subscribe`; at least 16 characters)",
    "HUB_PUSH_URL": "the webhook receiver's URL as the sources reach it (`hub listen --url`)",
    "HUB_AIRFLOW_USERNAME": "login of `hub listen --airflow` to Airflow's REST API",
    "HUB_AIRFLOW_PASSWORD": "password of that login",
    "HUB_FAULT_POINT": "tests only: the fault point at which a process SIGKILLs itself "
    "(docs/reliability.md)",
    "HUB_FAULT_AFTER": "tests only: how many times the fault point passes before it fires",
}

_NAME = r"^[a-z][a-z0-9_-]{0,62}$"


if TYPE_CHECKING:
    SourceSettings: TypeAlias = ConfiguredSource
else:
    #: Any connector's settings, discriminated by `type`: built from the connector registry.
    SourceSettings = registry.settings_union()


SecurityProtocol: TypeAlias = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism: TypeAlias = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"]


class KafkaOAuth(_Model):
    """OAUTHBEARER tokens from the owner's identity provider (client credentials grant)."""

    token_url: Annotated[str, Field(pattern=r"^https?://")]
    client_id: str
    secret: SecretRef
    scope: str | None = None
    #: The token endpoint's CA bundle, when it is not in the system's store.
    ca_file: Path | None = None


class KafkaSecurity(_Model):
    """How the hub's Kafka clients connect: TLS, SASL and the files and secrets they need.

    The default is plaintext without authentication (the loopback broker of `make run`).
    Secrets (the SASL password, the client key's passphrase, the OAuth client secret) are
    `SecretRef`s: an environment variable or an Airflow connection, never the file itself.
    """

    protocol: SecurityProtocol = "PLAINTEXT"
    #: CA bundle (PEM) that signs the brokers' certificates; the system store when unset.
    ca_file: Path | None = None
    #: Client certificate and key (PEM) for mutual TLS.
    cert_file: Path | None = None
    key_file: Path | None = None
    key_password: SecretRef | None = None
    check_hostname: bool = True
    sasl_mechanism: SaslMechanism | None = None
    username: str | None = None
    password: SecretRef | None = None
    oauth: KafkaOAuth | None = None

    @property
    def tls(self) -> bool:
        """Whether connections are encrypted."""
        return self.protocol in ("SSL", "SASL_SSL")

    @property
    def sasl(self) -> bool:
        """Whether the client authenticates with SASL."""
        return self.protocol in ("SASL_PLAINTEXT", "SASL_SSL")

    @model_validator(mode="after")
    def _consistent(self) -> KafkaSecurity:
        tls_fields = [n for n in ("ca_file", "cert_file", "key_file") if getattr(self, n)]
        if tls_fields and not self.tls:
            raise ValueError(f"{', '.join(tls_fields)} need protocol SSL or SASL_SSL")
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("give both cert_file and key_file for mutual TLS, or neither")
        if self.key_password is not None and self.key_file is None:
            raise ValueError("key_password needs key_file")
        if not self.sasl:
            given = [
                n for n in ("sasl_mechanism", "username", "password", "oauth") if getattr(self, n)
            ]
            if given:
                raise ValueError(f"{', '.join(given)} need protocol SASL_SSL (or SASL_PLAINTEXT)")
            return self
        if self.sasl_mechanism is None:
            raise ValueError(f"protocol {self.protocol} needs sasl_mechanism")
        if self.sasl_mechanism == "OAUTHBEARER":
            if self.oauth is None:
                raise ValueError(
                    "sasl_mechanism OAUTHBEARER needs oauth (token_url, client_id, secret)"
                )
            if self.username or self.password:
                raise ValueError("OAUTHBEARER takes oauth, not username and password")
        else:
            if not self.username or self.password is None:
                raise ValueError(
                    f"sasl_mechanism {self.sasl_mechanism} needs username and password"
                )
            if self.oauth is not None:
                raise ValueError(f"oauth is for OAUTHBEARER, not {self.sasl_mechanism}")
        return self


class KafkaSettings(_Model):
    """The Kafka cluster, how the hub connects to it, and how it names and creates topics."""

    bootstrap: str = "127.0.0.1:9092"
    security: KafkaSecurity = KafkaSecurity()
    #: False when the operator provisions the topics: the hub then never asks to create
    #: one (it needs no Create ACL) and a missing topic is an error naming it.
    create_topics: bool = True
    topic_prefix: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]*$")] = "hub"
    partitions: Annotated[int, Field(ge=1, le=256)] = 3
    replication_factor: Annotated[int, Field(ge=1, le=5)] = 1
    batch_size: Annotated[int, Field(ge=1, le=100_000)] = 5_000
    #: How the producer compresses its record batches (`hub.kafka_io.producer_tuning`).
    #: gzip (zlib, in the standard library) roughly doubled kafka-python's throughput in
    #: bench/publish.py against `none` (docs/operations.md, "Producer settings").
    compression: Literal["gzip", "none"] = "gzip"
    ack_timeout_seconds: Annotated[float, Field(gt=0)] = 60.0
    #: How long a client waits for its first broker connection (TLS and SASL included).
    connect_timeout_seconds: Annotated[float, Field(gt=0, le=300)] = 30.0


class DeletionGuard(_Model):
    """A run that would delete more than either limit publishes nothing and is held."""

    max_deletes: Annotated[int, Field(ge=0)] = 500
    max_share: Annotated[float, Field(ge=0, le=1)] = 0.2


class TenantSettings(_Model):
    """One school owner (a municipality or county) and its sources."""

    id: Annotated[str, Field(pattern=_NAME)]
    name: str
    country: Literal["NO", "SE", "DK", "FI"] = "NO"
    sources: tuple[SourceSettings, ...] = ()
    deletion_guard: DeletionGuard = DeletionGuard()
    #: How long an operator's approval of a held run's deletions stays usable.
    approval_ttl_hours: Annotated[float, Field(gt=0)] = 72.0
    max_dead_letter_share: Annotated[float, Field(ge=0, le=1)] = 0.05
    #: The dead-letter share applies only to runs that read at least this many records.
    dead_letter_min_records: Annotated[int, Field(ge=0)] = 20
    #: An unseen key of an offset-paged read that the source cannot look up is deleted
    #: only after this many consecutive full reads missed it.
    offset_read_confirmations: Annotated[int, Field(ge=1)] = 2
    policy: Policy = Policy()

    @field_validator("sources")
    @classmethod
    def _unique_source_ids(cls, sources: tuple[SourceSettings, ...]) -> tuple[SourceSettings, ...]:
        ids = [s.id for s in sources]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"source ids must be unique, repeated: {', '.join(duplicates)}")
        return sources

    def source(self, source_id: str) -> SourceSettings:
        """Return the source with this id, or raise `SettingsError` listing the known ones."""
        for source in self.sources:
            if source.id == source_id:
                return source
        known = ", ".join(s.id for s in self.sources) or "none"
        raise SettingsError(f"tenant {self.id} has no source {source_id!r} (known: {known})")


class FollowupSettings(_Model):
    """The follow-up compiler's consumer group (its offsets live in the reporting store)."""

    consumer_group: Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,128}$")] = "skolehub-followup"
    #: How long the reporting store keeps an entity's versions after they stopped being
    #: valid; None keeps the whole history (days before the horizon cannot be compiled).
    history_days: Annotated[int, Field(ge=1)] | None = None


_ROLE = Annotated[str, Field(min_length=1, max_length=64)]


class WebSettings(_Model):
    """Which roles of Airflow's auth manager may act on the hub's pages in Airflow.

    Every page needs an authenticated Airflow user; these lists add a role floor for the
    actions that expose more. Names compare without case, so SimpleAuthManager's
    `viewer`/`user`/`op`/`admin` and FAB's `Viewer`/`Op`/`Admin` both match.
    """

    extract_roles: tuple[_ROLE, ...] = ("op", "admin")
    identified_extract_roles: tuple[_ROLE, ...] = ("admin",)
    approve_roles: tuple[_ROLE, ...] = ("op", "admin")
    #: Who may read and export the access log (who saw which page, who downloaded what).
    access_log_roles: tuple[_ROLE, ...] = ("admin",)
    #: Warn in the health report when a source's last successful sync is older than this.
    max_sync_age_hours: Annotated[float, Field(gt=0)] = 26.0


class HubSettings(_Model):
    """The whole of hub.yaml."""

    kafka: KafkaSettings = KafkaSettings()
    followup: FollowupSettings = FollowupSettings()
    web: WebSettings = WebSettings()
    database_url: str | None = None
    tenants: tuple[TenantSettings, ...]

    @field_validator("tenants")
    @classmethod
    def _unique_tenant_ids(cls, tenants: tuple[TenantSettings, ...]) -> tuple[TenantSettings, ...]:
        ids = [t.id for t in tenants]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"tenant ids must be unique, repeated: {', '.join(duplicates)}")
        return tenants

    def tenant(self, tenant_id: str) -> TenantSettings:
        """Return the tenant with this id, or raise `SettingsError` listing the known ones."""
        for tenant in self.tenants:
            if tenant.id == tenant_id:
                return tenant
        known = ", ".join(t.id for t in self.tenants) or "none"
        raise SettingsError(f"no tenant {tenant_id!r} in the configuration (known: {known})")

    @property
    def bootstrap(self) -> str:
        """The Kafka bootstrap servers, `HUB_KAFKA_BOOTSTRAP` first."""
        return os.environ.get("HUB_KAFKA_BOOTSTRAP") or self.kafka.bootstrap

    @property
    def store_url(self) -> str:
        """The SQLAlchemy URL of the state and reporting store, `HUB_DATABASE_URL` first."""
        return (
            os.environ.get("HUB_DATABASE_URL")
            or self.database_url
            or f"sqlite:///{var_dir() / 'hub.db'}"
        )


def var_dir() -> Path:
    """The working folder for local state, caches and local services."""
    return Path(os.environ.get("HUB_VAR_DIR") or "var").absolute()


def hmac_key() -> bytes:
    """The key for keyed HMACs of national identity numbers, from `HUB_HMAC_KEY`."""
    key = os.environ.get("HUB_HMAC_KEY", "")
    if len(key) < 16:
        raise SettingsError(
            "HUB_HMAC_KEY must be set to a secret of at least 16 characters "
            "(`hub sandbox up` writes one for the sandbox)"
        )
    return key.encode("utf-8")


def config_path() -> Path:
    """Where hub.yaml is read from."""
    return Path(os.environ.get("HUB_CONFIG") or var_dir() / "hub.yaml")


def env_file_values() -> dict[str, str]:
    """The KEY=value lines of `HUB_ENV_FILE` (empty when it is unset or missing)."""
    path = os.environ.get("HUB_ENV_FILE")
    if not path or not Path(path).exists():
        return {}
    values = {}
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        if not sep or not name.strip():
            raise SettingsError(f"{path}:{number}: expected KEY=value")
        values[name.strip()] = value.strip()
    return values


def load_env_file() -> None:
    """Read `HUB_ENV_FILE` (KEY=value lines) into the environment without overriding it."""
    for name, value in env_file_values().items():
        os.environ.setdefault(name, value)


def parse_settings(data: object, origin: str = "hub.yaml") -> HubSettings:
    """Validate a parsed hub.yaml; a bad field raises `SettingsError` with its dotted path."""
    try:
        return HubSettings.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False, include_input=False):
            path = ".".join(str(part) for part in error["loc"]) or "(top level)"
            problems.append(f"  {path}: {error['msg']}")
        raise SettingsError(f"{origin} is invalid:\n" + "\n".join(problems)) from None


def load_settings(path: Path | None = None) -> HubSettings:
    """Read and validate hub.yaml from `path` or `config_path()`."""
    path = path or config_path()
    if not path.exists():
        raise SettingsError(
            f"{path} does not exist: set HUB_CONFIG, or run `hub sandbox up` to write one"
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise SettingsError(f"{path} is not valid YAML: {exc}") from None
    return parse_settings(data, origin=str(path))
