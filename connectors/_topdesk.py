"""What the TOPdesk connectors share: settings, paging by `pageStart`, the empty answer, the check.

TOPdesk's REST API (`/tas/api/...`) authenticates an operator with an **application
password** over HTTP basic (`auth.kind: basic`, the operator's login name as
`auth.username`, the application password as the secret). Lists page with `pageStart`
(an offset, from 0) and `pageSize`: the incidents API answers **206 Partial Content**
while more incidents follow and 200 on the last page, and **204 No Content**, without a
body, when nothing matches; the asset-management API answers 200 always, so a page
shorter than `pageSize` is its last. Dates of the asset-management API are the server's
local time without an offset (`server_timezone`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, ClassVar
from urllib.parse import quote

import requests
import structlog
from pydantic import BaseModel, ConfigDict, Field

from connectors._json_bounds import Body, loads_bounded
from connectors.equipment._kinds import TimeZoneName
from connectors.http import (
    BasicAuth,
    HttpPage,
    HttpPaginator,
    HttpSource,
    HttpSourceSettings,
)
from connectors.registry import ConnectionForm
from schemas.entities import Entity

log = structlog.get_logger(__name__)

VERSION = "/tas/api/version"
#: How an Airflow connection holds a TOPdesk source: URL, login name, application password.
TOPDESK_CONNECTION = ConnectionForm(
    login_field="auth.username",
    login_label="Operator login name",
    form_fields=("server_timezone",),
    defaults=(("auth.kind", "basic"),),
)


class Raw(BaseModel):
    """A TOPdesk record's raw shape: unknown fields ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class Named(Raw):
    """A reference TOPdesk writes inline: `{"id", "name"}` (a branch, a category)."""

    id: str | None = None
    name: str | None = None


class TopdeskSettings(HttpSourceSettings):
    """A TOPdesk instance: its URL (`https://<name>.topdesk.net`) and an application password."""

    base_url: Annotated[str, Field(pattern=r"^https?://")]
    auth: BasicAuth  # TOPdesk takes application passwords only
    #: The time zone the server writes asset dates in (they carry no offset).
    server_timezone: TimeZoneName = "Europe/Oslo"


class PageStartPaginator(HttpPaginator):
    """TOPdesk's `pageStart`/`pageSize`: 206 means more (incidents), else a full page does."""

    page_size_param = "pageSize"

    def __init__(self, *, partial_content: bool) -> None:
        #: The endpoint says "more" with 206 Partial Content (incidents), not by a full page.
        self.partial_content = partial_content

    def request(
        self, url: str, params: Mapping[str, Any], page_size: int, token: str | None
    ) -> tuple[str, dict[str, Any]]:
        """The page at offset `token` (0 first)."""
        return url, {**params, "pageStart": int(token or 0), "pageSize": page_size}

    def next(self, page: HttpPage) -> str | None:
        """The next offset while the server says more follow."""
        if not page.records:
            return None
        start = int(page.params.get("pageStart", 0) or 0)
        if self.partial_content:
            more = page.status == 206
        else:
            more = len(page.records) >= int(page.params.get("pageSize", 0) or 0)
        return str(start + len(page.records)) if more else None


class TopdeskSource(HttpSource):
    """A TOPdesk API: the empty answer (204) is an empty page; the check reads the version."""

    settings: TopdeskSettings
    #: The path of one record by id, `{id}` in place (what confirms a delete).
    by_id: ClassVar[str]

    def alive(self, body: Any) -> bool:
        """Whether a record looked up by id is still there (an archived asset is not)."""
        return True

    def confirm_gone(self, entity_type: type[Entity], keys: Sequence[str]) -> set[str] | None:
        """Look each unseen record up by id: a 404, or a record not `alive`, confirms it."""
        (stream,) = self.streams
        if entity_type is not stream.entity_type:
            return None
        return self.confirm_gone_by_lookup(stream, keys, self.lookup_url, alive=self.alive)

    def read_body(self, response: requests.Response) -> Body:
        """204 No Content (nothing matches) as an empty list."""
        if response.status_code == 204:
            return loads_bounded("[]")
        return super().read_body(response)

    def check(self) -> None:
        """Authenticate with the application password and read the API's version."""
        version = self.get(self.url(VERSION)).json().get("version")
        log.info("source_checked", connector=self.name, version=version)

    def lookup_url(self, key: str) -> str:
        """The URL of one record by its key."""
        return self.url(self.by_id.replace("{id}", quote(key, safe="")))
