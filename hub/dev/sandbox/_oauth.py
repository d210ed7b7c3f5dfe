"""What the sandbox's vendor apps share for OAuth 2.0: issued tokens and client credentials.

`TokenStore` keeps one app's access tokens per tenant; `client_credentials_grant` is the
token endpoint of a client-credentials grant (HTTP basic or form), as the OneRoster and
SS 12000 sandboxes answer it. `kept_tokens` keeps the long-lived tokens an administrator
would issue (Canvas, Moodle) in a file of the web server's home.
"""

from __future__ import annotations

import base64
import json
import math
import os
import re
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hub.dev.sandbox.webserver import Request, Response, json_response

#: Where every sandbox API answers the client-credentials grant.
TOKEN_PATH = "/oauth/token"


@dataclass
class Token:
    """One issued access token."""

    tenant: str
    expires: float
    scopes: frozenset[str] = field(default_factory=frozenset)


class TokenStore:
    """Access tokens of one vendor app: issued per tenant, expiring after `ttl` seconds."""

    def __init__(self, ttl: float = 3600.0, prefix: str = "") -> None:
        #: Lifetime of new tokens in seconds; lower it to make clients renew.
        self.ttl = ttl
        self._prefix = prefix
        self._tokens: dict[str, Token] = {}
        self._lock = threading.Lock()
        #: Tokens issued so far, per tenant.
        self.issued: Counter[str] = Counter()

    @property
    def lifetime(self) -> int:
        """The `expires_in` of a new token: whole seconds, at least one."""
        return max(1, math.ceil(self.ttl))

    def issue(self, tenant: str, scopes: frozenset[str] = frozenset()) -> str:
        """A new token for the tenant."""
        token = self._prefix + secrets.token_urlsafe(24)
        with self._lock:
            now = time.monotonic()
            if len(self._tokens) > 1000:
                self._tokens = {t: e for t, e in self._tokens.items() if e.expires > now}
            self._tokens[token] = Token(tenant, now + self.ttl, scopes)
            self.issued[tenant] += 1
        return token

    def valid(self, tenant: str, headers: Mapping[str, str]) -> Token | None:
        """The token of an `Authorization: Bearer` header if it is the tenant's and current."""
        token = bearer(headers)
        if token is None:
            return None
        with self._lock:
            entry = self._tokens.get(token)
        if entry is None or entry.tenant != tenant or entry.expires <= time.monotonic():
            return None
        return entry

    def discard(self, token: str) -> None:
        """Invalidate one token."""
        with self._lock:
            self._tokens.pop(token, None)

    def revoke(self, tenant: str | None = None) -> None:
        """Expire every token (of one tenant): the next API call gets a 401."""
        with self._lock:
            for token, entry in list(self._tokens.items()):
                if tenant is None or entry.tenant == tenant:
                    del self._tokens[token]


