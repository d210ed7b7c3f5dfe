"""The webhook receiver of pushed changes (`hub listen`): validate, answer 202, then sync.

`POST /ss12000/<tenant>/<source>/<token>` takes an SS 12000 subscription notification
(`connectors.identity.ss12000.parse_notification`). The token must be the one the hub
put in the subscription's URL (`hub.push.webhook_token`), else 404; a body that is not a
notification is 400 with the reason. An accepted notification is answered at once (202)
and handed to the `Dispatcher`, which merges what is pending per source and runs one
sync of a source at a time in its own thread, so a burst of notifications becomes one
or two syncs. What a sync is depends on the mode:

- standalone (`LocalSync`): the targeted incremental sync of `hub.push.ChangeSync`, here;
- Airflow (`AirflowAssetEvents`): an asset event on `NOTIFICATIONS_ASSET_URI` through
  Airflow's REST API (`POST /api/v2/assets/events`, the changed streams in `extra`); the
  `hub_identity_push` DAG, scheduled on that asset, syncs.

A sync skipped because another run holds the source's lease, or one that failed, is
tried again after `retry_seconds` (merged with whatever arrived meanwhile), up to
`max_attempts`; then the scheduled run picks the change up. The URL's token is never
logged (uvicorn's access log is off; `notification_received` names tenant and source).
"""

from __future__ import annotations

import hmac
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import requests
import structlog
from fastapi import APIRouter, FastAPI, HTTPException, Request

from connectors.identity._ss12000_subscriptions import NOTIFICATIONS_ASSET_URI
from connectors.identity.ss12000 import NotificationError, parse_notification
from hub.push import ChangeSync, push_sources, webhook_token
from hub.settings import HubSettings

log = structlog.get_logger(__name__)

router = APIRouter()


class ChangeHandler(Protocol):
    """Syncs (or schedules the sync of) a source's changed streams; returns the status."""

    def __call__(self, tenant: str, source: str, streams: frozenset[str], deleted: bool) -> str:
        """`success`, `skipped` (try again) or `failed`."""
        ...


@dataclass
class _Pending:
    streams: set[str] = field(default_factory=set)
    deleted: bool = False
    attempts: int = 0
    not_before: float = 0.0


class Dispatcher:
    """Pending changes per (tenant, source), handled one at a time by a worker thread."""

    def __init__(
        self, handle: ChangeHandler, *, retry_seconds: float = 2.0, max_attempts: int = 30
    ) -> None:
        self.handle = handle
        self.retry_seconds = retry_seconds
        self.max_attempts = max_attempts
        self._pending: dict[tuple[str, str], _Pending] = {}
        self._cond = threading.Condition()
        self._stopped = False
        self._busy = 0
        self._thread = threading.Thread(target=self._work, name="hub-push-dispatcher", daemon=True)
        self._thread.start()
        #: (tenant, source, status) of the latest handled changes, oldest first.
        self.handled: deque[tuple[str, str, str]] = deque(maxlen=10_000)

    def submit(self, tenant: str, source: str, streams: frozenset[str], deleted: bool) -> None:
        """Add a change to what is pending for the source, and wake the worker."""
        with self._cond:
            pending = self._pending.setdefault((tenant, source), _Pending())
            pending.streams |= streams
            pending.deleted = pending.deleted or deleted
            self._cond.notify()

    def idle(self) -> bool:
        """Whether nothing is pending or being handled."""
        with self._cond:
            return not self._pending and not self._busy

    def stop(self) -> None:
        """Stop the worker after the change it is handling."""
        with self._cond:
            self._stopped = True
            self._cond.notify()
        self._thread.join(timeout=60)

    def _next(self) -> tuple[tuple[str, str], _Pending] | None:
        with self._cond:
            while not self._stopped:
                moment = time.monotonic()
                due = [k for k, p in self._pending.items() if p.not_before <= moment]
                if due:
                    self._busy += 1
                    return due[0], self._pending.pop(due[0])
                waits = [p.not_before - moment for p in self._pending.values()]
                self._cond.wait(timeout=min(waits) if waits else None)
            return None

    def _work(self) -> None:
        while (job := self._next()) is not None:
            (tenant, source), pending = job
            try:
                status = self.handle(tenant, source, frozenset(pending.streams), pending.deleted)
            except Exception as exc:  # a defect must not end the receiver
                log.exception("push_sync_crashed", tenant=tenant, source=source)
                status = f"failed: {type(exc).__name__}"
            self.handled.append((tenant, source, status))
            with self._cond:
                self._busy -= 1
                if status != "success":
                    pending.attempts += 1
                    if pending.attempts >= self.max_attempts:
                        log.error("push_sync_given_up", tenant=tenant, source=source)
                        continue
                    later = self._pending.setdefault((tenant, source), _Pending())
                    later.streams |= pending.streams
                    later.deleted = later.deleted or pending.deleted
                    later.attempts = max(later.attempts, pending.attempts)
                    later.not_before = time.monotonic() + self.retry_seconds
                    self._cond.notify()


