"""Leases: one holder at a time for a named piece of work, kept in the state store.

A sync of one source, materialising the entity topics, and one tenant's compile each take
a lease before they touch anything and hold it to their last commit. A second process
that wants the same lease gets `LeaseHeld`, naming the holder and since when, and does
nothing. A holder that dies stops renewing; once its lease has expired the next process
takes it over and is told whose lease it took (so it can recover what the dead one left).

Commits are fenced: `Lease.fence(conn)` renews the lease inside the caller's transaction
and fails it with `LeaseLost` when another process has taken the lease meanwhile, so a
holder that stalled past its expiry can never commit over its successor. A background
thread renews the lease while the work runs between commits (a slow page, a long read).

The table works the same on SQLite and PostgreSQL: the primary key settles two inserts
at once, and a takeover is a conditional update on the expired owner.
"""

from __future__ import annotations

import getpass
import os
import socket
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import TracebackType

import sqlalchemy as sa
import structlog

from hub.settings import SettingsError
from hub.store import aware, create_tables, metadata, now

log = structlog.get_logger(__name__)

leases = sa.Table(
    "leases",
    metadata,
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("owner", sa.String(64), nullable=False),
    sa.Column("holder", sa.String(255), nullable=False),
    sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("renewed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
)

#: How long a lease lives without renewal; a holder renews at a third of it.
DEFAULT_TTL = timedelta(minutes=5)

#: The environment variable that overrides `DEFAULT_TTL`, in seconds.
TTL_ENV = "HUB_LEASE_TTL_SECONDS"


def lease_ttl() -> timedelta:
    """The lease time-to-live: `HUB_LEASE_TTL_SECONDS` if set, else `DEFAULT_TTL` (300 s).

    Every lease the hub takes (a sync, materialising, a tenant's compile) uses it, so an
    operator tunes how soon a dead holder's lease is taken over in one place.
    """
    text = os.environ.get(TTL_ENV, "").strip()
    if not text:
        return DEFAULT_TTL
    try:
        seconds = float(text)
    except ValueError:
        seconds = float("nan")
    if not seconds > 0 or seconds == float("inf"):
        raise SettingsError(f"{TTL_ENV}: expected a positive number of seconds, got {text!r}")
    return timedelta(seconds=seconds)


@dataclass(frozen=True)
class LeaseInfo:
    """Who holds (or held) a lease, and until when."""

    name: str
    owner: str
    holder: str
    acquired_at: datetime
    renewed_at: datetime
    expires_at: datetime


class LeaseHeld(Exception):
    """Another live process holds the lease; `info` says who and since when."""

    def __init__(self, info: LeaseInfo) -> None:
        self.info = info
        super().__init__(
            f"{info.name} is held by {info.holder} since "
            f"{info.acquired_at.isoformat(timespec='seconds')} "
            f"(until {info.expires_at.isoformat(timespec='seconds')} unless renewed)"
        )


class LeaseLost(Exception):
    """The lease expired and another process took it; the work must not commit."""


def describe_holder() -> str:
    """`user@host pid N`: who a lease belongs to, as an operator reads it."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry in some containers
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()} pid {os.getpid()}"


class Lease:
    """A named lease in the state store; use it as a context manager around the work."""

    def __init__(
        self,
        engine: sa.Engine,
        name: str,
        ttl: timedelta = DEFAULT_TTL,
        holder: str | None = None,
    ) -> None:
        self.engine = engine
        self.name = name
        self.ttl = ttl
        self.holder = holder or describe_holder()
        self.owner = uuid.uuid4().hex
        #: The expired lease this one took over, if any (its owner died without releasing).
        self.took_over: LeaseInfo | None = None
        self._lost = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        create_tables(engine, [leases])

    # -- acquiring and releasing ---------------------------------------------------------

    def acquire(self) -> Lease:
        """Take the lease or raise `LeaseHeld`; an expired lease is taken over."""
        for _ in range(3):
            with self.engine.begin() as conn:
                current = self._read(conn)
                stamp = now()
                values = {
                    "owner": self.owner,
                    "holder": self.holder[:255],
                    "acquired_at": stamp,
                    "renewed_at": stamp,
                    "expires_at": stamp + self.ttl,
                }
                if current is None:
                    try:
                        with conn.begin_nested():
                            conn.execute(leases.insert().values(name=self.name, **values))
                    except sa.exc.IntegrityError:
                        continue  # another process inserted first: read it again
                    break
                if current.expires_at > stamp:
                    raise LeaseHeld(current)
                taken = conn.execute(
                    leases.update()
                    .where(leases.c.name == self.name, leases.c.owner == current.owner)
                    .values(**values)
                ).rowcount
                if taken == 1:
                    self.took_over = current
                    log.warning(
                        "lease_taken_over",
                        lease=self.name,
                        previous_holder=current.holder,
                        expired_at=current.expires_at.isoformat(),
                    )
                    break
        else:
            current = self.info()
            if current is not None:
                raise LeaseHeld(current)
            raise LeaseLost(f"{self.name}: could not take the lease")  # pragma: no cover
        self._start_heartbeat()
        return self

    def release(self) -> None:
        """Give the lease up (only if it is still this process's)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self.engine.begin() as conn:
            conn.execute(
                leases.delete().where(leases.c.name == self.name, leases.c.owner == self.owner)
            )

    def __enter__(self) -> Lease:
        return self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    # -- holding ------------------------------------------------------------------------

    def fence(self, conn: sa.Connection) -> None:
        """Renew the lease inside `conn`'s transaction; raise `LeaseLost` if it is gone.

        Call it in every transaction that commits the work's results: the commit then
        happens only while this process still holds the lease.
        """
        stamp = now()
        renewed = conn.execute(
            leases.update()
            .where(leases.c.name == self.name, leases.c.owner == self.owner)
            .values(renewed_at=stamp, expires_at=stamp + self.ttl)
        ).rowcount
        if renewed != 1:
            self._lost.set()
            raise LeaseLost(f"{self.name}: the lease was taken over by another process")

    def check(self) -> None:
        """Raise `LeaseLost` if the heartbeat found the lease gone."""
        if self._lost.is_set():
            raise LeaseLost(f"{self.name}: the lease was taken over by another process")

    def info(self) -> LeaseInfo | None:
        """The lease's row as stored now, whoever holds it."""
        with self.engine.connect() as conn:
            return self._read(conn)

    def _read(self, conn: sa.Connection) -> LeaseInfo | None:
        row = conn.execute(sa.select(leases).where(leases.c.name == self.name)).first()
        if row is None:
            return None
        return LeaseInfo(
            name=row.name,
            owner=row.owner,
            holder=row.holder,
            acquired_at=aware(row.acquired_at),
            renewed_at=aware(row.renewed_at),
            expires_at=aware(row.expires_at),
        )

    def _start_heartbeat(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._heartbeat, name=f"lease-{self.name}", daemon=True
        )
        self._thread.start()

    def _heartbeat(self) -> None:
        interval = max(self.ttl.total_seconds() / 3, 0.05)
        while not self._stop.wait(interval):
            try:
                with self.engine.begin() as conn:
                    self.fence(conn)
            except LeaseLost:
                log.error("lease_lost", lease=self.name)
                return
            except sa.exc.SQLAlchemyError as exc:  # the store is away: the next beat retries
                log.warning("lease_renewal_failed", lease=self.name, error=type(exc).__name__)
