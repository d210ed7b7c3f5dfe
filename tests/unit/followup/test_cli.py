"""`hub compile` and `hub extract` on a reporting store that holds the golden tenant."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from hub.cli import EXIT_FAILED, EXIT_OK, EXIT_SKIPPED, EXIT_USAGE, main
from hub.followup import compile_snapshot
from hub.followup.snapshots import SnapshotStore
from hub.leases import Lease
from hub.settings import load_settings
from tests.conftest import TEST_HMAC_KEY


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
    # 12 personal devices of 13 pupils (expected.MEASURES)
    assert ("2026-06-15", 0.9231, None) == (
        summary["as_of"],
        summary["measures"]["devices_per_pupil"],  # type: ignore[index]
        summary["published"],
    )


def test_extract_writes_a_folder_that_verifies(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    """`hub extract` writes CSV and XLSX with a manifest, audits it; `--verify` confirms it."""
    out_dir = tmp_path / "extract"
    code = main(
        ["extract", "guldby", "--as-of", "2026-06-15", "--format", "csv,xlsx", "--out",
         str(out_dir)]
    )  # fmt: skip
    assert EXIT_OK == code
    out = capsys.readouterr().out
    assert "manifest verifies" in out and "Audit: no hidden cell can be worked out." in out
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


def test_compile_while_the_tenant_lease_is_held_exits_4_and_stores_nothing(
    config: Path, capsys: pytest.CaptureFixture[str]
):
    """`hub compile` while another process compiles the tenant exits 4 naming the holder."""
    engine = sa.create_engine(load_settings().store_url)
    with Lease(engine, "compile:guldby", holder="airflow@worker-1 pid 42"):
        code = main(["compile", "guldby", "--as-of", "2026-06-15", "--store-only", "--json"])
    captured = capsys.readouterr()
    assert EXIT_SKIPPED == code
    assert "airflow@worker-1 pid 42" in captured.err
    summary = last_json(captured.out)
    assert ("skipped", "compile:guldby", "airflow@worker-1 pid 42") == (
        summary["status"],
        summary["lease"],
        summary["holder"],
    )
    assert [] == SnapshotStore(engine).days("guldby")
    engine.dispose()


def test_extract_of_a_snapshot_stored_without_complements_fails_its_audit(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    """A day stored before complementary suppression extracts, but exits 1 saying to recompile."""
    settings = load_settings()
    engine = sa.create_engine(settings.store_url)
    tenant = settings.tenant("guldby")
    compile_snapshot(
        engine, tenant, date(2026, 6, 15), pseudonym_key=TEST_HMAC_KEY.encode(),
        complementary=False,
    )  # fmt: skip
    engine.dispose()
    code = main(["extract", "guldby", "--as-of", "2026-06-15", "--out", str(tmp_path / "x")])
    out = capsys.readouterr().out
    assert EXIT_FAILED == code
    assert "device_coverage [sol|staff] headcount: suppressed, but is exactly 2" in out
    assert "needs `hub compile guldby --as-of 2026-06-15` again" in out
