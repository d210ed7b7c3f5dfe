"""The HTTP connector base: one session per source, authentication, paging and the error table.

A connector is an `HttpSource` that lists its `streams`. A stream is declarative: a small
`HttpStream` subclass with a `name`, a `path`, the key its records sit under, a
`paginator`, a private raw pydantic model (`extra="ignore"`) and `to_entity(raw)`:

    class _Devices(HttpStream[_GraphDevice, Device]):
        name = "managedDevices"
        path = "/deviceManagement/managedDevices"
        records_key = "value"
        paginator = NextLinkPaginator("@odata.nextLink")
        raw_model = _GraphDevice
        entity_type = Device

        def to_entity(self, raw: _GraphDevice) -> Device: ...

A stream read incrementally declares `incremental = Incremental(replication_key, param,
template)`: the base keeps its bookmark (the newest replication key seen, validated, less
an overlap on the next run) and puts the "since" on the first page of an incremental run.
`to_items(raw)` is the one hook for a record that is more or less than one entity (a
lookup that yields nothing, derived entities, `Removed`); `deleted_when` declares a
field that marks a delete (OneRoster's `status: tobedeleted`).

The base owns the rest. Every request goes through `RetryPolicy.call` (the one retry
place) and the one error table (`connectors.errors.HTTP_ERROR_POLICY`): throttling, 5xx
and dropped connections are retried with backoff honouring `Retry-After` (seconds or an
HTTP date); a 401 refreshes the credentials once, then fails as `AuthError`; other 4xx
fail at once with the connector, path and status as attributes and no secret in the
message. `HttpSource.classify_error` lets a connector read a response body first (Google's
403 `rateLimitExceeded` is throttling). A record that fails validation becomes `Rejected`
with its identifiers scrubbed, and so does any other exception while mapping one record
(only errors that mean the source is broken, `ConnectorError`s, end the stream). Bodies
are parsed with bounds (`connectors._json_bounds`): a record nested too deep or holding
a number of too many digits is a dead letter and the rest of its page is read. Requests
are sequential, one in flight per source, except for a stream that declares
`fetch_ahead`: its pages that the paginator can name ahead (page numbers against a
declared total) are fetched on up to `max_concurrency` threads while the paging loop,
and its loop detection, walk them in order. The DAG's pool bounds how many sources run
at once.
"""

from __future__ import annotations

import contextvars
import json
import time
from abc import ABC
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Generic, TypeVar
from urllib.parse import parse_qsl, urlsplit

import requests
import structlog
from pydantic import BaseModel

from connectors._http_auth import (
    Authenticator,
    Basic,
    ClientCredentials,
    StaticBearer,
    authenticator_for,
    error_detail,
    retry_after_seconds,
    token_request,
)
from connectors._http_incremental import Incremental
from connectors._http_paging import (
    HttpPage,
    HttpPaginator,
    LinkHeaderPaginator,
    NextLinkPaginator,
    OffsetPaginator,
    PageTokenPaginator,
    next_link,
)
from connectors._json_bounds import Body, OutOfBounds, bounded_records, loads_bounded, plain
from connectors.base import (
    Item,
    Rejected,
    Removed,
    RetryPolicy,
    Source,
    bookmark_since,
    bookmark_text,
    failure_reason,
    is_source_failure,
    paged,
)
from connectors.errors import (
    Action,
    AuthError,
    ConfigError,
    FatalError,
    PartialReadError,
    RetriableError,
    action_for,
)
from connectors.settings import (
    BasicAuth,
    BearerToken,
    HttpAuth,
    HttpSourceSettings,
    OAuthClientCredentials,
)
from schemas.entities import Entity, as_key

log = structlog.get_logger(__name__)

RawT = TypeVar("RawT", bound=BaseModel)
EntityT = TypeVar("EntityT", bound=Entity)

__all__ = [
    "Authenticator",
    "Basic",
    "BasicAuth",
    "BearerToken",
    "ClientCredentials",
    "HttpAuth",
    "HttpSourceSettings",
    "HttpPage",
    "HttpPaginator",
    "HttpSource",
    "HttpStream",
    "Incremental",
    "LinkHeaderPaginator",
    "NextLinkPaginator",
    "OAuthClientCredentials",
    "OffsetPaginator",
    "PageTokenPaginator",
    "StaticBearer",
    "next_link",
    "retry_after_seconds",
    "token_request",
]

USER_AGENT = "skolehub/0.1"
#: Keys per stream that `confirm_gone_by_lookup` looks up to see that lookups find records.
PROBES = 3


