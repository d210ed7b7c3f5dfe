import random
from typing import Any

import pytest

from connectors.base import RetryPolicy, paged
from connectors.errors import Action, FatalError, PartialReadError, RetriableError, action_for


class ListPaginator:
    """Pages are (items, next token) tuples; the source declares no total."""

    def next(self, page: tuple[list[int], str | None]) -> str | None:
        return page[1]

    def total(self, page: tuple[list[int], str | None]) -> int | None:
        return None


class TotalPaginator(ListPaginator):
    """Like `ListPaginator`, and every page declares the same total."""

    def __init__(self, total: int) -> None:
        self.declared = total

    def total(self, page: tuple[list[int], str | None]) -> int | None:
        return self.declared


def read_all(pages: dict[str | None, tuple[list[int], str | None]], paginator: Any) -> list[int]:
    """Every item of every page `paged` yields."""
    return [
        item
        for page in paged(
            pages.__getitem__, paginator, connector="src", stream="s", count=lambda p: len(p[0])
        )
        for item in page[0]
    ]


def test_paging_follows_tokens_to_the_end():
    """The loop follows tokens until a page without one."""
    pages = {None: ([1, 2], "a"), "a": ([3], "b"), "b": ([4], None)}
    assert [1, 2, 3, 4] == read_all(pages, ListPaginator())


def test_paging_continues_past_empty_pages_that_carry_a_token():
    """An empty page with a token is not the end: the pages after it are read too."""
    pages = {None: ([1], "a"), "a": ([], "b"), "b": ([], "c"), "c": ([2, 3], None)}
    assert [1, 2, 3] == read_all(pages, ListPaginator())


def test_paging_ends_on_an_empty_page_without_a_token():
    """An empty last page ends the read quietly when nothing more was declared."""
    pages = {None: ([1], "a"), "a": ([], None)}
    assert [1] == read_all(pages, ListPaginator())


def test_repeated_token_is_a_loop():
    """A token the source sent before is fatal instead of paging forever."""
    pages = {None: ([1], "a"), "a": ([2], "b"), "b": ([3], "a")}
    with pytest.raises(FatalError, match="Loop detected in pagination") as caught:
        read_all(pages, ListPaginator())
    assert "src" == caught.value.connector


def test_a_read_shorter_than_the_declared_total_is_a_partial_read():
    """Fewer records than the source declared fails, naming the stream, expected and read."""
    pages = {None: ([1, 2], "a"), "a": ([3], None)}
    with pytest.raises(PartialReadError, match="declared 5 records, read 3") as caught:
        read_all(pages, TotalPaginator(5))
    assert ("src", "s", 5, 3) == (
        caught.value.connector,
        caught.value.stream,
        caught.value.expected,
        caught.value.read,
    )


def test_a_read_that_reaches_the_declared_total_succeeds():
    """A read of exactly (or more than) the declared total ends normally."""
    pages = {None: ([1, 2], "a"), "a": ([3], None)}
    assert [1, 2, 3] == read_all(pages, TotalPaginator(3))


def test_retry_honours_retry_after_then_succeeds():
    """A retriable error with Retry-After waits exactly that long, then the call succeeds."""
    waits: list[float] = []
    calls = iter([RetriableError("busy", connector="c", status=429, retry_after=2.0), "ok"])

    def op() -> str:
        value = next(calls)
        if isinstance(value, Exception):
            raise value
        return value

    assert "ok" == RetryPolicy(sleep=waits.append).call(op, connector="c", what="x")
    assert [2.0] == waits


def test_retry_backs_off_exponentially_with_jitter_and_gives_up():
    """Without Retry-After waits grow as capped full jitter, and the last failure is fatal."""
    waits: list[float] = []
    policy = RetryPolicy(
        attempts=4, base_delay=1.0, max_delay=3.0, sleep=waits.append, rng=random.Random(7)
    )

    def op() -> None:
        raise RetriableError("down", connector="c", status=503, path="/x")

    with pytest.raises(FatalError, match="gave up after 4 attempts") as caught:
        policy.call(op, connector="c", what="x")
    assert 503 == caught.value.status
    assert 3 == len(waits)
    for wait, ceiling in zip(waits, [1.0, 2.0, 3.0], strict=True):
        assert 0 <= wait <= ceiling


def test_fatal_errors_are_not_retried():
    """A fatal error goes straight through the policy."""
    calls = []

    def op() -> None:
        calls.append(1)
        raise FatalError("no", connector="c")

    with pytest.raises(FatalError):
        RetryPolicy(sleep=lambda _: None).call(op, connector="c", what="x")
    assert [1] == calls


@pytest.mark.parametrize(
    ("status", "action"),
    [
        (429, Action.RATE_LIMITED),
        (503, Action.RETRY),
        (599, Action.RETRY),
        (401, Action.REFRESH_AUTH),
        (404, Action.FAIL),
        (403, Action.FAIL),
    ],
)
def test_error_table(status: int, action: Action):
    """The error table maps statuses to the documented actions."""
    assert action == action_for(status)


def test_error_message_names_connector_path_and_status():
    """str() of an error carries connector, path and status from its attributes."""
    err = FatalError("not found", connector="lms.oneroster", status=404, path="/users")
    assert "lms.oneroster /users (HTTP 404): not found" == str(err)
