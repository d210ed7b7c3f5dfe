"""Serve only the sandbox MDMs in the foreground (the MDM benchmark runs it as a child).

    python -m hub.dev.sandbox.mdm --home DIR --tenants a,b --scale N [--port N]

Credentials come from `DIR/mdm-credentials.json` (made if missing); once listening it
writes `DIR/mdm-server.json` (pid, port, url) and serves until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from hub.dev.sandbox.mdm import mdm_apps, mdm_credentials
from hub.dev.sandbox.webserver import SandboxServer

STATE_FILE = "mdm-server.json"


def main(argv: Sequence[str] | None = None) -> int:
    """Build the tenants' MDMs, listen, write the state file, serve until told to stop."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--tenants", required=True, help="comma-separated tenant ids")
    parser.add_argument("--scale", type=int, default=600, help="people per tenant")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    tenants = [t.strip() for t in args.tenants.split(",") if t.strip()]
    home: Path = args.home.resolve()
    apps = mdm_apps(tenants, args.scale, args.seed, credentials=mdm_credentials(home, tenants))
    server = SandboxServer(dict(apps), port=args.port)
    stopping = threading.Event()

    def stop(_signum: int, _frame: object) -> None:
        if not stopping.is_set():
            stopping.set()
            threading.Thread(target=server.stop, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    state = {"pid": os.getpid(), "port": server.port, "url": server.url, "tenants": tenants}
    temporary = home / f".{STATE_FILE}.tmp"
    temporary.write_text(json.dumps(state) + "\n")
    temporary.replace(home / STATE_FILE)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
