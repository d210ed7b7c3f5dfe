"""Follow-up extract: every tenant's extract folder, monthly and on demand.

On the first of each month (and whenever triggered by hand) one mapped `extract` task per
tenant writes `$HUB_VAR_DIR/extracts/<tenant>/<as_of>/`: one CSV and one XLSX file per
record type and `manifest.json` (sha256 and row count of each file, the policy's hash, the
consumed offsets, the software version), then verifies the folder against its manifest;
a folder that does not verify fails the task. The extract is of the stored snapshot of
`as_of` (compiled from the reporting store if there is none); people are pseudonymised.

Trigger with a configuration to choose: `{"tenant": "lillevik", "as_of": "2026-06-30",
"formats": "csv"}`; every key is optional (all tenants, today, CSV and XLSX).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import Param, dag, get_current_context, task


@dag(
    dag_id="hub_followup_extract",
    schedule="@monthly",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["skolehub", "followup", "extract"],
    doc_md=__doc__,
    params={
        "tenant": Param(None, type=["null", "string"], description="one tenant (default: all)"),
        "as_of": Param(None, type=["null", "string"], description="YYYY-MM-DD (default: today)"),
        "formats": Param("csv,xlsx", type="string", description="csv, xlsx or csv,xlsx"),
    },
    default_args={"retries": 1, "retry_delay": timedelta(minutes=5)},
)
def hub_followup_extract() -> None:
    """Wire the plan to the mapped extract task."""

    @task
    def plan() -> list[str]:
        from hub.followup.tasks import followup_plan

        chosen = get_current_context()["params"].get("tenant")
        return [chosen] if chosen else followup_plan()

    @task(max_active_tis_per_dagrun=4)
    def extract(tenant: str) -> dict[str, object]:
        from hub.followup.tasks import run_extract_task

        params = get_current_context()["params"]
        return run_extract_task(tenant, params.get("as_of"), params.get("formats") or "csv,xlsx")

    extract.expand(tenant=plan())


hub_followup_extract()
