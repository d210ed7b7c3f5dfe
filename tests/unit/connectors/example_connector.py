"""The guide's example connector (docs/adding-a-connector.md): a school register over HTTP.

Everything a new connector needs, in the files a new connector touches: the module (here,
what would be `connectors/identity/example_register.py`: raw model, stream, settings,
connector and `CONNECTOR` declaration), its sandbox app, and the contract harness. It
lives in tests/ so the product does not ship it; the tests register it with
`registry.register` in place of the discovery a module under `connectors/` gets.

The API: `GET /schools?limit=N` with a bearer token answers
`{"schools": [{"id", "name", "code", "modified"}], "next": "<url of the next page>"}`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, ClassVar, Literal

import pytest
from pydantic import BaseModel, ConfigDict

from connectors.base import RetryPolicy
from connectors.http import HttpSource, HttpSourceSettings, HttpStream, NextLinkPaginator
from connectors.registry import ConnectionForm, ConnectorSpec, Pool, with_secret
from hub.dev.sandbox.webserver import (
    Request,
    Response,
    error_response,
    json_response,
    start_in_thread,
)
from schemas.entities import Organisation, OrganisationKind
from tests.contract.suite import Harness

# -- 1. The module: raw shape, stream, settings, connector, declaration -------------------


class _School(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str
    name: str
    code: str | None = None
    modified: datetime | None = None


class _Schools(HttpStream[_School, Organisation]):
    name = "schools"
    path = "/schools"
    records_key = "schools"
    paginator = NextLinkPaginator("next", page_size_param="limit")
    raw_model = _School
    entity_type = Organisation

    def to_entity(self, raw: _School) -> Organisation:
        return Organisation(
            tenant=self.source.tenant,
            source=self.source.ref,
            key=raw.id,
            source_modified=raw.modified,
            kind=OrganisationKind.SCHOOL_UNIT,
            name=raw.name,
            school_unit_code=raw.code,
        )


class ExampleRegisterSettings(HttpSourceSettings):
    """A school register's API (the guide's example): `base_url` and a bearer token."""

    type: Literal["example_register"]
    page_size: int = 50


class ExampleRegister(HttpSource):
    """The schools of a school register, as `Organisation`."""

    name: ClassVar[str] = "identity.example_register"
    system: ClassVar[str] = "example_register"
    entity_types = (Organisation,)
    streams = (_Schools,)
    settings: ExampleRegisterSettings


CONNECTOR = ConnectorSpec(
    settings=ExampleRegisterSettings,
    connector=ExampleRegister,
    domain="identity",
    pool=Pool("hub_identity_example_register", 2, "School register syncs"),
    title="Example school register",
    build=with_secret(ExampleRegister),
    connection=ConnectionForm(
        login_field=None, form_fields=("auth.kind",), defaults=(("auth.kind", "bearer"),)
    ),
)

# -- 2. Its sandbox app --------------------------------------------------------------------

TOKEN = "example-register-token-0123456789"


class RegisterApp:
    """A simulated school register for one tenant: `count` schools behind a bearer token."""

    def __init__(self, tenant: str, count: int = 7) -> None:
        self.tenant = tenant
        self.schools = [
            {"id": f"s{n}", "name": f"School {n}", "code": f"{10000000 + n}"} for n in range(count)
        ]

    @property
    def tenants(self) -> Sequence[str]:
        """The one tenant it serves."""
        return (self.tenant,)

    def handle(self, request: Request) -> Response:
        """Serve `/schools` in pages of `limit`, linking the next page."""
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return error_response(401, "bad token")
        if request.path != "/schools":
            return error_response(404, request.path)
        limit = int(request.query.get("limit", "50"))
        offset = int(request.query.get("offset", "0"))
        page = self.schools[offset : offset + limit]
        more = offset + limit < len(self.schools)
        next_url = f"{request.base_url}/schools?limit={limit}&offset={offset + limit}"
        return json_response({"schools": page, "next": next_url if more else None})

    def control(self, tenant: str, action: str, payload: Any) -> Any:
        """No controls."""
        raise KeyError(action)


def source_entry(base_url: str, secret_env: str = "EXAMPLE_REGISTER_TOKEN") -> dict[str, Any]:
    """The hub.yaml entry of the example source."""
    return {
        "type": "example_register",
        "id": "register",
        "base_url": base_url,
        "auth": {"kind": "bearer", "secret": {"env": secret_env}},
    }


# -- 3. The contract harness ---------------------------------------------------------------


@pytest.fixture
def example_register_harness() -> Iterator[Harness]:
    """The contract suite's harness: the connector against its sandbox app."""
    server = start_in_thread({"register": RegisterApp("lillevik")})

    def build(
        page_size: int | None = None, retry: RetryPolicy | None = None, secret: str | None = None
    ) -> ExampleRegister:
        entry = source_entry(server.base_url("lillevik", "register"))
        settings = ExampleRegisterSettings.model_validate(
            {**entry, **({"page_size": page_size} if page_size else {})}
        )
        return ExampleRegister(settings, tenant="lillevik", secret=secret or TOKEN, retry=retry)

    try:
        yield Harness(name=ExampleRegister.name, build=build, secrets=(TOKEN,))
    finally:
        server.stop()
