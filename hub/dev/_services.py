"""Process, port and file helpers shared by the local services (`kafka_local`, `airflow_local`).

A local service runs detached in a session of its own, so that the command that started it
can return and another process can find it again by pid; these helpers start such a
process, tell whether it still runs, stop it (or its whole process group), pick loopback
ports, serialise two starts of the same service with a lock file and write its secrets.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import signal
import socket
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

_POLL_INTERVAL_S = 0.1
_KILL_WAIT_S = 10.0


class StillRunningError(RuntimeError):
    """A process (or a process group) survived SIGKILL."""

    def __init__(self, pid: int) -> None:
        super().__init__(f"process {pid} survived SIGKILL")
        self.pid = pid


def spawn_detached(argv: Sequence[str], env: Mapping[str, str], output: Path) -> int:
    """Start `argv` in a new session (its pid is its process group), output appended to a file.

    posix_spawn leaves no Popen object behind to warn at garbage collection; the process is
    reaped by whoever polls it with `process_alive`, or adopted by init when we exit.
    """
    return os.posix_spawn(
        argv[0],
        list(argv),
        dict(env),
        file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, str(output), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644),
            (os.POSIX_SPAWN_DUP2, 1, 2),
        ],
        setsid=True,
    )


def process_alive(pid: int) -> bool:
    """Whether `pid` runs; reaps it if it is our exited child and ignores zombies."""
    with contextlib.suppress(ChildProcessError):
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except FileNotFoundError:
        return False
    except OSError:
        return True
    # The state letter follows the parenthesised command name, which may hold spaces.
    return stat.rpartition(")")[2].split()[:1] not in (["Z"], ["X"])


def process_start_ticks(pid: int) -> int | None:
    """When `pid` started (clock ticks since boot), to tell it from a later process with its pid."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    # Field 22 of stat; the fields after the command name start at field 3.
    return int(fields.rpartition(")")[2].split()[19])


def group_members(pgid: int) -> list[int]:
    """The live (not zombie) processes of process group `pgid`, from /proc."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text(encoding="ascii", errors="replace")
        except OSError:
            continue
        state, _parent, group = fields.rpartition(")")[2].split()[:3]
        if int(group) == pgid and state not in ("Z", "X"):
            members.append(int(entry.name))
    return members


def wait_for_exit(pid: int, deadline: float, *, group: bool = False) -> bool:
    """Poll until `pid` (with `group`: every process of its group) has exited; False at deadline."""
    while process_alive(pid) or (group and group_members(pid)):
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL_INTERVAL_S)
    return True


def terminate(pid: int, timeout: float, *, group: bool = False) -> bool:
    """Stop `pid` (or its process group) with SIGTERM, then SIGKILL after `timeout` seconds.

    Returns whether SIGKILL was needed. Raises `StillRunningError` if anything survives it.
    """
    send = os.killpg if group else os.kill
    with contextlib.suppress(ProcessLookupError):
        send(pid, signal.SIGTERM)
    if wait_for_exit(pid, time.monotonic() + timeout, group=group):
        return False
    with contextlib.suppress(ProcessLookupError):
        send(pid, signal.SIGKILL)
    if not wait_for_exit(pid, time.monotonic() + _KILL_WAIT_S, group=group):
        raise StillRunningError(pid)
    return True


def free_port(host: str, exclude: set[int] | None = None) -> int:
    """Return a port on `host` that nothing listens on now."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            port = int(sock.getsockname()[1])
        if port not in (exclude or set()):
            return port


def port_free(host: str, port: int) -> bool:
    """Whether a server could bind `port` on `host` (as servers do, with SO_REUSEADDR)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return False
            raise
    return True


def kept_port(home: Path) -> int | None:
    """The port a service in `home` was last started on (`<home>/port`), if it ever was."""
    try:
        return int((home / "port").read_text(encoding="ascii"))
    except (FileNotFoundError, ValueError):
        return None


def keep_port(home: Path, host: str) -> int:
    """The service's kept port if it is free again, else a new free one; written to `<home>/port`.

    Keeping the port keeps the URLs that point at the service valid across restarts.
    """
    port = kept_port(home)
    if port is None or not port_free(host, port):
        port = free_port(host)
    (home / "port").write_text(str(port), encoding="ascii")
    return port


@contextlib.contextmanager
def file_lock(path: Path, timeout: float, error: type[Exception]) -> Iterator[None]:
    """Hold an exclusive lock on `path`, so two processes do not start one service twice.

    Raises `error` (the caller's error type) when the lock stays taken for `timeout` seconds.
    """
    deadline = time.monotonic() + timeout
    with path.open("a") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise error(f"{path} stayed locked for {timeout:.0f} s") from None
                time.sleep(_POLL_INTERVAL_S)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_private(path: Path, text: str) -> None:
    """Replace `path` with `text`, readable by the owner only (0600) from its first byte."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # a leftover file keeps its mode through O_CREAT
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    tmp.replace(path)


def last_lines(text: str, count: int) -> str:
    """Return the last `count` non-empty lines of `text`."""
    lines = [line for line in text.splitlines() if line.strip()]
    return "\n".join(lines[-count:])
