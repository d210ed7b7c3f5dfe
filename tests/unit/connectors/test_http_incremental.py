"""Incremental reads declared on an HTTP stream: bookmarks, overlap, deletes and the record hook."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest
import requests
from pydantic import BaseModel, ConfigDict
from structlog.testing import capture_logs

from connectors.base import Item, Rejected, Removed, RetryPolicy, bookmark_text
from connectors.errors import ConfigError
from connectors.http import HttpSource, HttpSourceSettings, HttpStream, Incremental, OffsetPaginator
from tests.unit.connectors.test_http import API, SECRET, Reply, Scripted, Widget


class _RawWidget(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str
    name: str


class _Widgets(HttpStream[_RawWidget, Widget]):
    name = "widgets"
    path = "/widgets"
    records_key = "items"
    paginator = OffsetPaginator()
    raw_model = _RawWidget
    entity_type = Widget
    incremental: ClassVar[Incremental | None] = Incremental(
        "meta.changed", param="filter", template="changed>'{since}'", overlap=timedelta(minutes=2)
    )
    deleted_when = ("state", frozenset({"gone"}))

    def to_entity(self, raw: _RawWidget) -> Widget:
        return Widget(tenant="t", source=self.source.ref, key=raw.id, name=raw.name)


class _Parts(_Widgets):
    """One widget and a part per letter of its name; a name with `!` fails after the first."""

    name = "parts"
    path = "/parts"

    def to_items(self, raw: _RawWidget) -> Iterable[Item]:
        yield self.to_entity(raw)
        for letter in raw.name:
            if letter == "!":
                raise ValueError("name: has a part that is not a letter")
            yield Widget(tenant="t", source=self.source.ref, key=f"{raw.id}/{letter}", name=letter)


class _Removals(_Widgets):
    """A feed of deletes: read on incremental runs only, bookmarked with the read's start."""

    name = "removals"
    path = "/removals"
    incremental = Incremental(None, param="after", overlap=timedelta(minutes=2))
    incremental_only = True
    deleted_when = None

    def to_items(self, raw: _RawWidget) -> tuple[Item, ...]:
        return (Removed(Widget, raw.id),)


class _Extras(_Widgets):
    """A stream the API may not offer."""

    name = "extras"
    path = "/extras"
    skip_statuses = frozenset({404})


def widget(n: int, changed: str | None = None, **fields: Any) -> dict[str, Any]:
    """A widget record; `changed` goes to `meta.changed`, left out when None."""
    record: dict[str, Any] = {"id": f"w{n}", "name": f"W{n}", **fields}
    if changed is not None:
        record["meta"] = {"changed": changed}
    return record


def items(*records: dict[str, Any]) -> Reply:
    """A last page holding these records."""
    return 200, {"items": list(records)}, {}


def source_for(
    streams: tuple[type[HttpStream[Any, Any]], ...], script: dict[str, list[Reply]]
) -> tuple[HttpSource, Scripted]:
    """A source of these streams over a scripted transport; an empty page ends each stream."""

    class WidgetSource(HttpSource):
        name = "test.widgets"
        system = "widgets"
        entity_types = (Widget,)
        supports_incremental = True

    WidgetSource.streams = streams
    settings = HttpSourceSettings.model_validate(
        {"id": "w", "base_url": API, "auth": {"kind": "bearer", "secret": {"env": "UNUSED"}}}
    )
    transport = Scripted({path: [*replies, items()] for path, replies in script.items()})
    session = requests.Session()
    session.mount("https://", transport)
    retry = RetryPolicy(attempts=2, sleep=lambda _: None)
    source = WidgetSource(settings, tenant="t", secret=SECRET, retry=retry, session=session)
    return source, transport


def read(source: HttpSource, *, full: bool) -> list[Item]:
    """Everything one read yields."""
    source.full_snapshot = full
    return list(source.read())


def test_the_bookmark_advances_to_the_newest_replication_key_even_on_a_full_run():
    """The newest `meta.changed` read becomes the bookmark, whatever the records' order."""
    page = items(
        widget(1, "2026-03-01T10:00:00Z"),
        widget(2, "2026-03-02T09:30:00.250+01:00"),
        widget(3, "2026-02-01T00:00:00Z"),
    )
    source, _ = source_for((_Widgets,), {"/widgets": [page]})
    read(source, full=True)
    assert {"widgets": "2026-03-02T08:30:00.250Z"} == source.bookmarks


def test_a_record_without_a_valid_replication_key_is_read_and_leaves_the_bookmark():
    """No `meta`, a `meta` without the key, or a time out of range: mapped, bookmark unmoved."""
    page = items(
        widget(1),
        widget(2, meta={"created": "2026-03-05T00:00:00Z"}),
        widget(3, "0000-01-01T00:00:00Z"),
        widget(4, "not a time"),
        {"id": "w5", "name": "W5", "meta": "2026-03-05T00:00:00Z"},
        widget(6, "2026-03-01T10:00:00Z"),
    )
    source, _ = source_for((_Widgets,), {"/widgets": [page]})
    read_items = read(source, full=False)
    assert ["w1", "w2", "w3", "w4", "w5", "w6"] == [i.key for i in read_items]  # type: ignore[union-attr]
    assert {"widgets": "2026-03-01T10:00:00.000Z"} == source.bookmarks


