"""Follow-up compile: the reporting store and every tenant's records, whenever a sync publishes.

Scheduled by data, not by the clock: any update of an entity topic's Asset (the identity,
LMS and MDM sync DAGs name them as their outlets, all from `connectors.airflow`)
starts a run. `materialise` consumes every entity topic to its end into the reporting
store (offsets stored with the rows, so a retry neither loses nor double-counts); then one
mapped `compile_tenant` per tenant compiles today's snapshot against the tenant's policy,
stores it and publishes the changed rows to `hub.followup.<record>.v1`, updating those
topics' Assets. Runs do not overlap (`max_active_runs=1`): syncs that finish during a run
queue one more. Beside another process (a `hub compile`), the leases decide: `materialise`
ends `skipped` while another materialiser of the consumer group runs (and so, by the
default trigger rule, does the run's compile), `compile_tenant` while that tenant's compile
runs elsewhere; a skipped task publishes nothing and updates no Asset (docs/operations.md).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import AssetAny, dag, task

from connectors.airflow import ENTITY_ASSETS, FOLLOWUP_ASSETS


@dag(
    dag_id="hub_followup_compile",
    schedule=AssetAny(*ENTITY_ASSETS),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["skolehub", "followup", "compile"],
    doc_md=__doc__,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
)
def hub_followup_compile() -> None:
    """Wire materialisation, the plan and the mapped compile task."""

    @task
    def materialise() -> dict[str, object]:
        from hub.followup.tasks import run_materialise_task

        return run_materialise_task()

    @task
    def plan() -> list[str]:
        from hub.followup.tasks import followup_plan

        return followup_plan()

    @task(outlets=FOLLOWUP_ASSETS, max_active_tis_per_dagrun=4)
    def compile_tenant(tenant: str) -> dict[str, object]:
        from hub.followup.tasks import run_compile_task

        return run_compile_task(tenant)

    tenants = plan()
    materialise() >> tenants
    compile_tenant.expand(tenant=tenants)


hub_followup_compile()
