"""Collections below a parent record: a class's members, a course's enrolments, submissions.

Native LMS APIs list a parent collection (classes, courses) and hang the rest below each
parent (`/education/classes/{id}/members`, `/api/v1/courses/{id}/enrollments`, Moodle's
`courseid=` calls). A `ChildStream` is an ordinary declarative stream whose `path` holds
`{id}` (and, one level further down, the ids given as `ids`: `{class_id}`), or whose
`params` name the parent. The parent stream's `to_items` reads it with `read_children`,
which walks its pages with the base's paging loop (loop detection, short reads, the retry
policy and the error table included), maps each record with the stream's own `parse`
(dead letters and the identity-number guard included), and then yields what the stream's
`after()` gives once its pages are read (a total, or the collections below its records).
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
    """A collection below one parent record: `path` names the parent as `{id}`.

    `ids` are further ids of the collection's address (the class of an assignment: its
    path's `{class_id}`; Moodle's user of a completion call). A stream made without a
    parent only maps records (its records say their parent, as in the unit tests).
    """

    def __init__(self, source: HttpSource, parent_id: str | None = None, **ids: str) -> None:
        super().__init__(source)
        self._parent_id = parent_id
        self.ids = ids

    @property
    def has_parent(self) -> bool:
        """Whether the stream was made for the collection below one parent."""
        return self._parent_id is not None

    @property
    def parent_id(self) -> str:
        """The parent's id; a stream made without a parent has none."""
        if self._parent_id is None:
            raise TypeError(f"stream {self.name} was made without a parent")
        return self._parent_id

    def after(self) -> Iterator[Item]:
        """What follows the collection's last record; nothing by default.

        E.g. a total over its records, or the collections below them (submissions).
        """
        return iter(())


class ChildStreams(HttpSource):
    """An `HttpSource` with `ChildStream`s: their URL has the parent (and its ids) in place."""

    def stream_url(self, stream: HttpStream[Any, Any]) -> str:
        """The collection's URL, `{id}` and the other ids replaced (path-quoted)."""
        if isinstance(stream, ChildStream) and stream.has_parent:
            path = stream.path
            for name, value in {**stream.ids, "id": stream.parent_id}.items():
                path = path.replace(f"{{{name}}}", quote(value, safe=""))
            return self.url(path)
        return super().stream_url(stream)


def read_children(source: HttpSource, stream: ChildStream) -> Iterator[Item]:
    """Every item of a child collection, page by page."""
    index = 0
    for page in source.pages(stream):
        for record in page.records:
            yield from stream.parse(record, index)
            index += 1
    yield from stream.after()
