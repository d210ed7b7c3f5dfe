"""The licence connectors (Microsoft 365, Apple, Google Workspace, Jamf Pro) survive bad input.

Records join the shared suite (`fuzz(harness)`). Pages get a check of their own: the
envelope around the records (paging fields, Apple's `versionId`, Graph's links, Jamf's
`totalCount`) is mutated while the records stay good, and the page must either read every
good record or fail as a typed `ConnectorError` (the source is broken), never crash.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from requests.structures import CaseInsensitiveDict

from connectors.base import Rejected
from connectors.errors import ConnectorError
from connectors.http import HttpSource, HttpStream
from connectors.licences import apple_vpp, jamf_volume_purchasing, microsoft
from schemas.entities import Entity
from tests.fuzz.harnesses import (
    DATA,
    apple_vpp_harness,
    google_workspace_licences_harness,
    jamf_volume_purchasing_harness,
    microsoft_licences_harness,
)
from tests.fuzz.suite import MUTATIONS, fuzz, render
from tests.unit.connectors import test_licence_parsing as licence_tests

TestMicrosoftLicencesFuzz = fuzz(microsoft_licences_harness)
TestAppleVppFuzz = fuzz(apple_vpp_harness)
TestGoogleWorkspaceLicencesFuzz = fuzz(google_workspace_licences_harness)
TestJamfVolumePurchasingFuzz = fuzz(jamf_volume_purchasing_harness)

#: Mutated pages tried per stream.
PAGE_EXAMPLES = 40


@dataclass(frozen=True)
class PageCase:
    """One licence stream's example page and the envelope fields its reading looks at."""

    name: str
    stream: Callable[[], tuple[HttpSource, HttpStream[Any, Any]]]
    example: str
    fields: tuple[str, ...]


def _apple(kind: type[HttpStream[Any, Any]]) -> tuple[HttpSource, HttpStream[Any, Any]]:
    source = licence_tests.vpp()
    source.pseudonymise_with(b"k" * 32)
    return source, kind(source)


def _microsoft(kind: type[HttpStream[Any, Any]]) -> tuple[HttpSource, HttpStream[Any, Any]]:
    source = licence_tests.microsoft()
    return source, kind(source)


def _google() -> tuple[HttpSource, HttpStream[Any, Any]]:
    source = licence_tests.workspace()
    source.prepare()
    (stream,) = source.streams_to_read()
    return source, stream(source)


def _jamf() -> tuple[HttpSource, HttpStream[Any, Any]]:
    source = licence_tests.jamf_source()
    source.locations = [jamf_volume_purchasing._Location(id="3", name="Grundskolor")]
    (stream,) = source.streams_to_read()
    return source, stream(source)


APPLE_PAGING = ("currentPageIndex", "totalPages", "nextPageIndex", "size", "versionId", "uId")
GRAPH_PAGING = ("@odata.nextLink", "@odata.deltaLink", "@odata.context")
PAGES = (
    PageCase(
        "apple_vpp assets",
        lambda: _apple(apple_vpp._Assets),
        "vpp_assets.json",
        APPLE_PAGING,
    ),
    PageCase(
        "apple_vpp assignments",
        lambda: _apple(apple_vpp._Assignments),
        "vpp_assignments.json",
        APPLE_PAGING,
    ),
    PageCase(
        "microsoft_licences skus",
        lambda: _microsoft(microsoft._SubscribedSkus),
        "graph_subscribed_skus.json",
        GRAPH_PAGING,
    ),
    PageCase(
        "microsoft_licences users",
        lambda: _microsoft(microsoft._Users),
        "graph_users_licences.json",
        GRAPH_PAGING,
    ),
    PageCase(
        "google_workspace_licences",
        _google,
        "google_license_assignments.json",
        ("nextPageToken", "kind", "etag"),
    ),
    PageCase("jamf_volume_purchasing", _jamf, "jamf_vpp_content.json", ("totalCount",)),
)


def read_page(case: PageCase, body: Any) -> tuple[int, int]:
    """Read one page as the base does and walk on: entities and dead letters it gave.

    Raises only what the source's brokenness raises (`ConnectorError`).
    """
    source, stream = case.stream()
    response = requests.Response()
    response.status_code = 200
    response._content = render(body).encode("utf-8")
    response.url = source.url(stream.path)
    response.headers = CaseInsensitiveDict({"Content-Type": "application/json"})
    page = source.page_of(stream, response)
    items = [item for n, record in enumerate(page.records) for item in stream.parse(record, n)]
    stream.paginator.next(page)
    stream.paginator.total(page)
    stream.finished()  # Apple keeps the page's version here, if it is one
    for value in source.bookmarks.values():
        assert isinstance(value, str) and value.strip(), "a blank bookmark was kept"
        assert "\x00" not in value, "a bookmark the store cannot keep (NUL)"
    return (
        sum(isinstance(i, Entity) for i in items),
        sum(isinstance(i, Rejected) for i in items),
    )


@st.composite
def envelopes(draw: st.DrawFn, case: PageCase, seed: dict[str, Any]) -> dict[str, Any]:
    """The example page with one to three of its envelope fields removed or replaced."""
    body = copy.deepcopy(seed)
    for _ in range(draw(st.integers(1, 3))):
        field = draw(st.sampled_from(case.fields))
        kind = draw(st.sampled_from(list(MUTATIONS)))
        if kind == "remove":
            body.pop(field, None)
        else:
            body[field] = draw(MUTATIONS[kind])
    return body


@pytest.mark.fuzz
@pytest.mark.timeout(120)
@pytest.mark.parametrize("case", PAGES, ids=[c.name for c in PAGES])
def test_a_mutated_page_reads_every_good_record_or_fails_typed(case: PageCase) -> None:
    """A bad envelope never crashes the read and never loses a good record quietly."""
    seed = json.loads((DATA / "licences" / case.example).read_text(encoding="utf-8"))
    expected = read_page(case, seed)

    @settings(
        max_examples=PAGE_EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(body=envelopes(case, seed))
    def check(body: dict[str, Any]) -> None:
        try:
            found = read_page(case, body)
        except ConnectorError:
            return  # the page is broken as a whole: the run fails, typed, deleting nothing
        assert expected == found

    check()