def test_an_incremental_run_asks_from_the_bookmark_less_the_overlap():
    """The first page carries the declared filter built from the bookmark minus the overlap."""
    source, transport = source_for((_Widgets,), {"/widgets": [items()]})
    source.bookmarks = {"widgets": "2026-03-02T08:30:00.250Z"}
    read(source, full=False)
    assert "changed>'2026-03-02T08:28:00.250Z'" == transport.paths("/widgets")[0]["filter"]


@pytest.mark.parametrize("bookmarks", [{}, {"widgets": "yesterday"}])
def test_an_incremental_run_without_a_readable_bookmark_reads_everything(
    bookmarks: dict[str, str],
):
    """No bookmark, or one that does not read back: no filter, every record is read."""
    page = items(widget(1, "2026-03-01T10:00:00Z"), widget(2, "2026-03-01T11:00:00Z"))
    source, transport = source_for((_Widgets,), {"/widgets": [page]})
    source.bookmarks = dict(bookmarks)
    assert 2 == len(read(source, full=False))
    assert "filter" not in transport.paths("/widgets")[0]
    assert {"widgets": "2026-03-01T11:00:00.000Z"} == source.bookmarks


def test_a_full_run_sends_no_filter_though_it_has_a_bookmark():
    """A full, reconciling read asks for everything."""
    source, transport = source_for((_Widgets,), {"/widgets": [items()]})
    source.bookmarks = {"widgets": "2026-03-02T08:30:00.250Z"}
    read(source, full=True)
    assert "filter" not in transport.paths("/widgets")[0]


def test_a_record_marked_deleted_is_removed_incrementally_and_left_out_of_a_full_run():
    """`deleted_when` yields `Removed` on an incremental run, nothing on a full one."""
    marked = widget(7, "2026-03-01T10:00:00Z", state="gone")
    source, _ = source_for((_Widgets,), {"/widgets": [items(marked)]})
    assert [Removed(Widget, "w7")] == read(source, full=False)
    assert [] == read(source, full=True)
    assert {"widgets": "2026-03-01T10:00:00.000Z"} == source.bookmarks


def test_a_record_marked_deleted_without_a_valid_header_is_a_dead_letter():
    """A delete needs a valid id and replication key; otherwise the full model rejects it."""
    no_time = {"id": "w8", "state": "gone"}
    source, _ = source_for((_Widgets,), {"/widgets": [items(no_time)]})
    (rejected,) = read(source, full=False)
    assert isinstance(rejected, Rejected)
    assert ("w8", "widgets: name: Field required") == (rejected.key, rejected.reason)


def test_to_items_yields_derived_entities_and_an_error_drops_them_for_a_dead_letter():
    """The one hook may yield several items; if it fails, only the dead letter remains."""
    page = items(widget(1, name="ab"), widget(2, name="a!"))
    source, _ = source_for((_Parts,), {"/parts": [page]})
    first, second, third, rejected = read(source, full=True)
    assert ["w1", "w1/a", "w1/b"] == [i.key for i in (first, second, third)]  # type: ignore[union-attr]
    assert isinstance(rejected, Rejected)
    assert "parts: name: has a part that is not a letter" == rejected.reason


def test_a_stream_without_a_replication_key_is_bookmarked_with_the_reads_start():
    """An incremental-only feed is skipped on a full run, yet starts its bookmark there."""
    before = datetime.now(UTC)
    removal = items(widget(3))
    source, transport = source_for(
        (_Widgets, _Removals), {"/widgets": [items()], "/removals": [removal]}
    )
    read(source, full=True)
    assert [] == transport.paths("/removals")
    mark = datetime.fromisoformat(source.bookmarks["removals"].replace("Z", "+00:00"))
    assert before - timedelta(seconds=1) <= mark <= datetime.now(UTC)

    assert [Removed(Widget, "w3")] == read(source, full=False)
    assert bookmark_text(mark - timedelta(minutes=2)) == transport.paths("/removals")[0]["after"]


def test_an_optional_stream_the_api_does_not_offer_is_skipped():
    """A 404 on the first page of an `optional` stream skips it with a log line."""
    script: dict[str, list[Reply]] = {
        "/extras": [(404, {"error": "no"}, {})],
        "/widgets": [items(widget(1))],
    }
    source, _ = source_for((_Extras, _Widgets), script)
    with capture_logs() as logs:
        assert ["w1"] == [i.key for i in read(source, full=True)]  # type: ignore[union-attr]
    assert {
        "event": "stream_not_offered",
        "log_level": "info",
        "stream": "extras",
        "status": 404,
    } in logs


def test_a_404_on_a_stream_that_is_not_optional_fails_the_read():
    """Only a declared optional stream may be missing."""
    source, _ = source_for((_Widgets,), {"/widgets": [(404, {"error": "no"}, {})]})
    with pytest.raises(ConfigError):
        read(source, full=True)
