"""Pages and paginators of the HTTP connector base: offset, Link header, body link, page token.

A paginator is stateless (streams share it): `request()` turns a token into a URL and
query, `next()` finds the next page's token in a page and `total()` the number of records
the source declares for the whole read. The loop, its end, loop detection and the check
against the declared total belong to `connectors.base.paged`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import requests


@dataclass(frozen=True)
class HttpPage:
    """One response page: where it came from, its headers, its JSON body and its records."""

    url: str
    params: Mapping[str, str]
    headers: Mapping[str, str]
    body: Any
    records: list[Any]
    #: The HTTP status (TOPdesk answers 206 Partial Content while more pages follow).
    status: int = 200


class HttpPaginator(ABC):
    """How to ask for a page, and where the next page's token is. Stateless: shared by streams.

    A token is whatever the paginator needs: an offset, a page token, or the next URL.
    The base's `paged` loop ends only on a None token (an empty page that carries one is
    read past), fails on a repeated token, and fails a read short of `total()`.
    """

    #: The query parameter that asks for a page size, if the API has one.
    page_size_param: str | None = None

    def request(
        self, url: str, params: Mapping[str, Any], page_size: int, token: str | None
    ) -> tuple[str, dict[str, Any]]:
        """The URL and query for the page named by `token` (None: the first page)."""
        if token is not None:  # the token is the next page's URL, query included
            return token, {}
        query = dict(params)
        if self.page_size_param:
            query[self.page_size_param] = page_size
        return url, query

    @abstractmethod
    def next(self, page: HttpPage) -> str | None:
        """The next page's token, or None when `page` was the last."""

    def total(self, page: HttpPage) -> int | None:
        """The record count the source declares for the whole read; None: it declares none."""
        return None

    def following(self, page: HttpPage, page_size: int, count: int) -> list[str]:
        """Tokens of up to `count` pages after `page` known without reading them; [] if none.

        Only a paginator whose tokens can be computed (page numbers against a declared
        total) names any: the base fetches those ahead for a stream with `fetch_ahead`.
        """
        return []


def next_link(page: HttpPage, rel: str = "next") -> str | None:
    """The absolute URL of the `Link` header entry with `rel`, if there is one."""
    header = page.headers.get("Link")
    if not header:
        return None
    for link in requests.utils.parse_header_links(header):
        if rel in str(link.get("rel", "")).split():
            return urljoin(page.url, link["url"])
    return None


class OffsetPaginator(HttpPaginator):
    """`limit`/`offset` paging, bounded by a total-count header when the server sends one.

    With `follow_link_header`, a `Link: rel="next"` header wins over offset arithmetic, so
    a server that names its own next page is followed (and a link that comes back is a
    loop). An empty page ends offset arithmetic (the offset would not move); a total the
    server declared and the read did not reach then fails the read (`total`).
    """

    def __init__(
        self,
        limit_param: str = "limit",
        offset_param: str = "offset",
        total_header: str | None = "X-Total-Count",
        *,
        follow_link_header: bool = False,
    ) -> None:
        self.page_size_param = self.limit_param = limit_param
        self.offset_param = offset_param
        self.total_header = total_header
        self.follow_link_header = follow_link_header

    def request(
        self, url: str, params: Mapping[str, Any], page_size: int, token: str | None
    ) -> tuple[str, dict[str, Any]]:
        """The first page at offset 0, an offset token, or a followed link."""
        if token is not None and not token.isdigit():
            return token, {}
        return url, {**params, self.limit_param: page_size, self.offset_param: int(token or 0)}

    def next(self, page: HttpPage) -> str | None:
        """The next offset (or link), or None once the total is reached."""
        has_links = "Link" in page.headers
        if self.follow_link_header and has_links:
            # A server that pages with Link headers names its next page, or has none left.
            return next_link(page)
        if not page.records:
            return None
        offset = int(page.params.get(self.offset_param, 0) or 0) + len(page.records)
        total = self.total(page)
        if total is not None and offset >= total:
            return None
        return str(offset)

    def total(self, page: HttpPage) -> int | None:
        """The total-count header (OneRoster's `X-Total-Count`), if the server sent one."""
        value = page.headers.get(self.total_header) if self.total_header else None
        return int(value) if value is not None and value.strip().isdigit() else None


class LinkHeaderPaginator(HttpPaginator):
    """Follows `Link: <url>; rel="next"` headers (RFC 8288)."""

    def __init__(self, page_size_param: str | None = None, rel: str = "next") -> None:
        self.page_size_param = page_size_param
        self.rel = rel

    def next(self, page: HttpPage) -> str | None:
        """The URL of the next page from the Link header."""
        return next_link(page, self.rel)


class NextLinkPaginator(HttpPaginator):
    """Follows a next-page URL in the body, e.g. Microsoft Graph's `@odata.nextLink`."""

    def __init__(self, field: str = "@odata.nextLink", page_size_param: str | None = None) -> None:
        self.field = field
        self.page_size_param = page_size_param

    def next(self, page: HttpPage) -> str | None:
        """The body's next link, made absolute."""
        value = page.body.get(self.field) if isinstance(page.body, dict) else None
        return urljoin(page.url, value) if isinstance(value, str) and value else None

    def total(self, page: HttpPage) -> int | None:
        """Graph's `@odata.count`, which a server sends when the request asked `$count=true`."""
        value = page.body.get("@odata.count") if isinstance(page.body, dict) else None
        return value if isinstance(value, int) and not isinstance(value, bool) else None


class PageTokenPaginator(HttpPaginator):
    """An opaque page token in the body sent back as a query parameter (Google, SS 12000)."""

    def __init__(
        self,
        token_field: str = "nextPageToken",
        token_param: str = "pageToken",
        page_size_param: str | None = None,
    ) -> None:
        self.token_field = token_field
        self.token_param = token_param
        self.page_size_param = page_size_param

    def request(
        self, url: str, params: Mapping[str, Any], page_size: int, token: str | None
    ) -> tuple[str, dict[str, Any]]:
        """The first page, or the same query with the page token added."""
        query = dict(params)
        if self.page_size_param:
            query[self.page_size_param] = page_size
        if token is not None:
            query[self.token_param] = token
        return url, query

    def next(self, page: HttpPage) -> str | None:
        """The body's next page token."""
        value = page.body.get(self.token_field) if isinstance(page.body, dict) else None
        return str(value) if value else None
