"""SS 12000 subscriptions: create or renew every push source's webhook registration.

Every 10 minutes, each SS 12000 source with `subscribe: true` gets its subscription
checked: created if missing, renewed (PATCH) when it expires within the source's
`subscription_renew_before`, re-created if the API forgot it. The receiver's URL comes
from `HUB_PUSH_URL` and the key of the URL's token from `HUB_PUSH_SECRET`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag, task


@dag(
    dag_id="hub_identity_subscriptions",
    schedule=timedelta(minutes=10),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["skolehub", "identity", "push"],
    doc_md=__doc__,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=1)},
)
def hub_identity_subscriptions() -> None:
    """One task: make every subscription current."""

    @task
    def renew() -> list[dict[str, object]]:
        from hub.sync_tasks import renew_subscriptions_task

        return renew_subscriptions_task()

    renew()


hub_identity_subscriptions()