class LocalSync:
    """Standalone mode: each change is a targeted sync in this process (`ChangeSync`)."""

    def __init__(self, settings: HubSettings) -> None:
        self.changes = ChangeSync(settings)

    def __call__(self, tenant: str, source: str, streams: frozenset[str], deleted: bool) -> str:
        """Sync what changed; the report's status."""
        report = self.changes.sync(tenant, source, streams, deleted)
        log.info(
            "push_sync_finished",
            tenant=tenant,
            source=source,
            status=report.status,
            published=report.published,
            duration_seconds=report.duration_seconds,
        )
        return report.status

    def close(self) -> None:
        """Close the producer and the store."""
        self.changes.close()


class AirflowAssetEvents:
    """Airflow mode: each change becomes an asset event that schedules `hub_identity_push`.

    Logs in to Airflow's API (`POST /auth/token`, the SimpleAuthManager's or any auth
    manager's JWT endpoint) with `username` and `password` from the environment.
    """

    def __init__(self, api_url: str, username: str, password: str) -> None:
        self.api_url = api_url.rstrip("/")
        self._login = {"username": username, "password": password}
        self._token: str | None = None
        self._asset_id: int | None = None
        self.session = requests.Session()

    def _headers(self, renew: bool = False) -> dict[str, str]:
        if self._token is None or renew:
            answer = self.session.post(f"{self.api_url}/auth/token", json=self._login, timeout=30)
            answer.raise_for_status()
            self._token = answer.json()["access_token"]
        return {"Authorization": f"Bearer {self._token}"}

    def _request(self, method: str, path: str, **options: Any) -> requests.Response:
        response = self.session.request(
            method, f"{self.api_url}{path}", headers=self._headers(), timeout=30, **options
        )
        if response.status_code == 401:
            response = self.session.request(
                method, f"{self.api_url}{path}", headers=self._headers(True), timeout=30, **options
            )
        response.raise_for_status()
        return response

    def asset_id(self) -> int:
        """The id of the push asset in Airflow (the DAG's parsing registers it)."""
        if self._asset_id is None:
            uri = NOTIFICATIONS_ASSET_URI
            found = self._request("GET", "/api/v2/assets", params={"uri_pattern": uri})
            ids = [a["id"] for a in found.json().get("assets", []) if a["uri"] == uri]
            if not ids:
                raise LookupError(f"Airflow knows no asset {uri} (is hub_identity_push parsed?)")
            self._asset_id = ids[0]
        return self._asset_id

    def __call__(self, tenant: str, source: str, streams: frozenset[str], deleted: bool) -> str:
        """Create the asset event; `failed` (tried again) if Airflow did not take it."""
        extra = {"tenant": tenant, "source": source, "streams": sorted(streams), "deleted": deleted}
        try:
            self._request(
                "POST", "/api/v2/assets/events", json={"asset_id": self.asset_id(), "extra": extra}
            )
        except (requests.RequestException, LookupError, KeyError) as exc:
            log.error("asset_event_failed", tenant=tenant, source=source, error=str(exc))
            return "failed"
        log.info("asset_event_created", tenant=tenant, source=source, streams=sorted(streams))
        return "success"


