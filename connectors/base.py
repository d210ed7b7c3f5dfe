"""The connector base: what a source yields, the paging loop and the one retry policy.

A connector subclasses `Source`, declares its name and entity types, and implements
`check()` and `read()`. Paging is an object (`Paginator`): the base owns the loop, which
ends only when the paginator has no continuation (an empty page that still carries one is
read past), detects a token that comes back, and fails a read shorter than the total the
source declared.
Retries live only in `RetryPolicy.call`, which every request and search goes through.
"""

from __future__ import annotations

import random
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, TypeVar

import structlog

from connectors.errors import FatalError, PartialReadError, RetriableError
from schemas.entities import Entity, SourceRef

log = structlog.get_logger(__name__)

T = TypeVar("T")
PageT = TypeVar("PageT")
PageT_contra = TypeVar("PageT_contra", contravariant=True)


@dataclass(frozen=True)
class Rejected:
    """A source record that could not become an entity; it goes to the dead-letter topic.

    `payload` is the raw record with personal identifiers already removed by the connector.
    """

    entity: str
    record_ref: str
    reason: str
    payload: dict[str, Any]
    #: The entity key of the rejected record when the connector can tell it: the runner
    #: counts it as seen, so a record that turned malformed is never deleted.
    key: str | None = None


@dataclass(frozen=True)
class Removed:
    """The source says this entity is gone (incremental sources that report deletions)."""

    entity_type: type[Entity]
    key: str


Item = Entity | Rejected | Removed


class Paginator(Protocol[PageT_contra]):
    """Finds the token of the next page in a page; `None` means there is no next page."""

    def next(self, page: PageT_contra) -> str | None:
        """Return the next page's token, or None when this page was the last."""
        ...

    def total(self, page: PageT_contra) -> int | None:
        """The number of records the source says the whole read has; None: not declared."""
        ...


def paged(
    fetch: Callable[[str | None], PageT],
    paginator: Paginator[PageT],
    *,
    connector: str,
    stream: str,
    count: Callable[[PageT], int],
    path: str | None = None,
) -> Iterator[PageT]:
    """Yield pages from `fetch(token)` until the paginator has no continuation.

    Empty pages are yielded and read past while they carry a token (vendors send them).
    A repeated token is a loop; a read with fewer records (`count`) than the total the
    source declared last is a `PartialReadError`, raised after the last page.
    """
    seen: set[str] = set()
    token: str | None = None
    read = 0
    expected: int | None = None
    while True:
        page = fetch(token)
        read += count(page)
        declared = paginator.total(page)
        expected = declared if declared is not None else expected
        yield page
        token = paginator.next(page)
        if token is None:
            break
        if token in seen:
            raise FatalError(
                "Loop detected in pagination: the source returned a page token it sent before",
                connector=connector,
                path=path,
            )
        seen.add(token)
    if expected is not None and read < expected:
        raise PartialReadError(
            f"short read of {stream}: the source declared {expected} records, read {read}",
            connector=connector,
            stream=stream,
            expected=expected,
            read=read,
            path=path,
        )


@dataclass
class RetryPolicy:
    """Exponential backoff with full jitter, honouring the source's Retry-After."""

    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 60.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before attempt number `attempt + 1` (attempt counts from 1)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_delay)
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return self.rng.uniform(0, ceiling)

    def call(self, operation: Callable[[], T], *, connector: str, what: str) -> T:
        """Run `operation`, retrying `RetriableError`; the last failure is raised as fatal."""
        for attempt in range(1, self.attempts + 1):
            try:
                return operation()
            except RetriableError as exc:
                if attempt == self.attempts:
                    raise FatalError(
                        f"gave up after {attempt} attempts: {exc.message}",
                        connector=connector,
                        status=exc.status,
                        path=exc.path,
                    ) from exc
                wait = self.delay(attempt, exc.retry_after)
                log.warning(
                    "request_retried",
                    connector=connector,
                    what=what,
                    attempt=attempt,
                    status=exc.status,
                    wait_seconds=round(wait, 3),
                    reason=exc.message,
                )
                self.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover


class Source(ABC):
    """One configured instance of a source system for one tenant."""

    #: Dotted name used in logs and errors, e.g. `identity.feide_ldap`.
    name: ClassVar[str]
    #: The system part of `SourceRef`, e.g. `feide_ldap`.
    system: ClassVar[str]
    #: The entity types this source produces, in publishing order.
    entity_types: ClassVar[tuple[type[Entity], ...]]

    def __init__(self, tenant: str, instance: str, retry: RetryPolicy | None = None) -> None:
        self.tenant = tenant
        self.instance = instance
        self.retry = retry or RetryPolicy()
        self.ref = SourceRef(system=self.system, instance=instance)
        self.bookmarks = {}

    #: True when `read()` returns the whole source, so what is missing was deleted. The
    #: runner sets it before `read()` for sources that support incremental reads.
    full_snapshot: bool = True
    #: True for sources that can read only what changed since their bookmarks.
    supports_incremental: ClassVar[bool] = False
    #: Stream → bookmark (e.g. the newest `dateLastModified` seen). The runner fills it
    #: from the store before `read()`; the source advances it while reading; the runner
    #: stores it only after the run was published in full.
    bookmarks: dict[str, str]

    @abstractmethod
    def check(self) -> None:
        """Connect and authenticate; raise a `ConnectorError` that says what is wrong."""

    @abstractmethod
    def read(self) -> Iterator[Item]:
        """Yield every entity (and rejected record) of the source, streaming page by page."""

    #: Entity names whose full read pages by offset: a record deleted at the source while
    #: the read runs shifts the pages and hides a live record, so the runner confirms an
    #: unseen key of these (`confirm_gone`, or missing from consecutive full reads) before
    #: it deletes it.
    offset_paged: ClassVar[frozenset[str]] = frozenset()

    def confirm_gone(self, entity_type: type[Entity], keys: Sequence[str]) -> set[str] | None:
        """The keys the source confirms are gone, looked up one by one; None: no lookup.

        A connector whose API can fetch a record by id overrides this (a 404 confirms the
        delete); the default cannot look up, and the runner counts consecutive misses.
        """
        return None

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections; the default has nothing to release."""

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
