"""Every DAG imports cleanly and follows the house rules for DAG files."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

DAG_FILES = sorted((Path(__file__).resolve().parents[2] / "dags").glob("*.py"))


def test_dags_import_without_errors(dagbag: Any):
    """The dag-processor would load every DAG file without an import error."""
    assert {} == dagbag.import_errors
    assert len(dagbag.dags) >= 1


@pytest.mark.parametrize("dag_id", ["hub_identity_sync"])
def test_dag_sets_tags_doc_catchup_and_retries(dagbag: Any, dag_id: str):
    """Each DAG has tags, documentation, no catch-up and retrying tasks."""
    dag = dagbag.get_dag(dag_id)
    assert dag is not None
    assert "skolehub" in dag.tags
    assert dag.doc_md and len(dag.doc_md) > 50
    assert dag.catchup is False
    assert all(task.retries >= 1 for task in dag.tasks)


def test_sync_dag_produces_an_asset_per_topic(dagbag: Any):
    """The identity sync task names an Asset for each identity topic as its outlet."""
    dag = dagbag.get_dag("hub_identity_sync")
    outlets = {asset.name for asset in dag.get_task("sync").outlets}
    assert {
        "hub.identity.organisation.v2",
        "hub.identity.person.v2",
        "hub.identity.group.v2",
        "hub.identity.membership.v2",
        "hub.identity.duty.v2",
        "hub.identity.placement.v2",
    } == outlets


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_dag_files_do_no_io_at_import(path: Path):
    """DAG files import only wiring: no hub calls, Variable.get or os.getenv at module level."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    forbidden = {"getenv", "environ", "Variable", "load_settings", "open"}
    top_level = [node for node in tree.body if not isinstance(node, ast.FunctionDef)]
    names = {
        n.attr if isinstance(n, ast.Attribute) else n.id
        for node in top_level
        for n in ast.walk(node)
        if isinstance(n, ast.Attribute | ast.Name)
    }
    imported = {
        alias.name
        for node in tree.body
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("hub")
        for alias in node.names
    }
    assert set() == names & forbidden
    assert set() == imported
