"""What the MDM parsing tests share: the example records and connectors that never connect."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from connectors.base import Item
from connectors.http import HttpStream
from connectors.mdm.intune import Intune
from hub.settings import parse_settings

#: Example records in each vendor's documented shape.
DATA = Path(__file__).parent / "data" / "mdm"
#: The Entra directory of the example Intune source.
DIRECTORY = "0c9f4f8e-1d2b-4a3c-9e5f-6a7b8c9d0e1f"


def source_settings(entry: dict[str, Any]) -> Any:
    """The settings of one hub.yaml source entry, loaded as the only source of tenant `t`."""
    config = parse_settings({"tenants": [{"id": "t", "name": "T", "sources": [entry]}]})
    return config.tenants[0].sources[0]


def intune_entry(**extra: Any) -> dict[str, Any]:
    """An Intune hub.yaml entry."""
    return {
        "type": "intune",
        "id": "intune",
        "auth": {
            "kind": "oauth_client_credentials",
            "token_url": f"https://login.microsoftonline.com/{DIRECTORY}/oauth2/v2.0/token",
            "client_id": "hub",
            "secret": {"env": "UNUSED"},
            "scope": "https://graph.microsoft.com/.default",
        },
        **extra,
    }


def intune() -> Intune:
    """An Intune connector that is never asked to connect."""
    return Intune(source_settings(intune_entry()), tenant="t", secret="unused")


def parse_file(stream: HttpStream[Any, Any], name: str, key: str) -> list[Item]:
    """Every record under `key` of an example file, parsed by a stream (one item each)."""
    body = json.loads((DATA / name).read_text(encoding="utf-8"))
    return [item for n, record in enumerate(body[key]) for item in stream.parse(record, n)]
