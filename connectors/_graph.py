"""What the Microsoft Graph connectors share: their settings, Graph's paging, delta rounds.

Intune's managed devices (`connectors.mdm.intune`), Microsoft 365 licences
(`connectors.licences.microsoft`) and Teams classes (`connectors.lms.graph_education`)
read the same Graph v1.0 with the same app-only credentials; only the permission each app
registration needs differs. The last two read one stream as a delta round (`GraphDelta`).
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar
from urllib.parse import urlsplit

import structlog
from pydantic import Field, model_validator

from connectors._http_paging import NextLinkPaginator
from connectors.errors import AuthError, FatalError
from connectors.http import HttpSource, HttpStream
from connectors.settings import HttpSourceSettings, OAuthClientCredentials

log = structlog.get_logger(__name__)

#: Graph's paging: `$top`, then every `@odata.nextLink` as an opaque URL.
GRAPH_PAGING = NextLinkPaginator("@odata.nextLink", page_size_param="$top")


class GraphSettings(HttpSourceSettings):
    """A Microsoft Graph v1.0 source read with app-only credentials.

    `auth` is OAuth 2.0 client credentials at the directory's own token endpoint
    (`https://login.microsoftonline.com/<directory id>/oauth2/v2.0/token`, never `common`)
    with the scope `https://graph.microsoft.com/.default`.
    """

    base_url: Annotated[str, Field(pattern=r"^https?://.+/v1\.0/?$")] = (
        "https://graph.microsoft.com/v1.0"
    )
    auth: OAuthClientCredentials
    #: Graph's `$top`.
    page_size: Annotated[int, Field(ge=1, le=1000)] = 500

    @model_validator(mode="after")
    def _tenant_specific_token_endpoint(self) -> GraphSettings:
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


#: The bookmark of a Graph delta round: the round's `@odata.deltaLink`, kept whole.
DELTA_BOOKMARK = "deltaLink"
#: Graph's statuses for a delta link it no longer honours: 400 (`syncStateNotFound`, an
#: expired token) and 410 (a synchronisation reset).
DELTA_REFUSED = frozenset({400, 410})


class GraphDelta(HttpSource):
    """A Graph source that reads one stream as a delta round, resumed from its last link.

    A full run starts a round without a token; the round's last page carries the
    `@odata.deltaLink`, kept whole (`keep_delta_link`). An incremental run asks that link
    (`stream_url`), once Graph has shown it still honours it (`resume_delta`): an expired
    or reset link, or one no longer on the configured Graph host (following it would send
    the access token elsewhere), turns the run full with a note, before anything is read,
    so the runner reconciles as after any full read.
    """

    #: The stream read as a delta round.
    delta_stream: ClassVar[type[HttpStream[Any, Any]]]
    #: What the round lists, plural, for the run report's note ("users", "classes").
    delta_what: ClassVar[str]
    settings: GraphSettings
    #: The stored delta link this read continues from; None: a new round.
    delta_since: str | None = None

    def resume_delta(self) -> None:
        """Take the stored delta link for an incremental read, if Graph still honours it."""
        stored = None if self.full_snapshot else self.bookmarks.get(DELTA_BOOKMARK)
        self.delta_since = stored or None
        if self.delta_since is None:
            return
        if not self.on_graph(self.delta_since):  # base_url was changed since it was kept
            log.warning("delta_link_unusable", reason="not a link to the configured Graph host")
            self._read_in_full(
                f"The stored {self.delta_what}' delta link is not on the configured Graph host: "
                f"this run reads the {self.delta_what} in full and reconciles"
            )
            return
        try:
            self.fetch_page(self.delta_stream(self), None, self.settings.page_size)
        except FatalError as exc:
            if isinstance(exc, AuthError) or exc.status not in DELTA_REFUSED:
                raise
            log.warning("delta_link_refused", status=exc.status, read="full")
            self._read_in_full(
                f"Graph refused the stored {self.delta_what}' delta link (HTTP {exc.status}): "
                f"this run reads the {self.delta_what} in full and reconciles"
            )

    def _read_in_full(self, note: str) -> None:
        """Drop the stored link and turn this run full, saying why in the run report."""
        self.note(note)
        self.bookmarks.pop(DELTA_BOOKMARK, None)
        self.delta_since = None
        self.full_snapshot = True

    def stream_url(self, stream: HttpStream[Any, Any]) -> str:
        """The delta round: the stored delta link on an incremental run."""
        if isinstance(stream, self.delta_stream) and self.delta_since:
            return self.delta_since  # absolute, on the Graph host (`resume_delta`)
        return super().stream_url(stream)

    def keep_delta_link(self, link: object) -> None:
        """Keep the round's delta link whole, if it is text on the configured Graph host."""
        if not isinstance(link, str) or not self.on_graph(link):
            log.warning("delta_link_unusable", reason="not a link to the configured Graph host")
            return
        try:
            self.set_opaque_bookmark(DELTA_BOOKMARK, link)
        except ValueError:
            log.warning("delta_link_unusable", reason="the delta link cannot be stored")

    def on_graph(self, link: str) -> bool:
        """Whether `link` is an absolute URL on the base URL's scheme and host."""
        try:
            base, target = urlsplit(self.settings.base_url), urlsplit(link)
        except ValueError:  # e.g. a bracketed host that is no IPv6 address
            return False
        return bool(target.netloc) and (target.scheme, target.netloc) == (
            base.scheme,
            base.netloc,
        )