# -- the web app --------------------------------------------------------------------------


@dataclass
class Receiver:
    """What the routes need: the known webhooks (token by tenant and source) and the dispatcher."""

    tokens: dict[tuple[str, str], str]
    dispatcher: Dispatcher

    @classmethod
    def for_settings(cls, settings: HubSettings, secret: str, dispatcher: Dispatcher) -> Receiver:
        """A receiver for every push source of the configuration."""
        tokens = {
            (t.id, s.id): webhook_token(secret, t.id, s.id) for t, s in push_sources(settings)
        }
        return cls(tokens, dispatcher)

    def knows(self, tenant: str, source: str, token: str) -> bool:
        """Whether the URL is one the hub registered (compared in constant time)."""
        expected = self.tokens.get((tenant, source))
        return expected is not None and hmac.compare_digest(expected, token)


def _receiver(request: Request) -> Receiver:
    receiver: Receiver = request.app.state.receiver
    return receiver


@router.post("/ss12000/{tenant}/{source}/{token}", status_code=202)
async def ss12000_notification(
    tenant: str, source: str, token: str, request: Request
) -> dict[str, Any]:
    """Accept a subscription notification of a source and queue the sync of what changed."""
    receiver = _receiver(request)
    if not receiver.knows(tenant, source, token):
        log.warning("notification_refused", reason="unknown webhook URL")
        raise HTTPException(404, "no such webhook")
    try:
        notification = parse_notification(await request.body())
    except NotificationError as exc:
        log.warning("notification_refused", tenant=tenant, source=source, reason=str(exc))
        raise HTTPException(400, str(exc)) from None
    log.info(
        "notification_received",
        tenant=tenant,
        source=source,
        streams=list(notification.streams),
        deleted=notification.deleted,
    )
    if notification.relevant:
        receiver.dispatcher.submit(
            tenant, source, frozenset(notification.streams), notification.deleted
        )
    return {
        "accepted": notification.relevant,
        "streams": list(notification.streams),
        "deleted": notification.deleted,
    }


@router.get("/health")
def health(request: Request) -> dict[str, Any]:
    """Liveness, and whether a change is pending."""
    return {"status": "ok", "idle": _receiver(request).dispatcher.idle()}


def create_app(receiver: Receiver) -> FastAPI:
    """The receiver's web app."""
    app = FastAPI(title="Skolehub webhook receiver", docs_url=None, redoc_url=None)
    app.state.receiver = receiver
    app.include_router(router)
    return app


class Listener:
    """The receiver served by uvicorn in a thread of this process (`hub listen`, tests)."""

    def __init__(self, receiver: Receiver, host: str = "127.0.0.1", port: int = 0) -> None:
        import socket

        import uvicorn

        self.receiver = receiver
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        self.host, self.port = self._socket.getsockname()[:2]
        config = uvicorn.Config(
            create_app(receiver), log_level="warning", access_log=False, lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    @property
    def url(self) -> str:
        """`http://host:port`, as the sources reach it on this machine."""
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 30.0) -> Listener:
        """Serve until `stop`; returns once the server accepts requests."""
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the webhook receiver did not start")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        """Stop serving, then stop the dispatcher."""
        self._server.should_exit = True
        self._thread.join(timeout=30)
        self._socket.close()
        self.receiver.dispatcher.stop()

    def __enter__(self) -> Listener:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def renew_forever(
    ensure: Callable[[], object], every: float, stopped: threading.Event
) -> threading.Thread:
    """Call `ensure` (the subscriptions' renewal) every `every` seconds until `stopped`."""

    def run() -> None:
        while not stopped.wait(every):
            try:
                ensure()
            except Exception:  # one failed renewal is logged; the next one tries again
                log.exception("subscription_renewal_crashed")

    thread = threading.Thread(target=run, name="hub-push-renewal", daemon=True)
    thread.start()
    return thread