class IssuesTokens:
    """What a sandbox app with a `TokenStore` offers tests: token lifetime and revocation."""

    tokens: TokenStore

    @property
    def token_ttl(self) -> float:
        """Lifetime of new tokens in seconds; lower it to make clients refresh."""
        return self.tokens.ttl

    @token_ttl.setter
    def token_ttl(self, seconds: float) -> None:
        self.tokens.ttl = seconds

    def revoke_tokens(self, tenant: str | None = None) -> None:
        """Expire every issued token (of one tenant): the next API call gets a 401."""
        self.tokens.revoke(tenant)

    def control_tokens(
        self, tenant: str, action: str, data: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """Revoke a tenant's tokens or change their lifetime; None for other actions."""
        if action == "revoke_tokens":
            self.revoke_tokens(tenant)
            return {"revoked": True}
        if action == "token_ttl":
            self.token_ttl = float(data["seconds"])
            return {"token_ttl": self.tokens.ttl}
        return None


def header(headers: Mapping[str, str], name: str) -> str:
    """A request header, whatever its case."""
    wanted = name.lower()
    return next((v for k, v in headers.items() if k.lower() == wanted), "")


def bearer(headers: Mapping[str, str]) -> str | None:
    """The token of an `Authorization: Bearer <token>` header."""
    scheme, _, token = header(headers, "Authorization").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def basic(headers: Mapping[str, str]) -> tuple[str, str] | None:
    """The user and password of an `Authorization: Basic` header."""
    scheme, _, value = header(headers, "Authorization").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(value.strip()).decode("utf-8").partition(":")
    except ValueError:
        return None
    return user, password


def client_of(form: Mapping[str, str], headers: Mapping[str, str]) -> tuple[str, str]:
    """The OAuth client id and secret, from HTTP basic or the form (client_secret_post).

    A client that sends an `Authorization: Basic` header is judged by it alone, so a
    malformed one authenticates no one even when the form names a client.
    """
    if header(headers, "Authorization").partition(" ")[0].lower() == "basic":
        return basic(headers) or ("", "")
    return form.get("client_id", ""), form.get("client_secret", "")


def client_credentials_grant(
    request: Request,
    tokens: TokenStore,
    client: tuple[str, str] | None,
    *,
    realm: str,
    default_scope: str | None = None,
) -> Response:
    """The token endpoint's answer to a client-credentials request for `request.tenant`.

    `client` is the tenant's (client id, secret), None when it has none. With a
    `default_scope` the answer names the requested scope, or that one when none was asked.
    """
    form = request.form()
    if form.get("grant_type") != "client_credentials":
        return json_response({"error": "unsupported_grant_type"}, 400)
    if client is None or client_of(form, request.headers) != client:
        return json_response(
            {"error": "invalid_client", "error_description": "unknown client or wrong secret"},
            401,
            {"WWW-Authenticate": f'Basic realm="{realm}"'},
        )
    body = {
        "access_token": tokens.issue(request.tenant),
        "token_type": "bearer",
        "expires_in": tokens.lifetime,
    }
    if default_scope is not None:
        body["scope"] = form.get("scope") or default_scope
    return json_response(body, headers={"Cache-Control": "no-store"})


# -- wiring for `hub sandbox up`: the hub.yaml side of a sandbox OAuth client ---------------


def sandbox_client_id(tenant: str) -> str:
    """The sandbox OAuth client id of a tenant (shared by its sandbox vendor APIs)."""
    return f"skolehub-{tenant}"


def secret_variable(vendor: str, tenant: str) -> str:
    """The environment variable that holds a tenant's client secret for one sandbox API."""
    return f"HUB_SANDBOX_{vendor}_{re.sub(r'[^A-Z0-9]', '_', tenant.upper())}_SECRET"


def kept_tokens(path: Path, tenants: Sequence[str], make: Callable[[], str]) -> dict[str, str]:
    """Each tenant's token from the file `path` (0600); one is made and kept for a new tenant."""
    known: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    missing = [t for t in tenants if t not in known]
    if missing:
        known.update({t: make() for t in missing})
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as stream:
            json.dump(known, stream, indent=2)
    return {t: known[t] for t in tenants}


def oauth_source_config(
    source_type: str,
    tenant: str,
    base_url: str,
    *,
    source_id: str,
    secret_env: str,
    page_size: int,
    scope: str | None = None,
) -> dict[str, Any]:
    """A hub.yaml entry for a sandbox API behind OAuth client credentials at `base_url`."""
    base = base_url.rstrip("/")
    auth: dict[str, Any] = {
        "kind": "oauth_client_credentials",
        "token_url": f"{base}{TOKEN_PATH}",
        "client_id": sandbox_client_id(tenant),
        "secret": {"env": secret_env},
    }
    if scope is not None:
        auth["scope"] = scope
    return {
        "type": source_type,
        "id": source_id,
        "base_url": base,
        "auth": auth,
        "page_size": page_size,
        "max_concurrency": 2,
    }
