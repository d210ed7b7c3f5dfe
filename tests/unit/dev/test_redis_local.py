"""hub.dev.redis_local: a real redis-server from Debian's package, on loopback, with a password."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from hub.dev.redis_local import HOST, LocalRedis, redis_server
from tests.conftest import in_ci


@pytest.fixture
def redis_home(tmp_path: Path) -> Path:
    if redis_server() is None:
        if in_ci():
            pytest.fail("redis-server is not installed: `make system-deps` installs it")
        pytest.skip("redis-server is not installed (skipped outside CI; under CI=true this fails)")
    return tmp_path / "redis"


def ask(port: int, command: bytes) -> bytes:
    with socket.create_connection((HOST, port), timeout=5) as sock:
        sock.sendall(command)
        return sock.recv(200)


def test_up_answers_with_its_password_only_and_down_stops_it(redis_home: Path):
    """The server answers PING after AUTH, refuses commands without it, and stops on down()."""
    redis = LocalRedis(redis_home)
    try:
        url = redis.up()
        port = redis.port
        assert port is not None
        assert f"redis://:{redis.password()}@{HOST}:{port}/0" == url
        assert ask(port, b"PING\r\n").startswith(b"-NOAUTH")
        assert b"+OK\r\n+PONG\r\n" == ask(port, f"AUTH {redis.password()}\r\nPING\r\n".encode())
        assert url == redis.up()  # already running: the same server
    finally:
        stopped = redis.down()
    assert stopped
    assert not redis.running()
    assert not redis.down()


def test_the_port_and_password_are_kept_across_restarts(redis_home: Path):
    """A restarted server listens on its old port with its old password (URLs stay valid)."""
    redis = LocalRedis(redis_home)
    try:
        first = redis.up()
        redis.down()
        assert first == redis.up()
    finally:
        redis.down()
