"""Fixtures of the follow-up unit tests: a store, and a hub.yaml, holding the golden tenant."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from tests.unit.followup import golden


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A hub.yaml with the golden tenant, its store holding the golden entities."""
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    engine = sa.create_engine(url)
    golden.write_entities(engine, golden.entities())
    engine.dispose()
    path = tmp_path / "hub.yaml"
    tenant = {"id": golden.TENANT, "name": "Guldby", "policy": golden.POLICY}
    path.write_text(yaml.safe_dump({"database_url": url, "tenants": [tenant]}), encoding="utf-8")
    monkeypatch.setenv("HUB_CONFIG", str(path))
    return path


@pytest.fixture
def engine(tmp_path: Path) -> sa.Engine:
    """A reporting store (SQLite) holding the golden tenant's entities."""
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'report.db'}")
    golden.write_entities(engine, golden.entities())
    yield engine
    engine.dispose()
