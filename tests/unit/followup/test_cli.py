"""`hub compile` and `hub extract` on a reporting store that holds the golden tenant."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from hub.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, main
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


def last_json(out: str) -> dict[str, object]:
    return json.loads(out.strip().splitlines()[-1])


def test_compile_store_only_prints_counts_and_headline(
    config: Path, capsys: pytest.CaptureFixture[str]
):
    """`hub compile --store-only` compiles the store as it is and prints the headline figures."""
    code = main(["compile", "guldby", "--as-of", "2026-06-15", "--store-only", "--json"])
    out = capsys.readouterr().out
    assert EXIT_OK == code
    assert "device_coverage" in out and "devices_per_pupil" in out
    summary = last_json(out)
    assert ("2026-06-15", 0.9231, None) == (
        summary["as_of"],
        summary["measures"]["devices_per_pupil"],  # type: ignore[index]
        summary["published"],
    )


def test_extract_writes_a_folder_that_verifies(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    """`hub extract` writes CSV and XLSX with a manifest; `hub extract --verify` confirms it."""
    out_dir = tmp_path / "extract"
    code = main(
        ["extract", "guldby", "--as-of", "2026-06-15", "--format", "csv,xlsx", "--out",
         str(out_dir)]
    )  # fmt: skip
    assert EXIT_OK == code
    assert "manifest verifies" in capsys.readouterr().out
    assert EXIT_OK == main(["extract", "--verify", str(out_dir)])
    assert "manifest verifies" in capsys.readouterr().out
    (out_dir / "equity.xlsx").write_bytes(b"not a workbook")
    assert EXIT_FAILED == main(["extract", "--verify", str(out_dir)])
    assert "equity.xlsx: sha256 differs" in capsys.readouterr().out


def test_identified_extract_without_permission_exits_2(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    """`--identified` for a tenant whose policy does not allow it fails with the reason."""
    code = main(["extract", "guldby", "--identified", "--out", str(tmp_path / "x")])
    assert EXIT_USAGE == code
    assert "does not allow identified extracts" in capsys.readouterr().err


def test_a_bad_date_is_a_usage_error(config: Path, capsys: pytest.CaptureFixture[str]):
    """`--as-of` must be a date."""
    with pytest.raises(SystemExit) as exit_:
        main(["compile", "guldby", "--as-of", "15.06.2026"])
    assert 2 == exit_.value.code
    assert "expected a date as YYYY-MM-DD" in capsys.readouterr().err
