"""The contract every connector meets: one suite, joined with one line per connector.

In the style of Singer's `get_tap_test_class` and Airbyte's acceptance tests: a connector
supplies a pytest fixture returning a `Harness` (how to build it against its sandbox and,
for HTTP connectors, how to inject faults), and joins:

    TestOneRosterContract = http_contract("oneroster_harness")
    TestFeideLdapContract = contract("feide_ldap_harness")

`contract` checks what every source must do (connection check, at least one record, every
record a valid entity, keys unique and non-empty, paging ends, no secret in an error or a
log line); `http_contract` adds the HTTP behaviour (429 and 5xx retried honouring
`Retry-After`, dropped connections retried, other 4xx fatal at once, one credential
refresh on 401, a repeated next page detected as a loop).
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import structlog

from connectors.base import Item, Rejected, RetryPolicy, Source
from connectors.errors import AuthError, ConnectorError, FatalError
from schemas.entities import Entity

#: A wrong secret the suite tries; it must never show up either.
WRONG_SECRET = "wrong-secret-for-the-contract-4242"


@dataclass
class Harness:
    """What the suite needs to know about one connector and its sandbox."""

    #: The connector's `Source.name`, as errors must name it.
    name: str
    #: Builds a fresh connector: `build(page_size=None, retry=None, secret=None)`.
    build: Callable[..., Source]
    #: Values that must never appear in an error or a log line.
    secrets: tuple[str, ...]
    # HTTP connectors only:
    #: Plans a sandbox fault from keyword arguments (see `hub.dev.sandbox.webserver.Fault`).
    inject: Callable[..., None] | None = None
    #: A path that every full read requests, where faults are aimed.
    data_path: str | None = None
    #: Makes the sandbox refuse the credentials currently in use (e.g. expire tokens).
    expire_credentials: Callable[[], None] | None = None
    #: How many credentials (tokens) the sandbox has handed out so far.
    credential_fetches: Callable[[], int] | None = None
    #: How many requests the sandbox received for paths containing the argument.
    requests: Callable[[str], int] | None = None


class Waits:
    """A `RetryPolicy` sleep that records instead of sleeping."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)

    def policy(self, attempts: int = 5) -> RetryPolicy:
        """A retry policy that records its waits here."""
        return RetryPolicy(attempts=attempts, base_delay=0.5, max_delay=30.0, sleep=self)


def read_all(source: Source) -> list[Item]:
    """Everything a connector yields, read inside its context."""
    with source:
        return list(source.read())


def entities(items: list[Item]) -> list[Entity]:
    """The entities among a read's items."""
    return [item for item in items if isinstance(item, Entity)]


def assert_no_secret(harness: Harness, *texts: object) -> None:
    """Neither the connector's secrets nor the wrong secret appear in any of `texts`."""
    blob = "\n".join(json.dumps(t, default=str) if not isinstance(t, str) else t for t in texts)
    for secret in (*harness.secrets, WRONG_SECRET):
        assert secret not in blob


def _error_texts(error: ConnectorError) -> list[str]:
    return [str(error), repr(error), error.message, repr(error.args)]


class ConnectorContract:
    """What every source connector must do; joined through `contract(fixture_name)`."""

    @pytest.fixture
    def harness(self) -> Harness:
        """Overridden by `contract()` with the connector's own harness fixture."""
        raise NotImplementedError

    def test_connection_check_passes(self, harness: Harness) -> None:
        """`check()` connects and authenticates against the sandbox without raising."""
        with harness.build() as source:
            assert None is source.check()

    def test_reads_at_least_one_record(self, harness: Harness) -> None:
        """A full read of the sandbox yields at least one entity."""
        assert 1 <= len(entities(read_all(harness.build())))

    def test_every_record_is_a_valid_entity(self, harness: Harness) -> None:
        """Every item is an entity of a declared type that survives a JSON round trip."""
        source = harness.build()
        items = read_all(source)
        assert [] == [item for item in items if isinstance(item, Rejected)]
        for entity in entities(items):
            assert type(entity) in source.entity_types
            assert (source.tenant, source.ref) == (entity.tenant, entity.source)
            assert entity == type(entity).model_validate(entity.model_dump(mode="json"))

    def test_keys_are_unique_and_non_empty(self, harness: Harness) -> None:
        """Within each entity type every key is a non-empty string seen once."""
        keys: dict[str, list[str]] = defaultdict(list)
        for entity in entities(read_all(harness.build())):
            keys[entity.entity].append(entity.key)
        for name, found in keys.items():
            assert [] == [k for k in found if not k.strip()], name
            assert len(found) == len(set(found)), name

    def test_paging_ends_with_the_same_records_at_any_page_size(self, harness: Harness) -> None:
        """Tiny pages end, within a deadline, with exactly the records of a default read."""
        started = time.monotonic()
        small = read_all(harness.build(page_size=7))
        assert time.monotonic() - started < 120
        default = read_all(harness.build())
        as_keys = lambda items: sorted((e.entity, e.key) for e in entities(items))  # noqa: E731
        assert as_keys(default) == as_keys(small)

    def test_wrong_secret_is_refused_without_showing_it(self, harness: Harness) -> None:
        """Bad credentials fail the check as an `AuthError` that shows no secret."""
        with structlog.testing.capture_logs() as logs:
            with pytest.raises(AuthError) as caught, harness.build(secret=WRONG_SECRET) as source:
                source.check()
        assert harness.name == caught.value.connector
        assert_no_secret(harness, *_error_texts(caught.value), logs)

    def test_no_secret_in_the_logs_of_a_read(self, harness: Harness) -> None:
        """A full read logs nothing that contains a secret."""
        with structlog.testing.capture_logs() as logs:
            read_all(harness.build())
        assert_no_secret(harness, logs)


