"""The test suite's filter for kafka-python's abandoned sockets lets only broker sockets pass."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from tests.fixtures.kafka import BROKER_PORTS, _pass_broker_sockets, serving


@pytest.fixture
def listeners() -> Iterator[list[socket.socket]]:
    """Two loopback listeners: the first noted as a test broker, the second not."""
    opened = [socket.create_server(("127.0.0.1", 0)) for _ in range(2)]
    broker_port = opened[0].getsockname()[1]
    serving(f"127.0.0.1:{broker_port}")
    yield opened
    BROKER_PORTS.discard(broker_port)
    for listener in opened:
        listener.close()


def _unclosed(sock: socket.socket) -> Any:
    return SimpleNamespace(exc_value=ResourceWarning(f"unclosed {sock!r}"), object=sock)


def test_only_an_unclosed_socket_to_a_test_broker_passes(listeners: list[socket.socket]):
    """A broker socket's warning is dropped; another peer's, or another error, still reported."""
    reported: list[Any] = []
    hook = _pass_broker_sockets(reported.append)
    clients = [socket.create_connection(listener.getsockname()) for listener in listeners]
    try:
        to_broker, to_other = (_unclosed(client) for client in clients)
        other_error = SimpleNamespace(exc_value=ValueError("boom"), object=clients[0])
        for unraisable in (to_broker, to_other, other_error):
            hook(unraisable)
        assert [to_other, other_error] == reported
    finally:
        for client in clients:
            client.close()


def test_an_abandoned_socket_to_a_test_broker_does_not_fail_the_test(
    listeners: list[socket.socket],
):
    """The filter is installed: a broker socket left to the collector here raises no error.

    Without it pytest reports the unclosed socket after this test's call and, warnings
    being errors, fails it.
    """
    client = socket.create_connection(listeners[0].getsockname())
    assert client.getpeername()[1] in BROKER_PORTS
    del client  # finalised now, unclosed: a ResourceWarning, unraisable
