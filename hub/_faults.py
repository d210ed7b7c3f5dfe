"""Fault points for the fault suite: a process kills itself at a named phase boundary.

Only a test sets `HUB_FAULT_POINT`; without it `fault_point` does nothing. With
`HUB_FAULT_POINT=mid_publish` a `hub sync` SIGKILLs itself where the runner calls
`fault_point("mid_publish")`, as an operating system's OOM killer or a lost node would:
no `finally`, no flush, no clean-up. `HUB_FAULT_AFTER=N` lets the point pass N times first
(to die after the Nth batch, not the first).

The points, in a sync's order: `after_read` (everything staged, nothing published),
`mid_publish` (a batch sent, not yet acknowledged), `after_ack` (a batch acknowledged by
Kafka, its state not committed); in the compiler: `mid_materialise` (rows written, the
transaction with the offsets not committed).
"""

from __future__ import annotations

import os
import signal

_passed: dict[str, int] = {}


def fault_point(name: str) -> None:
    """SIGKILL this process if the environment names this point (tests only)."""
    wanted = os.environ.get("HUB_FAULT_POINT")
    if wanted is None or wanted != name:
        return
    count = _passed.get(name, 0)
    if count < int(os.environ.get("HUB_FAULT_AFTER", "0")):
        _passed[name] = count + 1
        return
    os.kill(os.getpid(), signal.SIGKILL)