class HttpConnectorContract(ConnectorContract):
    """What every HTTP connector must do besides; joined through `http_contract()`."""

    @staticmethod
    def _http(harness: Harness) -> tuple[Callable[..., None], str]:
        assert harness.inject is not None and harness.data_path is not None
        return harness.inject, harness.data_path

    def test_throttling_is_retried_honouring_retry_after(self, harness: Harness) -> None:
        """A 429 with `Retry-After: 3` is waited out for exactly 3 s, then the read succeeds."""
        inject, path = self._http(harness)
        waits = Waits()
        inject(kind="status", status=429, retry_after=3, path=path, times=1)
        assert entities(read_all(harness.build(retry=waits.policy())))
        assert [3.0] == waits.seconds

    def test_retry_after_as_an_http_date_is_honoured(self, harness: Harness) -> None:
        """A 503 with `Retry-After` as an HTTP date about 20 s ahead waits about 20 s."""
        inject, path = self._http(harness)
        waits = Waits()
        inject(kind="status", status=503, retry_after=20, retry_after_http_date=True, path=path)
        assert entities(read_all(harness.build(retry=waits.policy())))
        assert 1 == len(waits.seconds)
        assert 17 <= waits.seconds[0] <= 20

    def test_server_errors_are_retried_with_backoff(self, harness: Harness) -> None:
        """Two 503s in a row are retried with capped, growing waits, then the read succeeds."""
        inject, path = self._http(harness)
        waits = Waits()
        inject(kind="status", status=503, path=path, times=2)
        assert entities(read_all(harness.build(retry=waits.policy())))
        assert 2 == len(waits.seconds)
        assert all(0 <= w <= c for w, c in zip(waits.seconds, (0.5, 1.0), strict=True))

    def test_dropped_connections_are_retried(self, harness: Harness) -> None:
        """A connection closed without an answer is retried and the read succeeds."""
        inject, path = self._http(harness)
        waits = Waits()
        inject(kind="drop", path=path, times=1)
        assert entities(read_all(harness.build(retry=waits.policy())))
        assert 1 == len(waits.seconds)

    def test_persistent_server_errors_give_up_with_the_status(self, harness: Harness) -> None:
        """A 503 on every attempt fails after the configured attempts, naming status and path."""
        inject, path = self._http(harness)
        waits = Waits()
        inject(kind="status", status=503, path=path, times=-1)
        with pytest.raises(FatalError, match="gave up after 3 attempts") as caught:
            read_all(harness.build(retry=waits.policy(attempts=3)))
        assert (harness.name, 503, path) == (
            caught.value.connector,
            caught.value.status,
            caught.value.path,
        )
        assert_no_secret(harness, *_error_texts(caught.value))

    @pytest.mark.parametrize("status", [400, 403, 404])
    def test_other_client_errors_are_fatal_at_once(self, harness: Harness, status: int) -> None:
        """Any other 4xx fails at once, naming connector, path and status, and no secret."""
        inject, path = self._http(harness)
        assert harness.requests is not None
        waits = Waits()
        inject(kind="status", status=status, path=path, times=-1)
        with pytest.raises(FatalError) as caught:
            read_all(harness.build(retry=waits.policy()))
        assert (harness.name, status, path) == (
            caught.value.connector,
            caught.value.status,
            caught.value.path,
        )
        assert ([], 1) == (waits.seconds, harness.requests(path))
        assert_no_secret(harness, *_error_texts(caught.value))

    def test_expired_credentials_are_refreshed_once(self, harness: Harness) -> None:
        """Credentials refused mid-session are fetched again once and the read succeeds."""
        assert harness.expire_credentials and harness.credential_fetches
        with harness.build() as source:
            source.check()
            before = harness.credential_fetches()
            harness.expire_credentials()
            assert entities(list(source.read()))
        assert before + 1 == harness.credential_fetches()

    def test_a_401_after_the_refresh_is_final(self, harness: Harness) -> None:
        """A 401 that persists after one credential refresh fails as an `AuthError`."""
        inject, path = self._http(harness)
        assert harness.credential_fetches and harness.requests
        with structlog.testing.capture_logs() as logs, harness.build() as source:
            source.check()
            before = harness.credential_fetches()
            inject(kind="status", status=401, path=path, times=-1)
            with pytest.raises(AuthError) as caught:
                list(source.read())
        assert (before + 1, 2) == (harness.credential_fetches(), harness.requests(path))
        assert (401, path) == (caught.value.status, caught.value.path)
        assert_no_secret(harness, *_error_texts(caught.value), logs)

    def test_a_page_that_names_itself_as_next_is_a_loop(self, harness: Harness) -> None:
        """Paging stops with a clear error when the next page is the page just read."""
        inject, path = self._http(harness)
        inject(kind="repeat_next", path=path, times=-1)
        with pytest.raises(FatalError, match="Loop detected in pagination") as caught:
            read_all(harness.build(page_size=10))
        assert harness.name == caught.value.connector


