"""The team's workbench: the sandbox and the local launchers. Never part of the production image.

- `sandbox`: the simulated school owners of `make run` and the tests (directory, SS 12000,
  LMS and MDM APIs) on loopback ports.
- `kafka_local`, `postgres_local`, `airflow_local`: a KRaft broker, a PostgreSQL cluster and
  an Airflow of their own in `var/`, for `make run`, `make airflow` and the tests;
  `redis_local` (the Celery broker), `celery_hostname` and `celery_local` for that Airflow
  on Celery workers (`make airflow WORKERS=2`, the scale-out test, bench/_workers.py).
- `local_services`, `_services`: starting, finding and stopping those processes.

The product (`hub` outside this package, `connectors`, `schemas`, `dags`, `plugins`) never
imports it at import time; `hub.cli` loads it inside its `sandbox`, `kafka` and `airflow`
commands only, and `docker/Dockerfile` leaves it out of the image.
"""
