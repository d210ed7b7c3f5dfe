"""The connector registry: every connector module's `CONNECTOR` declaration, in one place.

A connector module declares, beside its streams, what the hub needs to know about it:

    CONNECTOR = ConnectorSpec(
        settings=IntuneSourceSettings,      # pydantic, discriminated by `type`
        connector=Intune,
        domain="mdm",
        pool=Pool("hub_mdm_intune", 4, "Intune syncs (Microsoft Graph)"),
        title="Microsoft Intune",
        build=lambda settings, context: Intune(...),
    )

`specs()` finds those declarations by importing every public module of the domain
packages (`connectors/identity/`, `connectors/lms/`, …; a new domain package is found like
a new module), so adding a connector never means editing a central list. From them come
the settings union of `hub.yaml` (`settings_union`), building a configured source
(`spec_for(...).build`), each domain's connectors, the Airflow pools, the Airflow
connection types (`connectors.airflow`) and the docs' table of sources
(`python -m connectors.registry [--check]`).
"""

from __future__ import annotations

import argparse
import builtins
import importlib
import pkgutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Generic, TypeVar, Union, get_args

from pydantic import BaseModel, Field

from connectors.base import Source
from schemas.entities import Entity

S = TypeVar("S", bound=BaseModel)

#: The checked-in table of sources that `python -m connectors.registry` writes.
DOCS_TABLE = Path(__file__).resolve().parent.parent / "docs" / "sources.md"


@dataclass(frozen=True)
class Pool:
    """An Airflow pool: its slots bound how many syncs of a system run at once."""

    name: str
    slots: int
    description: str


@dataclass(frozen=True)
class SourceContext:
    """What building a connector needs besides its settings: the tenant and the HMAC key.

    `hmac_key` is a function, called only by connectors that pseudonymise national ids,
    so a device source builds without `HUB_HMAC_KEY`.
    """

    tenant: str
    country: str
    hmac_key: Callable[[], bytes]


@dataclass(frozen=True)
class ConnectionForm:
    """How an Airflow connection of the connector's type holds its settings.

    The connection's host is the source's URL (`host_field`), its login the client id, user
    name or bind DN (`login_field`; `auth.username` when `auth.kind` is `basic`), its
    password the secret; `form_fields` (dotted settings paths) are the form's own fields,
    and any other setting may stand in the connection's extra under its dotted path.
    """

    host_field: str = "base_url"
    host_label: str = "Base URL"
    login_field: str | None = "auth.client_id"
    login_label: str = "Client id or user name"
    form_fields: tuple[str, ...] = ("auth.kind", "auth.token_url")
    #: Settings a connection need not give: (dotted path, value) pairs.
    defaults: tuple[tuple[str, Any], ...] = (("auth.kind", "oauth_client_credentials"),)


def with_secret(
    connector: Callable[..., Source], *, hmac_key: bool = False
) -> Callable[[Any, SourceContext], Source]:
    """The usual `build`: `connector(settings, tenant=…, secret=<auth.secret resolved>)`.

    With `hmac_key`, also `hmac_key=<the tenant's key>`, for a connector that turns
    identity numbers into keyed HMACs itself.
    """

    def build(settings: Any, context: SourceContext) -> Source:
        extra = {"hmac_key": context.hmac_key()} if hmac_key else {}
        secret = settings.auth.secret.resolve()
        return connector(settings, tenant=context.tenant, secret=secret, **extra)

    return build


@dataclass(frozen=True)
class ConnectorSpec(Generic[S]):
    """What one connector module declares for the hub: settings, connector, domain, pool."""

    #: The settings model; its `type` field is a `Literal` naming the connector type.
    settings: type[S]
    #: The connector class (its `entity_types` say what it produces).
    connector: type[Source]
    #: The domain it feeds (`identity`, `lms`, `mdm`, …): which sync DAG runs it.
    domain: str
    #: The Airflow pool its syncs run in; None runs them in Airflow's `default_pool`.
    pool: Pool | None
    #: The system's name for people: the docs' table and Airflow's connection type.
    title: str
    #: Builds the connector, resolving its secret: `build(settings, context)`.
    build: Callable[[S, SourceContext], Source]
    #: The settings field (a dotted path) whose `SecretRef` holds the secret.
    secret_field: str = "auth.secret"
    #: Where to read more (a path under docs/), for the docs' table.
    doc: str | None = None
    #: How an Airflow connection of this type holds the settings (`connectors.airflow`).
    connection: ConnectionForm = ConnectionForm()

    @property
    def type(self) -> str:
        """The connector type: the value of the settings model's `type` discriminator."""
        (value,) = get_args(self.settings.model_fields["type"].annotation)
        return str(value)

    @property
    def entity_types(self) -> tuple[builtins.type[Entity], ...]:
        """The entity types the connector produces, without connecting to it."""
        return tuple(self.connector.entity_types)


