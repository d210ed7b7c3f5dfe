"""Authenticators of the HTTP connector base: OAuth 2.0 client credentials, bearer, basic."""

from __future__ import annotations

import base64
import email.utils
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import requests
import structlog

from connectors._redact import scrub
from connectors.errors import Action, AuthError, RetriableError, action_for
from connectors.settings import BasicAuth, BearerToken, HttpSourceSettings, OAuthClientCredentials

log = structlog.get_logger(__name__)

_DETAIL_KEYS = ("imsx_description", "error_description", "message", "error", "detail")
_MAX_DETAIL = 200


def retry_after_seconds(
    value: str | None, now: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> float | None:
    """Seconds a `Retry-After` header asks for: a number of seconds or an HTTP date."""
    if not value or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now()).total_seconds())


def token_request(
    session: requests.Session,
    method: str,
    url: str,
    *,
    connector: str,
    timeout: float,
    **kwargs: Any,
) -> requests.Response:
    """A request to a token endpoint by a connector's own authenticator.

    No answer, throttling and server errors raise `RetriableError`, so the base's retry
    policy stays the only place that retries; any other answer, a refusal included, is
    returned for the authenticator to read.
    """
    path = urlsplit(url).path
    try:
        response = session.request(method, url, timeout=timeout, **kwargs)
    except requests.RequestException as exc:
        raise RetriableError(
            f"token request failed: {type(exc).__name__}", connector=connector, path=path
        ) from None
    status = response.status_code
    if status >= 400 and action_for(status) in (Action.RETRY, Action.RATE_LIMITED):
        raise RetriableError(
            f"token endpoint answered {response.reason or status}",
            connector=connector,
            status=status,
            path=path,
            retry_after=retry_after_seconds(response.headers.get("Retry-After")),
        )
    return response


def without_secrets(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    return str(scrub(text))


def error_detail(response: requests.Response, secrets: tuple[str, ...]) -> str:
    """A short, scrubbed description from an error body, if it has one."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if isinstance(body, dict):
        for key in _DETAIL_KEYS:
            value = body.get(key)
            if isinstance(value, str) and value.strip():
                return without_secrets(value.strip()[:_MAX_DETAIL], secrets)
    return ""


class Authenticator(ABC):
    """Adds credentials to requests; `refresh()` after a 401 says whether a retry may help."""

    @abstractmethod
    def headers(self) -> dict[str, str]:
        """The headers that authenticate the next request."""

    def refresh(self) -> bool:
        """Drop cached credentials; True when new ones can be fetched (static ones cannot)."""
        return False

    @abstractmethod
    def secrets(self) -> tuple[str, ...]:
        """Every secret value this authenticator holds, so messages can be scrubbed of them."""


class StaticBearer(Authenticator):
    """A fixed bearer token (an API key)."""

    def __init__(self, token: str) -> None:
        self._token = token

    def headers(self) -> dict[str, str]:
        """`Authorization: Bearer <token>`."""
        return {"Authorization": f"Bearer {self._token}"}

    def secrets(self) -> tuple[str, ...]:
        """The token."""
        return (self._token,)


class Basic(Authenticator):
    """HTTP basic authentication."""

    def __init__(self, username: str, password: str) -> None:
        self._password = password
        self._value = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")

    def headers(self) -> dict[str, str]:
        """`Authorization: Basic <base64>`."""
        return {"Authorization": f"Basic {self._value}"}

    def secrets(self) -> tuple[str, ...]:
        """The password and the encoded header value."""
        return (self._password, self._value)


class ClientCredentials(Authenticator):
    """OAuth 2.0 client credentials: a cached access token, fetched again before it expires.

    The token is renewed when less than `leeway` seconds (at most a tenth of its lifetime)
    remain, and after a 401. Token-endpoint failures are typed like any other request:
    throttling and 5xx are retriable, a refusal is an `AuthError` naming the client id.
    """

    def __init__(
        self,
        settings: OAuthClientCredentials,
        client_secret: str,
        *,
        session: requests.Session,
        timeout: float,
        connector: str,
        leeway: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self._client_secret = client_secret
        self._session = session
        self._timeout = timeout
        self._connector = connector
        self._leeway = leeway
        self._clock = clock
        self._token: str | None = None
        self._renew_at = 0.0
        #: How many tokens were fetched, for tests and logs.
        self.fetched = 0

    def headers(self) -> dict[str, str]:
        """`Authorization: Bearer <token>`, fetching a token first when needed."""
        if self._token is None or self._clock() >= self._renew_at:
            self._fetch()
        return {"Authorization": f"Bearer {self._token}"}

    def refresh(self) -> bool:
        """Forget the cached token; the next request fetches a new one."""
        self._token = None
        return True

    def secrets(self) -> tuple[str, ...]:
        """The client secret and the current token."""
        return tuple(s for s in (self._client_secret, self._token) if s)

    def grant(self) -> tuple[dict[str, str], tuple[str, str] | None]:
        """The token request's form and HTTP basic credentials (the client id and secret).

        A client that authenticates otherwise (a signed client assertion) overrides it.
        """
        data = {"grant_type": "client_credentials"}
        if self.settings.scope:
            data["scope"] = self.settings.scope
        return data, (self.settings.client_id, self._client_secret)

    def _fetch(self) -> None:
        path = urlsplit(self.settings.token_url).path
        data, auth = self.grant()
        response = token_request(
            self._session,
            "POST",
            self.settings.token_url,
            connector=self._connector,
            timeout=self._timeout,
            data=data,
            auth=auth,
            verify=self._session.verify,  # see HttpSource._attempt
        )
        status = response.status_code
        if status >= 400:
            detail = error_detail(response, self.secrets())
            raise AuthError(
                f"token endpoint refused client {self.settings.client_id}"
                + (f": {detail}" if detail else ""),
                connector=self._connector,
                status=status,
                path=path,
            )
        try:
            body = response.json()
            token = body["access_token"]
            lifetime = float(body.get("expires_in") or 0)
        except (ValueError, KeyError, TypeError):
            raise AuthError(
                "token endpoint answered without an access_token",
                connector=self._connector,
                status=status,
                path=path,
            ) from None
        self._token = str(token)
        now = self._clock()
        self._renew_at = (
            now + lifetime - min(self._leeway, lifetime / 10) if lifetime > 0 else float("inf")
        )
        self.fetched += 1
        log.info("token_fetched", connector=self._connector, expires_in=lifetime)


def authenticator_for(
    settings: HttpSourceSettings,
    secret: str,
    *,
    session: requests.Session,
    connector: str,
    clock: Callable[[], float] = time.monotonic,
) -> Authenticator:
    """The authenticator a source's `auth` settings describe, holding `secret`."""
    auth = settings.auth
    if isinstance(auth, OAuthClientCredentials):
        return ClientCredentials(
            auth,
            secret,
            session=session,
            timeout=settings.timeout_seconds,
            connector=connector,
            clock=clock,
        )
    if isinstance(auth, BearerToken):
        return StaticBearer(secret)
    if isinstance(auth, BasicAuth):
        return Basic(auth.username, secret)
    raise TypeError(f"unknown auth kind {auth!r}")  # pragma: no cover
