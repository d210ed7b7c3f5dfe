"""The hub's configuration: `hub.yaml` validated by pydantic, plus a few environment variables.

A wrong file fails at load with the dotted path of the bad field and what was expected.
Secrets are never in the file: a source names the environment variable or the Airflow
connection that holds its secret (`SecretRef`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

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
}

_NAME = r"^[a-z][a-z0-9_-]{0,62}$"


class SettingsError(Exception):
    """The configuration is missing or invalid; the message names the field and the problem."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SecretRef(_Model):
    """Where a secret lives: an environment variable or an Airflow connection, exactly one."""

    env: str | None = None
    airflow_conn_id: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> SecretRef:
        if (self.env is None) == (self.airflow_conn_id is None):
            raise ValueError("give exactly one of `env` or `airflow_conn_id`")
        return self

    def resolve(self) -> str:
        """Return the secret's value; raise `SettingsError` naming the variable when it is unset."""
        if self.env is not None:
            value = os.environ.get(self.env)
            if not value:
                raise SettingsError(f"environment variable {self.env} is not set")
            return value
        from airflow.sdk import BaseHook  # imported late: the CLI runs without Airflow set up

        conn = BaseHook.get_connection(str(self.airflow_conn_id))
        if not conn.password:
            raise SettingsError(f"Airflow connection {self.airflow_conn_id} has no password")
        return str(conn.password)


class KafkaSettings(_Model):
    """The Kafka cluster and how the hub names and creates its topics."""

    bootstrap: str = "127.0.0.1:9092"
    topic_prefix: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]*$")] = "hub"
    partitions: Annotated[int, Field(ge=1, le=256)] = 3
    replication_factor: Annotated[int, Field(ge=1, le=5)] = 1
    batch_size: Annotated[int, Field(ge=1, le=100_000)] = 5_000
    ack_timeout_seconds: Annotated[float, Field(gt=0)] = 60.0


class DeletionGuard(_Model):
    """A run that would delete more than either limit publishes nothing and is held."""

    max_deletes: Annotated[int, Field(ge=0)] = 500
    max_share: Annotated[float, Field(ge=0, le=1)] = 0.2


class LdapSourceSettings(_Model):
    """A Feide-like LDAP directory (eduPerson, norEdu*)."""

    type: Literal["feide_ldap"]
    id: Annotated[str, Field(pattern=_NAME)]
    uri: Annotated[str, Field(pattern=r"^ldaps?://")]
    base_dn: str
    bind_dn: str
    secret: SecretRef
    tls: Literal["none", "starttls", "ldaps"] = "none"
    ca_file: Path | None = None
    page_size: Annotated[int, Field(ge=1, le=10_000)] = 500
    timeout_seconds: Annotated[float, Field(gt=0)] = 30.0
    schedule: str | None = "@hourly"

    @model_validator(mode="after")
    def _tls_matches_uri(self) -> LdapSourceSettings:
        if self.uri.startswith("ldaps://") and self.tls != "ldaps":
            raise ValueError("uri is ldaps:// so tls must be `ldaps`")
        if self.tls == "ldaps" and not self.uri.startswith("ldaps://"):
            raise ValueError("tls is `ldaps` so uri must start with ldaps://")
        return self


class OAuthClientCredentials(_Model):
    """OAuth 2.0 client credentials grant; the client secret lives behind `secret`."""

    kind: Literal["oauth_client_credentials"]
    token_url: Annotated[str, Field(pattern=r"^https?://")]
    client_id: str
    secret: SecretRef
    scope: str | None = None


class BearerToken(_Model):
    """A static bearer token (an API key) behind `secret`."""

    kind: Literal["bearer"]
    secret: SecretRef


class BasicAuth(_Model):
    """HTTP basic authentication; the password lives behind `secret`."""

    kind: Literal["basic"]
    username: str
    secret: SecretRef


HttpAuth = Annotated[
    OAuthClientCredentials | BearerToken | BasicAuth,
    Field(discriminator="kind"),
]


class HttpSourceSettings(_Model):
    """Fields shared by every HTTP source; each source type subclasses it with its `type`."""

    id: Annotated[str, Field(pattern=_NAME)]
    base_url: Annotated[str, Field(pattern=r"^https?://")]
    auth: HttpAuth
    page_size: Annotated[int, Field(ge=1, le=10_000)] = 100
    timeout_seconds: Annotated[float, Field(gt=0)] = 30.0
    max_concurrency: Annotated[int, Field(ge=1, le=32)] = 2
    max_attempts: Annotated[int, Field(ge=1, le=20)] = 5
    ca_file: Path | None = None
    schedule: str | None = "@hourly"
    #: How often an incremental source does a full, reconciling read (None: never).
    full_sync_every: timedelta | None = timedelta(days=1)


class OneRosterSourceSettings(HttpSourceSettings):
    """A OneRoster 1.2 REST provider (rostering and gradebook), e.g. an LMS or SIS."""

    type: Literal["oneroster"]
    #: Read lineItems and results from the gradebook service too.
    gradebook: bool = True
    #: How far before its bookmark an incremental read starts, so records that share the
    #: bookmark's timestamp, or were committed late, are not lost.
    incremental_overlap: timedelta = timedelta(seconds=60)


SourceSettings = Annotated[
    LdapSourceSettings | OneRosterSourceSettings, Field(discriminator="type")
]


class TenantSettings(_Model):
    """One school owner (a municipality or county) and its sources."""

    id: Annotated[str, Field(pattern=_NAME)]
    name: str
    country: Literal["NO", "SE", "DK", "FI"] = "NO"
    sources: tuple[SourceSettings, ...] = ()
    deletion_guard: DeletionGuard = DeletionGuard()
    max_dead_letter_share: Annotated[float, Field(ge=0, le=1)] = 0.05

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


class HubSettings(_Model):
    """The whole of hub.yaml."""

    kafka: KafkaSettings = KafkaSettings()
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


def load_env_file() -> None:
    """Read `HUB_ENV_FILE` (KEY=value lines) into the environment without overriding it."""
    path = os.environ.get("HUB_ENV_FILE")
    if not path or not Path(path).exists():
        return
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        if not sep or not name.strip():
            raise SettingsError(f"{path}:{number}: expected KEY=value")
        os.environ.setdefault(name.strip(), value.strip())


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
