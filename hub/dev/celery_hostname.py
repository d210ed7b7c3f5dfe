"""The hostname a local Celery worker's task instances record (`[core] hostname_callable`).

Two workers on one machine share its host name, so Airflow's default (the FQDN) would not
tell their task instances apart. `hub.dev.airflow_local` starts each worker with its Celery
hostname (`worker-1@host`) in `SKOLEHUB_CELERY_WORKER` and this function as the worker's
`hostname_callable`, so the UI, the REST API and the scale-out test see which worker ran
each task. Kept in a module of its own: Airflow imports it in every task's supervisor.
"""

from __future__ import annotations

import os
import socket

#: A Celery worker's hostname, set in its environment by `hub.dev.airflow_local`.
WORKER_NAME_ENV = "SKOLEHUB_CELERY_WORKER"


def worker_hostname() -> str:
    """The worker's Celery hostname, else the machine's FQDN (Airflow's default)."""
    return os.environ.get(WORKER_NAME_ENV) or socket.getfqdn()
