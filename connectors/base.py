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
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, ClassVar, Protocol, TypeVar

import structlog
from pydantic import ValidationError

from connectors._redact import scrub
from connectors.errors import (
    ConnectorError,
    FatalError,
    PartialReadError,
    RetriableError,
    SkippableRecordError,
)
from connectors.privacy import key_without_national_ids, without_national_ids
from schemas.entities import TIMESTAMP_MIN, Entity, SourceRef, utc_timestamp

log = structlog.get_logger(__name__)

T = TypeVar("T")
PageT = TypeVar("PageT")
PageT_contra = TypeVar("PageT_contra", contravariant=True)


#: The longest dead-letter reason kept (it travels as a Kafka header).
MAX_REASON_LENGTH = 1000


@dataclass(frozen=True)
class Rejected:
    """A source record that could not become an entity; it goes to the dead-letter topic.

    `payload` is the raw record with personal identifiers removed by the connector. `key`
    is the entity key of the record when the connector can tell it (a OneRoster
    `sourcedId`, a Feide eppn), so the runner counts the record as seen and never deletes
    it for being malformed; None when it cannot be told.

    Whoever builds one, what leaves the connector is safe: the reason, the reference and
    every value of the payload pass the same identity-number and secret detector as logs
    (`connectors._redact.scrub`, which `hub.logging` uses too), and text that cannot be
    encoded (lone surrogates) is replaced, so the payload encodes as JSON UTF-8 and the
    reason as a header.
    """

    entity: str
    record_ref: str
    reason: str
    payload: dict[str, Any]
    #: The entity key of the rejected record when the connector can tell it: the runner
    #: counts it as seen, so a record that turned malformed is never deleted.
    key: str | None = None

    def __post_init__(self) -> None:
        reason = _encodable(scrub(self.reason))
        if len(reason) > MAX_REASON_LENGTH:
            reason = reason[: MAX_REASON_LENGTH - 1] + "…"
        object.__setattr__(self, "reason", reason)
        object.__setattr__(self, "record_ref", _encodable(scrub(self.record_ref)))
        object.__setattr__(self, "payload", _encodable(scrub(self.payload)))