class StaticCredentialsHttpContract(HttpConnectorContract):
    """The HTTP contract for fixed credentials (basic authentication, an API token).

    Such credentials cannot be renewed, so a 401 is final at once: `expire_credentials`
    changes them at the source (a password rotated, a token revoked).
    """

    def test_expired_credentials_are_refreshed_once(self, harness: Harness) -> None:
        """Credentials changed at the source mid-session fail at once as an `AuthError`."""
        assert harness.expire_credentials and harness.requests and harness.data_path
        with structlog.testing.capture_logs() as logs, harness.build() as source:
            source.check()
            harness.expire_credentials()
            with pytest.raises(AuthError) as caught:
                list(source.read())
        assert (harness.name, 401) == (caught.value.connector, caught.value.status)
        assert_no_secret(harness, *_error_texts(caught.value), logs)

    def test_a_401_after_the_refresh_is_final(self, harness: Harness) -> None:
        """A 401 is final on the first answer: fixed credentials are not sent again."""
        inject, path = self._http(harness)
        assert harness.requests
        waits = Waits()
        inject(kind="status", status=401, path=path, times=-1)
        with pytest.raises(AuthError) as caught:
            read_all(harness.build(retry=waits.policy()))
        assert ([], 1, 401) == (waits.seconds, harness.requests(path), caught.value.status)


class UnpagedHttpContract(StaticCredentialsHttpContract):
    """The HTTP contract for a token API whose calls answer whole lists (Moodle).

    Such an API refuses a token with an error body (Moodle: HTTP 200 and `invalidtoken`),
    and has no continuation a server could repeat.
    """

    def test_expired_credentials_are_refreshed_once(self, harness: Harness) -> None:
        """A token revoked mid-session fails at once as an `AuthError` that shows no secret."""
        assert harness.expire_credentials
        with structlog.testing.capture_logs() as logs, harness.build() as source:
            source.check()
            harness.expire_credentials()
            with pytest.raises(AuthError) as caught:
                list(source.read())
        assert harness.name == caught.value.connector
        assert_no_secret(harness, *_error_texts(caught.value), logs)

    def test_a_page_that_names_itself_as_next_is_a_loop(self, harness: Harness) -> None:
        """Answers carry no continuation, so a repeated-link fault changes nothing read."""
        inject, path = self._http(harness)
        keys = lambda items: sorted((e.entity, e.key) for e in entities(items))  # noqa: E731
        default = keys(read_all(harness.build()))
        inject(kind="repeat_next", path=path, times=-1)
        assert default == keys(read_all(harness.build(page_size=10)))


def unpaged_http_contract(fixture: str) -> type:
    """The HTTP contract for an unpaged token API (Moodle), for the harness `fixture`."""
    return _joined(UnpagedHttpContract, fixture)


def static_credentials_http_contract(fixture: str) -> type:
    """The HTTP contract for a connector with fixed credentials, for the harness `fixture`."""
    return _joined(StaticCredentialsHttpContract, fixture)


def _joined(base: type, fixture: str) -> type:
    @pytest.fixture
    def harness(self: Any, request: pytest.FixtureRequest) -> Harness:
        return request.getfixturevalue(fixture)  # type: ignore[no-any-return]

    name = "".join(part.title() for part in fixture.removesuffix("_harness").split("_"))
    return type(f"Test{name}Contract", (base,), {"harness": harness})


def contract(fixture: str) -> type:
    """The connector contract for the connector whose `Harness` fixture is `fixture`."""
    return _joined(ConnectorContract, fixture)


def http_contract(fixture: str) -> type:
    """The connector contract plus the HTTP checks, for the harness fixture `fixture`."""
    return _joined(HttpConnectorContract, fixture)
