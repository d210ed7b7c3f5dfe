"""Connector errors, typed by what the caller must do, and the one HTTP error table.

Status codes and connector names are attributes, never parsed back out of a message,
and no message ever carries a secret.
"""

from __future__ import annotations

from enum import Enum


class ConnectorError(Exception):
    """Base of every connector error; names the connector and, for HTTP, the status and path."""

    def __init__(
        self,
        message: str,
        *,
        connector: str,
        status: int | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.connector = connector
        self.status = status
        self.path = path

    def __str__(self) -> str:
        where = f" {self.path}" if self.path else ""
        status = f" (HTTP {self.status})" if self.status is not None else ""
        return f"{self.connector}{where}{status}: {self.message}"


class RetriableError(ConnectorError):
    """A passing failure (throttling, a server error, a dropped connection): try again later."""

    def __init__(
        self,
        message: str,
        *,
        connector: str,
        status: int | None = None,
        path: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, connector=connector, status=status, path=path)
        self.retry_after = retry_after


class FatalError(ConnectorError):
    """A failure that retrying will not mend; the source fails and the others go on."""


class AuthError(FatalError):
    """The credentials were refused."""


class ConfigError(FatalError):
    """The source's configuration cannot work (a bad base DN, an unknown endpoint version)."""


class PartialReadError(FatalError):
    """A stream's read ended before the source's end; nothing it missed may count as deleted.

    `expected` is the total the source declared (None when the read broke off, e.g. a 404
    on a later page), `read` the records received, dead-lettered ones included.
    """

    def __init__(
        self,
        message: str,
        *,
        connector: str,
        stream: str,
        read: int,
        expected: int | None = None,
        status: int | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(message, connector=connector, status=status, path=path)
        self.stream = stream
        self.read = read
        self.expected = expected


class SkippableRecordError(ConnectorError):
    """One record is bad; it goes to the dead-letter topic and the run goes on."""


class Action(Enum):
    """What the connector base does with an HTTP status."""

    RETRY = "retry"
    RATE_LIMITED = "rate_limited"
    REFRESH_AUTH = "refresh_auth"
    FAIL = "fail"


#: The whole HTTP error policy in one table: status → action. Statuses not listed fail
#: when they are 4xx and retry when they are 5xx (see `action_for`).
HTTP_ERROR_POLICY: dict[int, Action] = {
    401: Action.REFRESH_AUTH,
    408: Action.RETRY,
    429: Action.RATE_LIMITED,
    500: Action.RETRY,
    502: Action.RETRY,
    503: Action.RETRY,
    504: Action.RETRY,
}


def action_for(status: int) -> Action:
    """The action the error table prescribes for an HTTP status of 400 or more."""
    if status in HTTP_ERROR_POLICY:
        return HTTP_ERROR_POLICY[status]
    return Action.RETRY if status >= 500 else Action.FAIL