class HttpStream(ABC, Generic[RawT, EntityT]):
    """One collection endpoint, declared by class attributes; `to_entity` maps a record."""

    #: The stream's name in logs, bookmarks and dead letters, e.g. `users`.
    name: ClassVar[str]
    #: The endpoint's path below the source's base URL.
    path: ClassVar[str]
    #: The body key that holds the records; "" when the body itself is the list.
    records_key: ClassVar[str]
    paginator: ClassVar[HttpPaginator]
    #: The private raw model a record is validated with (`extra="ignore"`).
    raw_model: ClassVar[type[BaseModel]]
    entity_type: ClassVar[type[Entity]]
    #: Fixed query parameters of the first page besides paging (e.g. `expand`).
    query: ClassVar[Mapping[str, Any]] = {}
    #: How the stream reads only what changed; None: read in full on every run.
    incremental: ClassVar[Incremental | None] = None
    #: Read on incremental runs only (a feed of deletes: a full run reconciles instead).
    incremental_only: ClassVar[bool] = False
    #: First-page statuses that mean the stream is not offered to this client, so it is
    #: skipped with `stream_not_offered`: {404} for an endpoint the standard leaves out,
    #: {403} for a lookup the client's role may not read. On a later page the same status
    #: means the read broke off (`PartialReadError`).
    skip_statuses: ClassVar[frozenset[int]] = frozenset()
    #: When skipped as not offered, keep its entities: the runner deletes none of the type
    #: (a OneRoster gradebook that answers 404 today must not delete yesterday's results).
    keep_when_not_offered: ClassVar[bool] = False
    #: Pages the paginator can name ahead (`HttpPaginator.following`) are fetched on up to
    #: `max_concurrency` threads while the paging loop walks them in order.
    fetch_ahead: ClassVar[bool] = False
    #: `(field, values)` marking a record as deleted at the source when the field holds one
    #: of the values: `Removed` on an incremental run, left out of a full one (whose
    #: reconciliation deletes it). Only its id and replication key need be valid.
    deleted_when: ClassVar[tuple[str, frozenset[str]] | None] = None

    def __init__(self, source: HttpSource) -> None:
        self.source = source

    @property
    def dead_letter_entity(self) -> str:
        """The entity name a rejected record of this stream is filed under."""
        return self.entity_type.entity

    @property
    def overlap(self) -> timedelta:
        """How far before its bookmark an incremental read starts."""
        if self.incremental is not None and self.incremental.overlap is not None:
            return self.incremental.overlap
        overlap = getattr(self.source.settings, "incremental_overlap", None)
        return overlap if isinstance(overlap, timedelta) else timedelta(0)

    def params(self) -> dict[str, Any]:
        """Query parameters of the first page (besides paging): `query` and the "since"."""
        params = dict(self.query)
        if self.incremental is not None and not self.source.full_snapshot:
            since = bookmark_since(self.source.bookmarks.get(self.name), self.overlap)
            if since is not None:
                params.update(self.incremental.since_params(since))
        return params

    def records_in(self, body: Any) -> Any:
        """The records of a page's body: the list under `records_key` (not a list: fatal)."""
        if not self.records_key:
            return body
        if not isinstance(body, dict):
            return None
        records = body.get(self.records_key)
        return [] if records is None else records  # some servers leave the key out of an empty page

    def to_items(self, raw: RawT) -> Iterable[Item]:
        """What a valid record yields: its entity; override for none, several or `Removed`.

        An exception (ValueError, `SkippableRecordError`) makes the record a dead letter
        and drops whatever it derived.
        """
        return (self.to_entity(raw),)

    def to_entity(self, raw: RawT) -> EntityT:
        """The normalised entity of one raw record; raise ValueError for a bad record."""
        raise FatalError(
            f"stream {self.name} declares neither to_entity nor to_items",
            connector=self.source.name,
        )

    def finished(self) -> None:
        """Called after the stream's last page; e.g. to log what its records left unresolved."""

    def redact(self, record: Any) -> dict[str, Any]:
        """A record as it may go to the dead-letter topic; override to drop personal fields.

        Identity numbers and credentials need no code here: `Rejected` scrubs every value.
        """
        return record if isinstance(record, dict) else {"value": "[not an object]"}

    def record_ref(self, record: Any, index: int) -> str:
        """How a dead letter names its record: its id, or the stream and position."""
        if isinstance(record, dict):
            for key in ("sourcedId", "id"):
                if isinstance(record.get(key), str) and record[key]:
                    return str(record[key])
        return f"{self.name}#{index}"

    def record_key(self, record: Any) -> str | None:
        """The entity key of a record that failed, when it can be told; None otherwise.

        The raw model's id field (`sourcedId`, `id`) cleaned as a `Key`; None for a
        stream whose records are not published (a lookup), so nothing is counted as seen.
        """
        if self.dead_letter_entity != self.entity_type.entity:
            return None
        return _record_id(record)

    def reject(self, record: Any, index: int, reason: str) -> Rejected:
        """The dead letter of one record: named, keyed where possible, its payload redacted.

        A record too odd even to redact (the hooks read its shape) travels without payload.
        """
        try:
            payload = self.redact(record)
        except Exception:  # the dead letter must still be written
            payload = {"value": "[not redactable]"}
        return Rejected(
            entity=self.dead_letter_entity,
            record_ref=self.record_ref(record, index),
            reason=f"{self.name}: {reason}",
            payload=payload,
            key=self.source.guarded_key(self.record_key(record)),
        )

    def parse(self, record: Any, index: int) -> list[Item]:
        """The items of one record: advance the bookmark, then its delete, items or dead letter.

        Any exception while mapping the record makes it a dead letter; only an error that
        means the source is broken (a `ConnectorError` other than `SkippableRecordError`)
        is raised.
        """
        if isinstance(record, OutOfBounds):
            return [self.reject(record.record, index, f"record: {record.problem}")]
        moment = self.incremental.moment(record) if self.incremental is not None else None
        if moment is not None:
            self.source.advance_bookmark(self.name, moment)
        if self._marked_deleted(record, moment):
            key = self.record_key(record)
            if self.source.full_snapshot or key is None:
                return []  # a full run leaves it out: reconciliation deletes it exactly once
            return [self.source.guarded(Removed(self.entity_type, key))]
        try:
            raw = self.raw_model.model_validate(record)
            return [self.source.guarded(i) for i in self.to_items(raw)]  # type: ignore[arg-type]
        except Exception as exc:
            if is_source_failure(exc):
                raise
            return [self.reject(record, index, failure_reason(exc))]

    def _marked_deleted(self, record: Any, moment: datetime | None) -> bool:
        """Whether `deleted_when` marks the record, which has a valid id and replication key."""
        if self.deleted_when is None or not isinstance(record, dict):
            return False
        field, values = self.deleted_when
        timed = self.incremental is not None and self.incremental.replication_key is not None
        marker = record.get(field)
        return (
            isinstance(marker, str)  # a list or object there (bad input) marks nothing
            and marker in values
            and _record_id(record) is not None
            and (moment is not None or not timed)
        )


