"""The Airflow task bodies of the follow-up DAGs: one function per task, settings read at run time.

Each function first installs the hub's log redaction (`hub.logging.install_redaction`).

A task whose work another process holds the lease of (a `hub compile` beside the DAG)
raises `AirflowSkipException`: the task ends `skipped`, its log names the holder, and a
skipped compile emits no Asset events for follow-up topics it did not publish.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

from hub.followup import jobs
from hub.leases import LeaseHeld
from hub.logging import install_redaction
from hub.settings import load_env_file, load_settings


@contextmanager
def _skipped_while_held() -> Iterator[None]:
    """Turn `LeaseHeld` into Airflow's skip, so the task ends `skipped`, not failed."""
    from airflow.sdk.exceptions import AirflowSkipException

    try:
        yield
    except LeaseHeld as exc:
        raise AirflowSkipException(f"skipped: {exc}") from exc


def followup_plan() -> list[str]:
    """Every configured tenant, as mapped-task arguments."""
    install_redaction()
    load_env_file()
    return [t.id for t in load_settings().tenants]


def run_materialise_task() -> dict[str, Any]:
    """Consume every entity topic to its end into the reporting store; skipped if held."""
    install_redaction()
    load_env_file()
    with _skipped_while_held():
        progress = jobs.materialise(load_settings())
    return {
        "records": progress.records,
        "upserts": progress.upserts,
        "deletes": progress.deletes,
        "skipped": progress.skipped,
    }


def run_compile_task(tenant: str, as_of: str | None = None) -> dict[str, Any]:
    """Compile, store and publish one tenant's follow-up records; skipped if held."""
    install_redaction()
    load_env_file()
    day = date.fromisoformat(as_of) if as_of else None
    with _skipped_while_held():
        return jobs.compile_tenant(load_settings(), tenant, day).to_dict()


def run_extract_task(
    tenant: str, as_of: str | None = None, formats: str = "csv,xlsx"
) -> dict[str, Any]:
    """Write, verify and audit one tenant's extract.

    An extract that does not verify, or from which the audit works out a hidden cell,
    fails the task.
    """
    from airflow.sdk.exceptions import AirflowException

    from hub.followup.audit import audit_extract

    install_redaction()
    load_env_file()
    day = date.fromisoformat(as_of) if as_of else None
    with _skipped_while_held():  # a day not compiled yet is compiled under the lease
        extract, verification = jobs.extract_tenant(
            load_settings(), tenant, day, formats=[f for f in formats.split(",") if f]
        )
    if not verification.ok:
        raise AirflowException(f"{extract.path}: {'; '.join(verification.problems)}")
    audit = audit_extract(extract.path)
    if not audit.ok:
        raise AirflowException(f"{extract.path}: the audit works out {'; '.join(audit.lines())}")
    return {"path": str(extract.path), "as_of": extract.manifest["as_of"], "files": extract.files}
