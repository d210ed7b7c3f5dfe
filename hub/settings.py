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
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

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
    "HUB_FAULT_POINT": "tests only: the fault point at which a process SIGKILLs itself "
    "(docs/reliability.md)",
    "HUB_FAULT_AFTER": "tests only: how many times the fault point passes before it fires",
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


class SS12000SourceSettings(HttpSourceSettings):
    """An SS 12000:2020 API (the Swedish school-data standard), e.g. a school owner's SIS.

    Federated Swedish exchanges often require mutual TLS: `client_cert` (a PEM file, which
    may hold the key too) and `client_key` are presented on every request, the token
    request included. They are paths, not secrets in the file; the key file stays 0600.
    """

    type: Literal["ss12000"]
    client_cert: Path | None = None
    client_key: Path | None = None
    #: Read `/activities` for the teachers of groups (skipped if the API has none).
    activities: bool = True
    #: How far before its bookmark an incremental read starts (`meta.modified.after`).
    incremental_overlap: timedelta = timedelta(seconds=60)

    @model_validator(mode="after")
    def _key_needs_cert(self) -> SS12000SourceSettings:
        if self.client_key is not None and self.client_cert is None:
            raise ValueError("client_key is set, so client_cert must be set too")
        return self


class IntuneSourceSettings(HttpSourceSettings):
    """Microsoft Intune's managed devices, read from Microsoft Graph v1.0.

    `auth` is OAuth 2.0 client credentials at the directory's own token endpoint
    (`https://login.microsoftonline.com/<directory id>/oauth2/v2.0/token`, never `common`)
    with the scope `https://graph.microsoft.com/.default`; the app registration needs the
    application permission DeviceManagementManagedDevices.Read.All.
    """

    type: Literal["intune"]
    base_url: Annotated[str, Field(pattern=r"^https?://.+/v1\.0/?$")] = (
        "https://graph.microsoft.com/v1.0"
    )
    auth: OAuthClientCredentials
    #: Graph's `$top`.
    page_size: Annotated[int, Field(ge=1, le=1000)] = 500

    @model_validator(mode="after")
    def _tenant_specific_token_endpoint(self) -> IntuneSourceSettings:
        directory = urlsplit(self.auth.token_url).path.strip("/").split("/")[0].lower()
        if directory in ("common", "organizations", "consumers"):
            raise ValueError(
                f"auth.token_url names `{directory}`; client credentials need the "
                "directory's own endpoint: /<directory id>/oauth2/v2.0/token"
            )
        if not (self.auth.scope or "").endswith("/.default"):
            raise ValueError(
                "auth.scope must be the resource's .default scope: "
                "https://graph.microsoft.com/.default"
            )
        return self


class JamfSourceSettings(HttpSourceSettings):
    """Jamf Pro's computers and mobile devices, read from the Jamf Pro API.

    `auth` is an API client (`oauth_client_credentials`, token URL `<base>/api/oauth/token`)
    or a user account (`basic`: the password is exchanged for a bearer token at
    `/api/v1/auth/token`, kept alive while a sync runs). Jamf asks integrations to hold
    at most five connections, so `max_concurrency` is at most 5.
    """

    type: Literal["jamf_pro"]
    auth: Annotated[OAuthClientCredentials | BasicAuth, Field(discriminator="kind")]
    #: Jamf's `page-size`.
    page_size: Annotated[int, Field(ge=1, le=2000)] = 200
    max_concurrency: Annotated[int, Field(ge=1, le=5)] = 3
    computers: bool = True
    mobile_devices: bool = True

    @model_validator(mode="after")
    def _reads_something(self) -> JamfSourceSettings:
        if not (self.computers or self.mobile_devices):
            raise ValueError("computers and mobile_devices are both false: nothing to read")
        return self


class GoogleServiceAccount(_Model):
    """A Google service account with domain-wide delegation; its JSON key is behind `secret`."""

    kind: Literal["google_service_account"]
    secret: SecretRef
    #: The Workspace administrator the service account acts for.
    subject: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
    scopes: tuple[str, ...] = (
        "https://www.googleapis.com/auth/admin.directory.device.chromeos.readonly",
    )
    #: Overrides the key file's `token_uri` (a proxy, or the sandbox).
    token_url: Annotated[str, Field(pattern=r"^https?://")] | None = None


class GoogleChromeOSSourceSettings(HttpSourceSettings):
    """Chromebooks from Google Workspace: the Admin SDK Directory API's ChromeOS devices."""

    type: Literal["google_chromeos"]
    base_url: Annotated[str, Field(pattern=r"^https?://")] = "https://admin.googleapis.com"
    auth: GoogleServiceAccount  # type: ignore[assignment]  # not an HttpAuth: a JWT grant
    #: The Workspace account; `my_customer` is the subject's own.
    customer_id: Annotated[str, Field(pattern=r"^(my_customer|C[0-9A-Za-z]{5,})$")] = "my_customer"
    #: Read only this organisational unit and its children (None: the whole account).
    org_unit_path: Annotated[str, Field(pattern=r"^/")] | None = None
    #: Google's `maxResults`, at most 300.
    page_size: Annotated[int, Field(ge=1, le=300)] = 300


SourceSettings = Annotated[
    LdapSourceSettings
    | OneRosterSourceSettings
    | SS12000SourceSettings
    | IntuneSourceSettings
    | JamfSourceSettings
    | GoogleChromeOSSourceSettings,
    Field(discriminator="type"),
]


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