def _record_id(record: Any) -> str | None:
    """A record's id (`sourcedId`, `id`) as a clean key; None when it has no valid one."""
    if not isinstance(record, dict):
        return None
    for key in ("sourcedId", "id"):
        if key in record:
            return as_key(record[key])
    return None


class HttpSource(Source):
    """A source read over HTTP: the session, the credentials, the retries and the paging loop."""

    #: The streams, in reading order (parents before children).
    streams: ClassVar[tuple[type[HttpStream[Any, Any]], ...]]

    def __init__(
        self,
        settings: HttpSourceSettings,
        *,
        tenant: str,
        secret: str,
        retry: RetryPolicy | None = None,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.monotonic,
        hmac_key: bytes | None = None,
    ) -> None:
        super().__init__(tenant, settings.id, retry or RetryPolicy(attempts=settings.max_attempts))
        if hmac_key is not None:  # a connector built `with_secret(..., hmac_key=True)`
            self._hmac_key = hmac_key
        self.settings = settings
        self.session = session or requests.Session()
        self.session.headers.update({"Accept": "application/json", "User-Agent": USER_AGENT})
        if settings.ca_file is not None:
            self.session.verify = str(settings.ca_file)
        self.auth = self.authenticator(secret, clock)
        #: Stream name → keys it read, one from each of its first pages (the lookup's probes).
        self.keys_read: dict[str, list[str]] = {}
        #: Worker threads and pages fetched ahead (`fetch_ahead` streams only).
        self._pool: ThreadPoolExecutor | None = None
        self._ahead: dict[tuple[str, int, str | None], Future[HttpPage]] = {}

    # -- hooks --------------------------------------------------------------------------

    def authenticator(self, secret: str, clock: Callable[[], float]) -> Authenticator:
        """The authenticator of this source's `auth` settings; a connector may bring its own."""
        return authenticator_for(
            self.settings, secret, session=self.session, connector=self.name, clock=clock
        )

    def classify_error(self, response: requests.Response) -> Action | None:
        """The action for an error response when the status alone does not say; None: table."""
        return None

    def streams_to_read(self) -> Iterable[type[HttpStream[Any, Any]]]:
        """The streams `read()` reads; a connector may leave some out by configuration.

        `read()` takes them one at a time, so a generator may decide a later stream from
        what the earlier ones read.
        """
        return self.streams

    # -- requests -----------------------------------------------------------------------

    def url(self, path: str) -> str:
        """The absolute URL of a path below the base URL."""
        return self.settings.base_url.rstrip("/") + path

    def stream_url(self, stream: HttpStream[Any, Any]) -> str:
        """The URL of a stream's collection: its `path` below the base URL.

        A connector whose paths depend on its settings (OneRoster's version) overrides it.
        """
        return self.url(stream.path)

    def get(self, url: str, params: Mapping[str, Any] | None = None) -> requests.Response:
        """GET with the error table and the retry policy; a 2xx response or a typed error."""
        path = urlsplit(url).path
        return self.retry.call(
            lambda: self._attempt(url, params or {}, path), connector=self.name, what=f"GET {path}"
        )

    def post(self, url: str, body: Any) -> requests.Response:
        """POST a JSON body, with the error table and the retry policy, as `get` does.

        Only for requests that are safe to repeat (a read by ids, setting a value).
        """
        return self.send("POST", url, body)

    def send(self, method: str, url: str, body: Any = None) -> requests.Response:
        """Any method with an optional JSON body, with the error table and the retry policy.

        Only for requests that are safe to repeat (renewing or deleting a registration).
        """
        path = urlsplit(url).path
        return self.retry.call(
            lambda: self._attempt(url, {}, path, method=method, body=body),
            connector=self.name,
            what=f"{method} {path}",
        )

    def _attempt(
        self,
        url: str,
        params: Mapping[str, Any],
        path: str,
        method: str = "GET",
        body: Any = None,
    ) -> requests.Response:
        refreshed = False
        while True:
            try:
                options: dict[str, Any] = {
                    "params": params,
                    "headers": self.auth.headers(),
                    "timeout": self.settings.timeout_seconds,
                    # Given per request: requests lets REQUESTS_CA_BUNDLE override the
                    # session's `verify`, which would silently ignore the source's ca_file.
                    "verify": self.session.verify,
                }
                if method == "GET":
                    response = self.session.get(url, **options)
                else:
                    response = self.session.request(method, url, json=body, **options)
            except requests.exceptions.SSLError as exc:
                raise FatalError(
                    f"TLS failed: {type(exc).__name__} (check ca_file)",
                    connector=self.name,
                    path=path,
                ) from None
            except (requests.ConnectionError, requests.Timeout) as exc:
                raise RetriableError(
                    f"no answer: {type(exc).__name__}", connector=self.name, path=path
                ) from None
            except requests.RequestException as exc:  # e.g. a body cut off mid-stream
                raise RetriableError(
                    f"request failed: {type(exc).__name__}", connector=self.name, path=path
                ) from None
            status = response.status_code
            if status < 400:
                return response
            action = self.classify_error(response) or action_for(status)
            if action is Action.REFRESH_AUTH and not refreshed and self.auth.refresh():
                # Not a retry: expired credentials are renewed once, then a 401 is final.
                refreshed = True
                log.info("credentials_refreshed", connector=self.name, path=path)
                continue
            raise self._error(response, action, path)

    def _error(self, response: requests.Response, action: Action, path: str) -> Exception:
        status = response.status_code
        reason = response.reason or "error"
        if action in (Action.RETRY, Action.RATE_LIMITED):
            return RetriableError(
                "throttled" if action is Action.RATE_LIMITED else f"server error: {reason}",
                connector=self.name,
                status=status,
                path=path,
                retry_after=retry_after_seconds(response.headers.get("Retry-After")),
            )
        detail = error_detail(response, self.auth.secrets())
        message = reason + (f": {detail}" if detail else "")
        if action is Action.REFRESH_AUTH or status in (401, 403):
            kind = "credentials refused" if status == 401 else "access denied"
            return AuthError(f"{kind}: {message}", connector=self.name, status=status, path=path)
        if status in (404, 405, 410):
            return ConfigError(
                f"no such endpoint (check base_url and the API version): {message}",
                connector=self.name,
                status=status,
                path=path,
            )
        return FatalError(
            f"request refused: {message}", connector=self.name, status=status, path=path
        )

    # -- paging -------------------------------------------------------------------------

    def fetch_page(
        self, stream: HttpStream[Any, Any], token: str | None, page_size: int
    ) -> HttpPage:
        """One page of a stream; for a `fetch_ahead` stream, also start the pages after it.

        Pages fetched ahead run on worker threads (at most `max_concurrency` requests are
        open, this one included) and are handed out in order; the caller's context
        (tenant, source, run id in the logs) goes with them.
        """
        workers = self.settings.max_concurrency
        if not stream.fetch_ahead or workers < 2:
            return self._fetch_one(stream, token, page_size)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(workers, thread_name_prefix=f"{self.name}-page")
        future = self._ahead.pop((stream.name, page_size, token), None)
        page = future.result() if future else self._fetch_one(stream, token, page_size)
        for ahead in stream.paginator.following(page, page_size, workers):
            if (stream.name, page_size, ahead) not in self._ahead:
                context = contextvars.copy_context()
                self._ahead[(stream.name, page_size, ahead)] = self._pool.submit(
                    context.run, self._fetch_one, stream, ahead, page_size
                )
        return page

    def _fetch_one(
        self, stream: HttpStream[Any, Any], token: str | None, page_size: int
    ) -> HttpPage:
        url, query = stream.paginator.request(
            self.stream_url(stream), stream.params(), page_size, token
        )
        return self.page_of(stream, self.get(url, query))

    def _drop_ahead(self) -> None:
        """Cancel pages fetched ahead that nobody will read, and wait for running ones."""
        pending = list(self._ahead.values())
        self._ahead.clear()
        wait([f for f in pending if not f.cancel()])

    def page_of(self, stream: HttpStream[Any, Any], response: requests.Response) -> HttpPage:
        """The page a 2xx response holds: its body read with bounds, its records listed."""
        path = urlsplit(response.url).path
        body = self.read_body(response)
        records = stream.records_in(body.value)
        if not isinstance(records, list):
            raise FatalError(
                f"response has no {stream.records_key or 'top-level'} list",
                connector=self.name,
                status=response.status_code,
                path=path,
            )
        records = bounded_records(records, body)
        params = dict(parse_qsl(urlsplit(response.url).query))
        value = body.value if body.bounded else plain(body.value)
        return HttpPage(
            response.url, params, response.headers, value, records, response.status_code
        )

    def read_body(self, response: requests.Response) -> Body:
        """A response's JSON body, parsed with bounds; a body that is not JSON is fatal."""
        try:
            content = response.content
            text = content.decode(json.detect_encoding(content))
            return loads_bounded(text)
        except ValueError:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
            raise FatalError(
                f"response is not JSON ({response.headers.get('Content-Type', 'no content type')})",
                connector=self.name,
                status=response.status_code,
                path=urlsplit(response.url).path,
            ) from None

    def pages(
        self, stream: HttpStream[Any, Any], page_size: int | None = None
    ) -> Iterator[HttpPage]:
        """Every page of a stream, empty ones included, with loop detection.

        Besides a token that comes back (see `paged`), a page identical to the one before
        is a loop too: a server that ignores the offset would otherwise page forever. Empty
        pages are not compared (consecutive ones with distinct tokens are normal). A 404
        on a later page means the read broke off: a `PartialReadError`, not "no endpoint".
        """
        size = page_size or self.settings.page_size
        previous: tuple[int, str, str] | None = None
        read = 0

        def fetch(token: str | None) -> HttpPage:
            if token is None:
                return self.fetch_page(stream, token, size)
            try:
                return self.fetch_page(stream, token, size)
            except FatalError as exc:
                if exc.status not in stream.skip_statuses | {404, 410}:
                    raise
                raise PartialReadError(
                    f"the read of {stream.name} broke off: HTTP {exc.status} on a later page "
                    f"after {read} records",
                    connector=self.name,
                    stream=stream.name,
                    read=read,
                    status=exc.status,
                    path=exc.path,
                ) from exc

        for page in paged(
            fetch,
            stream.paginator,
            connector=self.name,
            stream=stream.name,
            count=lambda p: len(p.records),
            path=stream.path,
        ):
            read += len(page.records)
            signature = (
                (
                    len(page.records),
                    json.dumps(page.records[0], sort_keys=True, default=str),
                    json.dumps(page.records[-1], sort_keys=True, default=str),
                )
                if page.records
                else None
            )
            if signature is not None and signature == previous:
                raise FatalError(
                    "Loop detected in pagination: a page repeats the page before it",
                    connector=self.name,
                    path=urlsplit(page.url).path,
                )
            previous = signature
            log.debug("page_fetched", stream=stream.name, records=len(page.records))
            yield page

    def read_stream(self, stream: HttpStream[Any, Any]) -> Iterator[Item]:
        """Every item of one stream, page by page."""
        records = rejected = pages = 0
        sample = self.keys_read.setdefault(stream.name, [])
        try:
            for page in self.pages(stream):
                pages += 1
                sampled = len(sample) >= PROBES
                for record in page.records:
                    for item in stream.parse(record, records):
                        if isinstance(item, Rejected):
                            rejected += 1
                        elif not sampled and isinstance(item, Entity):
                            sample.append(item.key)  # the first entity of each of the first pages
                            sampled = True
                        yield item
                    records += 1
        finally:
            self._drop_ahead()
        log.info("stream_read", stream=stream.name, records=records, pages=pages, rejected=rejected)
        stream.finished()

    # -- confirming deletes ---------------------------------------------------------------

    def lookup(self, url: str) -> Any | None:
        """The JSON body of one record fetched by id; None when the server answers 404 or 410."""
        try:
            return self.get(url).json()
        except ConfigError as exc:
            if exc.status in (404, 410):
                return None
            raise
        except ValueError:
            raise FatalError(
                "a lookup by id answered without JSON", connector=self.name, path=urlsplit(url).path
            ) from None

    def confirm_gone_by_lookup(
        self,
        stream: type[HttpStream[Any, Any]],
        keys: Sequence[str],
        url_of: Callable[[str], str],
        alive: Callable[[Any], bool] = lambda _body: True,
    ) -> set[str] | None:
        """The keys of `stream` whose lookup by id (`url_of`) is not found, or not `alive`.

        A 404 proves a delete only if the lookup finds what exists: keys this run read
        are looked up first, and if none is found (no such endpoint, a proxy answering
        404), or the stream read nothing, the answer is None: no confirmation. A lookup
        that fails otherwise (refused, given up after retries) is None too: the runner
        then counts consecutive misses, which is slower but just as safe.
        """
        probes = self.keys_read.get(stream.name, [])
        gone = set()
        try:
            if not any(self.lookup(url_of(probe)) is not None for probe in probes):
                log.warning("lookup_untrusted", stream=stream.name, keys=len(keys))
                return None
            for key in keys:
                body = self.lookup(url_of(key))
                if body is None or not alive(body):
                    gone.add(key)
        except FatalError as exc:
            log.warning("lookup_failed", stream=stream.name, status=exc.status, error=exc.message)
            return None
        log.info("unseen_keys_looked_up", stream=stream.name, keys=len(keys), gone=len(gone))
        return gone

    # -- Source -------------------------------------------------------------------------

    def read(self) -> Iterator[Item]:
        """Every item of every stream, in the streams' order.

        `prepare()` runs first. An `incremental_only` stream is left out of a full run; one
        whose first page answers a status in its `skip_statuses` is skipped; a stream whose
        records carry no time (`Incremental(None, …)`) is bookmarked with the moment the
        read started.
        """
        self.prepare()
        started = datetime.now(UTC)
        for stream_type in self.streams_to_read():
            stream = stream_type(self)
            if not (stream.incremental_only and self.full_snapshot):
                yield from self._read_offered(stream)
            if stream.incremental is not None and stream.incremental.replication_key is None:
                self.set_bookmark(stream.name, bookmark_text(started))

    def _read_offered(self, stream: HttpStream[Any, Any]) -> Iterator[Item]:
        try:
            yield from self.read_stream(stream)
        except FatalError as exc:
            # Only the first page: on a later one `pages` raised `PartialReadError`.
            if isinstance(exc, PartialReadError) or exc.status not in stream.skip_statuses:
                raise
            log.info("stream_not_offered", stream=stream.name, status=exc.status)
            self.note(f"{stream.name} not offered (HTTP {exc.status}): not read")
            if stream.keep_when_not_offered:
                self.not_read.add(stream.entity_type.entity)

    def prepare(self) -> None:
        """Called once before a read: e.g. to check the server still offers the endpoints."""

    def check(self) -> None:
        """Authenticate and fetch one record of the first stream."""
        stream = self.streams[0](self)
        self.fetch_page(stream, None, 1)

    def close(self) -> None:
        """Stop the page threads and close the session's connections."""
        self._drop_ahead()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self.session.close()
