"""What the Microsoft Graph connectors share: their settings and Graph's paging.

Intune's managed devices (`connectors.mdm.intune`) and Microsoft 365 licences
(`connectors.licences.microsoft`) read the same Graph v1.0 with the same app-only
credentials; only the permission each app registration needs differs.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from pydantic import Field, model_validator

from connectors._http_paging import NextLinkPaginator
from connectors.settings import HttpSourceSettings, OAuthClientCredentials

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