def _encodable(value: Any) -> Any:
    """`value` as plain JSON data whose text encodes as UTF-8 (lone surrogates become `?`)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value.encode("utf-8", "replace").decode("utf-8")
        return value
    if isinstance(value, dict):
        return {_encodable(str(k)): _encodable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_encodable(v) for v in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return _encodable(str(value))


def failure_reason(exc: BaseException) -> str:
    """Why one record could not be mapped: the field and the kind of problem, never the value.

    A validation error names each field and pydantic's message (which never quotes the
    input); a `SkippableRecordError` or a connector's own ValueError keeps its message
    (written without values); any other exception is named by its type alone, since its
    message may quote anything.
    """
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'record'}: {err['msg']}"
            for err in exc.errors(include_url=False, include_input=False, include_context=False)
        )
    if isinstance(exc, SkippableRecordError):
        return exc.message
    if type(exc) is ValueError:
        return str(exc)
    return f"{type(exc).__name__} while mapping the record"


def is_source_failure(exc: BaseException) -> bool:
    """True for an error that means the source is broken (HTTP, auth): never a dead letter."""
    return isinstance(exc, ConnectorError) and not isinstance(exc, SkippableRecordError)


# -- bookmarks -------------------------------------------------------------------------

_BOOKMARK = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def bookmark_text(moment: datetime) -> str:
    """A bookmark: UTC, milliseconds, `Z`, the year always four digits (`0999-…`).

    `strftime("%Y")` writes a year below 1000 unpadded, which does not read back; this
    never does. Raises ValueError for a moment outside the supported range.
    """
    utc = utc_timestamp(moment)
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T"
        f"{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}.{utc.microsecond // 1000:03d}Z"
    )


def parse_bookmark(text: str) -> datetime:
    """The moment of a bookmark `bookmark_text` wrote; ValueError for anything else."""
    if not isinstance(text, str) or not _BOOKMARK.match(text):
        raise ValueError("bookmark is not in the form YYYY-MM-DDTHH:MM:SS.mmmZ")
    try:
        return utc_timestamp(datetime.fromisoformat(text[:-1] + "+00:00"))
    except ValueError:
        raise ValueError("bookmark is not a valid time in the supported range") from None


def bookmark_since(text: str | None, overlap: timedelta) -> datetime | None:
    """The moment an incremental read starts from: the bookmark less the overlap.

    None when there is no bookmark or it cannot be read (saved by an older version): the
    stream then reads from the start, which is slower but never wrong. Never underflows.
    """
    if not text:
        return None
    try:
        mark = parse_bookmark(text)
    except ValueError:
        log.warning("bookmark_unreadable", reason="read from the start instead")
        return None
    if mark - TIMESTAMP_MIN <= overlap:
        return TIMESTAMP_MIN
    return mark - overlap


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
        self.notes = []
        self.not_read = set()

    #: True when `read()` returns the whole source, so what is missing was deleted. The
    #: runner sets it before `read()` for sources that support incremental reads.
    full_snapshot: bool = True
    #: True for sources that can read only what changed since their bookmarks (a class's
    #: declaration, or a source's setting, as the Feide directory's `incremental`).
    supports_incremental: bool = False
    #: The tenant's country (`NO`, `SE`, `DK`, `FI`): tried first when a number found in a
    #: value is a valid identity number of several countries.
    country: str | None = None
    #: The key of `nin_hmac`; sources that read people set it. Without it an identity
    #: number found in a key makes its record a dead letter.
    _hmac_key: bytes | None = None
    #: The tenant's policy allows names of people marked protected (`protected_names`).
    protected_names: bool = False

    def guarded(self, item: T) -> T:
        """An entity with every national identity number removed by value; others as they are.

        Every connector passes every entity through here before yielding it (see
        `connectors.privacy.without_national_ids`).
        """
        if isinstance(item, Entity):
            return without_national_ids(item, self._hmac_key, self.country)  # type: ignore[return-value]
        if isinstance(item, Removed | Rejected) and item.key is not None:
            key = key_without_national_ids(item.key, self._hmac_key, self.country)
            return item if key == item.key else replace(item, key=key)
        return item

    def pseudonymise_with(self, hmac_key: bytes) -> None:
        """Hash identity numbers found in keys under `hmac_key`, if the source has no key yet.

        Sources that read no people (devices) are built without one; the hub gives them
        the tenant's when it is set, so a serial number that happens to be a valid CPR
        number is hashed (the same way by every MDM) instead of dead-lettering the device.
        """
        if self._hmac_key is None:
            self._hmac_key = hmac_key

    def guarded_key(self, key: str | None) -> str | None:
        """A key of a dead letter or delete with identity numbers hashed, as `guarded` does."""
        if key is None:
            return None
        return key_without_national_ids(key, self._hmac_key, self.country)

    #: Stream → bookmark (e.g. the newest `dateLastModified` seen). The runner fills it
    #: from the store before `read()`; the source advances it while reading; the runner
    #: stores it only after the run was published in full.
    bookmarks: dict[str, str]
    #: What an operator should know about a check or a read that did not fail: what the
    #: source does not offer (a OneRoster provider without the gradebook service), what the
    #: read found (a directory's units and people). `hub check` and the run report show them.
    notes: list[str]
    #: Entity names the read could not cover (a service the source did not offer this
    #: run): the runner deletes none of them, however many it did not see.
    not_read: set[str]

    def note(self, text: str) -> None:
        """Record a note for the run report and `hub check`, and log it."""
        if text not in self.notes:
            self.notes.append(text)
            log.info("source_noted", connector=self.name, note=text)

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

    def set_bookmark(self, stream: str, text: str) -> None:
        """Save a stream's bookmark, validated first: one that does not read back is refused."""
        parse_bookmark(text)
        self.bookmarks[stream] = text

    def set_opaque_bookmark(self, name: str, token: object) -> None:
        """Save a token the source resumes from (a delta link, a version id), kept whole.

        The vendor's token is opaque: it is stored as given, of any length, never parsed as
        a time. It must be text with something in it that encodes as UTF-8 and holds no NUL
        (the store keeps it as TEXT, which PostgreSQL refuses NUL in); anything else raises
        ValueError and leaves the saved one as it was.
        """
        if not isinstance(token, str) or not token.strip():
            raise ValueError(f"bookmark {name}: an opaque bookmark must be non-empty text")
        if "\x00" in token:
            raise ValueError(f"bookmark {name}: holds a NUL character, which the store cannot keep")
        try:
            token.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(f"bookmark {name}: not encodable as UTF-8") from None
        self.bookmarks[name] = token

    def advance_bookmark(self, stream: str, moment: datetime) -> None:
        """Move a stream's bookmark to `moment` if it is newer (or the saved one is unreadable)."""
        current = self.bookmarks.get(stream)
        if current is not None:
            try:
                if moment <= parse_bookmark(current):
                    return
            except ValueError:
                pass  # an unreadable bookmark is replaced by a good one
        self.set_bookmark(stream, bookmark_text(moment))

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections; the default has nothing to release."""

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
