"""Shared set-up of the DAG tests: the Airflow metadata database, the DagBag, hub.yaml, pools.

The root conftest points `AIRFLOW_HOME` at a throw-away folder with a SQLite metadata
database before Airflow is imported; `airflow_db` creates that database's schema once a
session (what `airflow db migrate` does for a new database), so `dag.test()` runs DAGs in
this process, tasks included.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
DAGS_FOLDER = REPO_ROOT / "dags"


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """The session's Airflow metadata database, with the installed Airflow's schema."""
    from airflow.utils import db

    db.initdb()


@pytest.fixture(scope="session")
def dagbag(airflow_db: None) -> Any:
    """Every DAG in the repository's `dags/` folder, parsed as the dag-processor would."""
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_FOLDER))


@pytest.fixture
def hub_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[dict[str, Any]], Path]:
    """Write a hub.yaml for this test and point `HUB_CONFIG` at it."""

    def write(data: dict[str, Any]) -> Path:
        path = tmp_path / "hub.yaml"
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        monkeypatch.setenv("HUB_CONFIG", str(path))
        return path

    return write


def ensure_pool(name: str, slots: int, description: str = "") -> None:
    """Create an Airflow pool, or resize it, in the metadata database."""
    from airflow.models.pool import Pool

    Pool.create_or_update_pool(name, slots, description or name, include_deferred=False)


@pytest.fixture
def airflow_pool(airflow_db: None) -> Callable[[str, int], None]:
    """Create (or resize) pools a DAG's tasks run in: `airflow_pool(name, slots)`."""
    return ensure_pool
