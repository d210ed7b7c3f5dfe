"""The access log in the store: rows written, read newest first, exported as CSV."""

from __future__ import annotations

import csv
from pathlib import Path

import sqlalchemy as sa

from hub.access_log import (
    AccessAction,
    Outcome,
    access_entries,
    record_access,
    to_csv,
)


def test_rows_come_back_newest_first_and_per_tenant(tmp_path: Path):
    """Each call is one row; a tenant filter keeps that tenant's rows."""
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    record_access(
        engine,
        user_name="kari",
        roles={"viewer"},
        tenant="lillevik",
        action=AccessAction.VIEW_FOLLOWUP,
        what="followup page as of 2026-06-15",
    )
    record_access(
        engine,
        user_name="ola",
        roles={"op", "auditor"},
        tenant="storby",
        action=AccessAction.DOWNLOAD_EXTRACT,
        what="extract 2026-06-15-identified/staff_competence.csv",
        identified=True,
        outcome=Outcome.REFUSED,
    )
    everything = access_entries(engine)
    assert ["ola", "kari"] == [e.user_name for e in everything]
    assert ("auditor,op", True, Outcome.REFUSED) == (
        everything[0].roles,
        everything[0].identified,
        everything[0].outcome,
    )
    assert ["kari"] == [e.user_name for e in access_entries(engine, tenant="lillevik")]
    engine.dispose()


def _exported(tmp_path: Path, user_name: str) -> list[dict[str, str]]:
    """The CSV rows after `user_name` viewed the follow-up index."""
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    record_access(
        engine,
        user_name=user_name,
        roles=None,
        tenant="lillevik",
        action=AccessAction.VIEW_FOLLOWUP_INDEX,
        what="followup index",
    )
    rows = list(csv.DictReader(to_csv(access_entries(engine)).splitlines()))
    engine.dispose()
    return rows


def test_the_csv_has_a_header_and_one_line_a_row(tmp_path: Path):
    """The export is plain CSV an auditor opens in a spreadsheet."""
    assert [
        {
            "user": "kari",
            "roles": "",
            "tenant": "lillevik",
            "action": "view_followup_index",
            "what": "followup index",
            "identified": "no",
            "outcome": "served",
        }
    ] == [{k: v for k, v in r.items() if k != "at"} for r in _exported(tmp_path, "kari")]


def test_a_user_name_that_looks_like_a_formula_is_exported_inert(tmp_path: Path):
    """A spreadsheet opening the export does not evaluate a crafted user name."""
    (row,) = _exported(tmp_path, "=HYPERLINK(1)")
    assert "'=HYPERLINK(1)" == row["user"]
