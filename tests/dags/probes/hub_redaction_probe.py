"""A DAG for the redaction test: its task calls a hub task function, then logs a national id.

Only `tests/dags/test_task_log_redaction.py` runs it, as a real task process whose log
goes to a task log file.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import dag, task

#: A synthetic Norwegian national identity number (month + 80, valid mod-11 check digits).
NATIONAL_ID = "17859140076"


@dag(
    dag_id="hub_redaction_probe",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["skolehub", "test"],
    doc_md=__doc__,
    default_args={"retries": 0},
)
def hub_redaction_probe() -> None:
    """One task that logs a national identity number through structlog and stdlib logging."""

    @task
    def log_a_national_id() -> list[str]:
        import logging

        import structlog

        from hub.followup.tasks import followup_plan

        tenants = followup_plan()
        structlog.get_logger("hub.probe").warning(
            "record_rejected", detail=f"fødselsnummer {NATIONAL_ID} is not allowed here"
        )
        logging.getLogger("hub.probe.stdlib").warning(
            "record with fødselsnummer %s rejected", NATIONAL_ID
        )
        return tenants

    log_a_national_id()


hub_redaction_probe()
