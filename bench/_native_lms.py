"""Native LMS connectors' throughput: each read in full against its sandbox app in a process.

The app (`build` gives `{vendor: app}`) runs in a child process, as the sandbox web server
does for `make run`, so the connector's parsing and the server's rendering do not share one
interpreter lock; the connector reads from this process and its records are counted.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from connectors.base import Entity, Rejected, Source


def _serve(build: Callable[[], Mapping[str, Any]], ready: Any) -> None:
    from hub.dev.sandbox.webserver import SandboxServer

    server = SandboxServer(build())
    server.start()
    ready.put(server.url)
    while True:
        time.sleep(3600)


@contextmanager
def served(build: Callable[[], Mapping[str, Any]]) -> Iterator[str]:
    """Serve the apps `build()` returns in a child process; yield the server's URL."""
    context = multiprocessing.get_context("fork")
    ready = context.Queue()
    process = context.Process(target=_serve, args=(build, ready), daemon=True)
    process.start()
    try:
        yield str(ready.get(timeout=600))
    finally:
        process.terminate()
        process.join(timeout=10)


@dataclass(frozen=True)
class Throughput:
    """One connector's full read: records (entities and dead letters) over seconds."""

    name: str
    records: int
    rejected: int
    seconds: float

    def line(self) -> str:
        """One line of the benchmark's output."""
        rate = self.records / self.seconds if self.seconds else 0.0
        return (
            f"{self.name + ' connector:':<26} {self.records:,} records in {self.seconds:.1f} s "
            f"= {rate:,.0f} records/s ({self.rejected} rejected)"
        )


def read_through(name: str, source: Source) -> Throughput:
    """Read a source in full (the connector alone: no fingerprints, no Kafka) and time it."""
    records = rejected = 0
    began = time.monotonic()
    with source:
        for item in source.read():
            if isinstance(item, Entity):
                records += 1
            elif isinstance(item, Rejected):
                rejected += 1
                records += 1
    return Throughput(name, records, rejected, time.monotonic() - began)
