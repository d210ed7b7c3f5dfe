"""Collections below a parent record: a class's members, a course's students or submissions.

Native LMS APIs list a parent collection (classes, courses) and hang the rest below each
parent (`/education/classes/{id}/members`, `/v1/courses/{id}/students`). A `ChildStream`
is an ordinary declarative stream whose `path` holds `{id}`; the parent stream's
`to_items` reads it with `read_children`, which walks its pages with the base's paging loop
(loop detection, short reads, the retry policy and the error table included) and maps each
record with the stream's own `parse` (dead letters and the identity-number guard included).
A failure of the source ends the read; a record that does not map is a dead letter of
its own, and its parent is published all the same.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from connectors.base import Item
from connectors.http import HttpSource, HttpStream


class ChildStream(HttpStream[Any, Any]):
    """A collection below one parent record: `path` names the parent as `{id}`."""

    def __init__(self, source: HttpSource, parent_id: str) -> None:
        super().__init__(source)
        self.parent_id = parent_id


class ChildStreams(HttpSource):
    """An `HttpSource` whose streams may be `ChildStream`s: their URL has the parent in place."""

    def stream_url(self, stream: HttpStream[Any, Any]) -> str:
        """The collection's URL, `{id}` replaced by the parent's id (path-quoted)."""
        if isinstance(stream, ChildStream):
            return self.url(stream.path.replace("{id}", quote(stream.parent_id, safe="")))
        return super().stream_url(stream)


def read_children(source: HttpSource, stream: ChildStream) -> Iterator[Item]:
    """Every item of a child collection, page by page."""
    index = 0
    for page in source.pages(stream):
        for record in page.records:
            yield from stream.parse(record, index)
            index += 1