_REGISTERED: list[ConnectorSpec[Any]] = []


def register(spec: ConnectorSpec[Any]) -> None:
    """Add a connector declared outside the `connectors` package (the guide's example).

    Call it before `hub.settings` is imported: the settings union is built once.
    """
    _REGISTERED.append(spec)
    specs.cache_clear()


@cache
def specs() -> tuple[ConnectorSpec[Any], ...]:
    """Every declared connector, in module order, then any registered; each type once."""
    found = (*_discover(), *_REGISTERED)
    types = [spec.type for spec in found]
    repeated = sorted({t for t in types if types.count(t) > 1})
    if repeated:
        raise RuntimeError(f"connector types declared twice: {', '.join(repeated)}")
    return found


def _discover() -> Iterator[ConnectorSpec[Any]]:
    """The `CONNECTOR` of every public module of the domain packages (`connectors/<domain>/`)."""
    import connectors

    for package in pkgutil.iter_modules(connectors.__path__, "connectors."):
        if not package.ispkg or package.name.rpartition(".")[2].startswith("_"):
            continue
        path = importlib.import_module(package.name).__path__
        for module_info in pkgutil.walk_packages(path, package.name + "."):
            if any(part.startswith("_") for part in module_info.name.split(".")):
                continue
            spec = getattr(importlib.import_module(module_info.name), "CONNECTOR", None)
            if isinstance(spec, ConnectorSpec):
                yield spec


def spec_for(connector_type: str) -> ConnectorSpec[Any]:
    """The declaration of one connector type; `KeyError` lists the known ones."""
    for spec in specs():
        if spec.type == connector_type:
            return spec
    known = ", ".join(spec.type for spec in specs())
    raise KeyError(f"no connector of type {connector_type!r} (known: {known})")


def settings_union() -> Any:
    """The union of every connector's settings model, discriminated by `type`."""
    models = tuple(spec.settings for spec in specs())
    return Annotated[Union[models], Field(discriminator="type")]  # noqa: UP007


def check_source(settings: Any, context: SourceContext) -> list[str]:
    """Build the connector `settings` describe, check that its source answers, return its notes.

    The one connectivity check: `hub check` and the Airflow hooks' `test_connection` both
    call it. Raises what the connector raises (`ConnectorError`, `SettingsError`, …); the
    notes say what the check found that is no failure (a service the source does not offer).
    """
    with spec_for(settings.type).build(settings, context) as source:
        source.check()
        return list(source.notes)


def domains() -> tuple[str, ...]:
    """The domains some connector feeds, in declaration order."""
    return tuple(dict.fromkeys(spec.domain for spec in specs()))


def of_domain(domain: str) -> tuple[ConnectorSpec[Any], ...]:
    """The connectors of one domain."""
    return tuple(spec for spec in specs() if spec.domain == domain)


def pools() -> dict[str, Pool]:
    """Every pool some connector runs in, by name."""
    return {spec.pool.name: spec.pool for spec in specs() if spec.pool is not None}


def sources_table() -> str:
    """The docs' table of sources (docs/sources.md), generated from the declarations."""
    lines = [
        "# Sources",
        "",
        "Generated from the connector registry by `python -m connectors.registry`; a test",
        "checks that it is current. See docs/adding-a-connector.md to add a source.",
        "",
        "| type | system | domain | connector | entities | Airflow pool | more |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for spec in specs():
        module = spec.connector.__module__.replace(".", "/") + ".py"
        entities = ", ".join(t.__name__ for t in spec.entity_types)
        pool = f"`{spec.pool.name}` ({spec.pool.slots})" if spec.pool else "`default_pool`"
        more = f"[{spec.doc}]({spec.doc.removeprefix('docs/')})" if spec.doc else ""
        lines.append(
            f"| `{spec.type}` | {spec.title} | {spec.domain} | `{module}` | {entities} "
            f"| {pool} | {more} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write docs/sources.md, or with `--check` fail if it is not current."""
    parser = argparse.ArgumentParser(prog="python -m connectors.registry")
    parser.add_argument("--check", action="store_true", help="fail if the table is stale")
    args = parser.parse_args(argv)
    table = sources_table()
    if args.check:
        if not DOCS_TABLE.exists() or DOCS_TABLE.read_text(encoding="utf-8") != table:
            print(f"{DOCS_TABLE} is stale: run `python -m connectors.registry`", file=sys.stderr)
            return 1
        print(f"{DOCS_TABLE} is current")
        return 0
    DOCS_TABLE.write_text(table, encoding="utf-8")
    print(f"wrote {DOCS_TABLE}")
    return 0


if __name__ == "__main__":
    # Run as the imported module, whose `ConnectorSpec` the connector modules declare with.
    from connectors.registry import main as registry_main

    raise SystemExit(registry_main())
