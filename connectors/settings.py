"""What every connector's settings build on: secret references and the HTTP base settings.

Each connector module declares its own settings model (a pydantic model discriminated by
`type`) beside its streams, and the registry (`connectors.registry`) gathers them into the
union that `hub.yaml`'s `tenants.*.sources` accepts. Secrets are never in the file: a
source names the environment variable or the Airflow connection that holds its secret
(`SecretRef`).
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal, Protocol

from croniter import croniter
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

#: A source's id in hub.yaml: lower case, as in topic keys and Airflow task arguments.
SOURCE_ID_PATTERN = r"^[a-z][a-z0-9_-]{0,62}$"
SourceId = Annotated[str, Field(pattern=SOURCE_ID_PATTERN)]


def _cron(value: str) -> str:
    if not croniter.is_valid(value):
        raise ValueError(
            f"{value!r} is not a cron expression (five fields, e.g. '*/15 * * * *') "
            "or a preset (@hourly, @daily, @weekly)"
        )
    return value


#: When the sync DAGs sync a source: a cron expression or preset, in UTC. None (the
#: default) is its domain's usual cadence (`hub.sync_tasks.DOMAIN_SCHEDULES`). The DAGs
#: look for due sources every `connectors.airflow.SYNC_TICK`, the finest cadence honoured.
Schedule = Annotated[str | None, AfterValidator(lambda v: v if v is None else _cron(v))]


class SettingsError(Exception):
    """The configuration is missing or invalid; the message names the field and the problem."""


class SettingsModel(BaseModel):
    """A part of hub.yaml: immutable, and an unknown field is an error."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class ConfiguredSource(Protocol):
    """What the hub reads of any configured source, whatever its type."""

    @property
    def type(self) -> str:
        """The connector type, the discriminator of the settings union."""

    @property
    def id(self) -> str:
        """The source's id, unique within its tenant."""


class SecretRef(SettingsModel):
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


class OAuthClientCredentials(SettingsModel):
    """OAuth 2.0 client credentials grant; the client secret lives behind `secret`."""

    kind: Literal["oauth_client_credentials"]
    token_url: Annotated[str, Field(pattern=r"^https?://")]
    client_id: str
    secret: SecretRef
    scope: str | None = None


class BearerToken(SettingsModel):
    """A static bearer token (an API key) behind `secret`."""

    kind: Literal["bearer"]
    secret: SecretRef


class BasicAuth(SettingsModel):
    """HTTP basic authentication; the password lives behind `secret`."""

    kind: Literal["basic"]
    username: str
    secret: SecretRef


HttpAuth = Annotated[
    OAuthClientCredentials | BearerToken | BasicAuth,
    Field(discriminator="kind"),
]


class HttpSourceSettings(SettingsModel):
    """Fields shared by every HTTP source; each source type subclasses it with its `type`."""

    id: SourceId
    base_url: Annotated[str, Field(pattern=r"^https?://")]
    auth: HttpAuth
    page_size: Annotated[int, Field(ge=1, le=10_000)] = 100
    timeout_seconds: Annotated[float, Field(gt=0)] = 30.0
    max_concurrency: Annotated[int, Field(ge=1, le=32)] = 2
    max_attempts: Annotated[int, Field(ge=1, le=20)] = 5
    ca_file: Path | None = None
    schedule: Schedule = None
    #: How often an incremental source does a full, reconciling read (None: never).
    full_sync_every: timedelta | None = timedelta(days=1)
