"""Collections below a parent record: a class's members, a course's enrolments, submissions.

Native LMS APIs list a parent collection (classes, courses) and hang the rest below each
parent (`/education/classes/{id}/members`, `/api/v1/courses/{id}/enrollments`, Moodle's
`courseid=` calls). A `ChildStream` is an ordinary declarative stream whose `path` holds
`{id}` (and, one level further down, the ids given as `ids`: `{class_id}`), or whose
`params` name the parent. It is read in one of two ways, both through the base's paging
loop (loop detection, short reads, the retry policy and the error table included), each
record mapped with the stream's own `parse` (dead letters and the identity-number guard
included):

- below one parent, from the parent stream's `to_items`, with `read_children`;
- as one of the source's `streams`, made without a parent: `ChildStreams.read_stream`
  then reads the collection below every parent its `below_each()` names, in turn.

A failure of the source ends the read; a record that does not map is a dead letter of
its own, and its parent is published all the same.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import structlog

from connectors.base import Item, Rejected
from connectors.http import HttpSource, HttpStream

log = structlog.get_logger(__name__)


class ChildStream(HttpStream[Any, Any]):
    """A collection below one parent record: `path` names the parent as `{id}`.

    `ids` are further ids of the collection's address (the class of an assignment: its
    path's `{class_id}`; Moodle's user of a completion call). Made without a parent, the
    stream stands for the collection below each of `below_each()`.
    """

    def __init__(self, source: HttpSource, parent_id: str | None = None, **ids: str) -> None:
        super().__init__(source)
        self._parent_id = parent_id
        self.ids = ids

    @property
    def has_parent(self) -> bool:
        """Whether the stream is the collection below one parent (else below each)."""
        return self._parent_id is not None

    @property
    def parent_id(self) -> str:
        """The parent's id; a stream made without a parent has none."""
        if self._parent_id is None:
            raise TypeError(f"stream {self.name} was made without a parent")
        return self._parent_id

    def below_each(self) -> Iterator[ChildStream]:
        """The stream below every parent, in reading order (asked when the read reaches it)."""
        return iter(())


class ChildStreams(HttpSource):
    """An `HttpSource` whose streams may be `ChildStream`s: read below each parent in turn."""

    def stream_url(self, stream: HttpStream[Any, Any]) -> str:
        """The collection's URL, `{id}` and the other ids replaced (path-quoted)."""
        if isinstance(stream, ChildStream) and stream.has_parent:
            path = stream.path
            for name, value in {**stream.ids, "id": stream.parent_id}.items():
                path = path.replace(f"{{{name}}}", quote(value, safe=""))
            return self.url(path)
        return super().stream_url(stream)

    def read_stream(self, stream: HttpStream[Any, Any]) -> Iterator[Item]:
        """A stream; a `ChildStream` without a parent below every parent it names, in turn."""
        if not isinstance(stream, ChildStream) or stream.has_parent:
            yield from super().read_stream(stream)
            return
        parents = records = rejected = 0
        for child in stream.below_each():
            parents += 1
            for item in read_children(self, child):
                rejected += isinstance(item, Rejected)
                records += 1
                yield item
        log.info(
            "stream_read", stream=stream.name, parents=parents, items=records, rejected=rejected
        )
        stream.finished()


def read_children(source: HttpSource, stream: ChildStream) -> Iterator[Item]:
    """Every item of a child collection, page by page."""
    index = 0
    for page in source.pages(stream):
        for record in page.records:
            yield from stream.parse(record, index)
            index += 1
