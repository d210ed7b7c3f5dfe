"""The hub as an Airflow provider: one connection type per connector, from the registry.

`get_provider_info` is the `apache_airflow_provider` entry point (pyproject.toml) that
Airflow's ProvidersManager reads. Each connection type names its hook class in
`connectors.airflow` (imported only when Airflow uses it) and declares its form as Airflow
3.2+ reads it, in the provider info (`conn-fields`, `ui-field-behaviour`) rather than
through the deprecated `get_connection_form_widgets`/`get_ui_field_behaviour`. This module
imports nothing of Airflow: the ProvidersManager loads it while Airflow itself imports.
"""

from __future__ import annotations

from typing import Any

from connectors import registry


def get_provider_info() -> dict[str, Any]:
    """Airflow's provider info (entry point `apache_airflow_provider`): the connection types."""
    return {
        "package-name": "skolehub",
        "name": "Skolehub",
        "description": "School data sources (Feide, SS 12000, OneRoster, Intune, Jamf, Google).",
        "versions": ["0.1.0"],
        "connection-types": [_connection_type(spec) for spec in registry.specs()],
    }


def _connection_type(spec: registry.ConnectorSpec[Any]) -> dict[str, Any]:
    fields = {
        _field_name(path): {
            "label": _field_name(path).replace("_", " ").capitalize(),
            "description": f"`{path}` of the source's settings",
            "schema": {"type": ["string", "null"]},
        }
        for path in spec.connection.form_fields
    }
    return {
        "connection-type": spec.type,
        "hook-class-name": f"connectors.airflow.{spec.connector.__name__}Hook",
        "hook-name": spec.title,
        "conn-fields": fields,
        "ui-field-behaviour": {
            "hidden-fields": ["schema", "port"],
            "relabeling": {"host": spec.connection.host_label, "password": "Secret"}
            | ({"login": spec.connection.login_label} if spec.connection.login_field else {}),
            "placeholders": {"extra": '{"page_size": 100} (any other setting, dotted keys)'},
        },
    }


def _field_name(path: str) -> str:
    return path.rpartition(".")[2]


def connection_settings(
    spec: registry.ConnectorSpec[Any],
    conn_id: str,
    *,
    host: str | None,
    login: str | None,
    extra: dict[str, Any],
) -> Any:
    """The source settings an Airflow connection describes; its password is the secret.

    `host` is the source's URL, `login` its client id, user name or bind DN, the form's
    fields and any other setting (dotted keys, e.g. `auth.scope`) come from `extra`.
    """
    by_name = {_field_name(path): path for path in spec.connection.form_fields}
    values: dict[str, Any] = dict(spec.connection.defaults)
    for key, value in extra.items():
        key = key.removeprefix(f"extra__{spec.type}__")
        if value not in (None, ""):
            values[by_name.get(key, key)] = value
    if host:
        values[spec.connection.host_field] = host
    if login and spec.connection.login_field:
        login_path = spec.connection.login_field
        if values.get("auth.kind") == "basic":
            login_path = "auth.username"
        values[login_path] = login
    values[spec.secret_field] = {"airflow_conn_id": conn_id}
    data: dict[str, Any] = {"type": spec.type, "id": "connection"}
    for path, value in values.items():
        *parents, leaf = path.split(".")
        node = data
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = value
    return spec.settings.model_validate(data)
