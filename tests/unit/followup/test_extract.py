"""Extracts: byte-identical, pseudonymised, suppressed, and verifiable against their manifest."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa

from hub.followup import Snapshot, compile_snapshot
from hub.followup._state import protected_people
from hub.followup.audit import read_extract_tables
from hub.followup.compile import end_of_day
from hub.followup.extract import ExtractError, verify_extract, write_extract
from hub.followup.privacy import pseudonym
from hub.followup.snapshots import SnapshotStore
from hub.materialise import report_entities, report_history
from hub.policy import Policy
from tests.conftest import TEST_HMAC_KEY
from tests.unit.followup import golden

KEY = TEST_HMAC_KEY.encode()
BOTH = ("csv", "xlsx")


def compiled(engine: sa.Engine, **policy: object) -> tuple[Snapshot, Policy]:
    tenant = golden.tenant_settings(**policy)
    return compile_snapshot(engine, tenant, golden.AS_OF, pseudonym_key=KEY), tenant.policy


def contents(folder: Path) -> dict[str, bytes]:
    """Every file's bytes; XLSX files as the concatenation of their (uncompressed) parts."""
    found = {}
    for path in sorted(folder.iterdir()):
        if path.suffix == ".xlsx":
            with zipfile.ZipFile(path) as archive:
                found[path.name] = b"".join(archive.read(n) for n in archive.namelist())
        else:
            found[path.name] = path.read_bytes()
    return found


def csv_rows(folder: Path, record: str) -> list[dict[str, str]]:
    text = (folder / f"{record}.csv").read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def test_two_extracts_of_the_same_snapshot_are_byte_identical(engine: sa.Engine, tmp_path: Path):
    """The same store and as_of give the same bytes, XLSX included (fixed document dates)."""
    snapshot, policy = compiled(engine)
    first = write_extract(snapshot, tmp_path / "a", policy=policy, pseudonym_key=KEY, formats=BOTH)
    again, _ = compiled(engine)  # compiled again: a new snapshot of the same day
    write_extract(again, tmp_path / "b", policy=policy, pseudonym_key=KEY, formats=BOTH)
    files = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert files == sorted(p.name for p in (tmp_path / "b").iterdir())
    assert {n: (tmp_path / "a" / n).read_bytes() for n in files} == {
        n: (tmp_path / "b" / n).read_bytes() for n in files
    }
    # seventeen records × (csv, xlsx) and the manifest: classroom_equipment,
    # equipment_by_unit, support_by_unit, device_lifecycle, licence_overview and
    # licence_use are the last six
    assert 35 == len(files)
    with zipfile.ZipFile(tmp_path / "a" / "trend.xlsx") as archive:
        core = archive.read("docProps/core.xml").decode()
        times = {info.date_time for info in archive.infolist()}
    assert 2 == core.count("2026-06-15T00:00:00Z")  # created and modified: the day, not now
    assert {(1980, 1, 1, 0, 0, 0)} == times
    # Seventeen records each: classroom equipment, support, the life cycle and the two
    # licence records joined the eleven.
    assert {"csv": 17, "xlsx": 17} == {
        fmt: sum(1 for f in first.files if f["format"] == fmt) for fmt in BOTH
    }


def test_a_stored_snapshot_gives_the_bytes_its_compiled_snapshot_gives(
    engine: sa.Engine, tmp_path: Path
):
    """Read back from the store a record type at a time, a snapshot writes the same files."""
    tenant = golden.tenant_settings()
    store = SnapshotStore(engine)
    snapshot = compile_snapshot(engine, tenant, golden.AS_OF, pseudonym_key=KEY, store=store)
    stored = store.load(golden.TENANT, golden.AS_OF)
    assert stored is not None and stored.counts() == snapshot.counts()
    for name, source in (("compiled", snapshot), ("stored", stored)):
        write_extract(
            source, tmp_path / name, policy=tenant.policy, pseudonym_key=KEY, formats=BOTH
        )
    assert contents(tmp_path / "compiled") == contents(tmp_path / "stored")
    assert sum(snapshot.counts().values()) > 100  # every record type, not an empty tenant


def test_the_workbooks_read_back_as_the_csv_files(engine: sa.Engine, tmp_path: Path):
    """The audit reads every XLSX file as its CSV file, a row's trailing empty cells included."""
    snapshot, policy = compiled(engine)
    for fmt in BOTH:
        write_extract(snapshot, tmp_path / fmt, policy=policy, pseudonym_key=KEY, formats=[fmt])
    from_csv, from_xlsx = (read_extract_tables(tmp_path / fmt) for fmt in BOTH)
    assert from_csv == from_xlsx
    assert any(row[-1] == "" for row in _raw_rows(tmp_path / "csv"))  # such rows are there


def _raw_rows(folder: Path) -> list[list[str]]:
    rows = []
    for path in folder.glob("*.csv"):
        with path.open(encoding="utf-8", newline="") as handle:
            rows += list(csv.reader(handle))[1:]
    return rows


def test_the_manifest_records_provenance_and_verifies(engine: sa.Engine, tmp_path: Path):
    """The manifest names tenant, day, policy hash, offsets, version, and each file's hash."""
    snapshot, policy = compiled(engine)
    extract = write_extract(
        snapshot, tmp_path / "x", policy=policy, pseudonym_key=KEY, formats=BOTH
    )
    manifest = json.loads((tmp_path / "x" / "manifest.json").read_text())
    assert (
        "guldby",
        "2026-06-15",
        "2026-06-15",
        policy.fingerprint(),
        "0.1.0",
        {},
        False,
    ) == (
        manifest["tenant"],
        manifest["as_of"],
        manifest["baseline_as_of"],
        manifest["policy_sha256"],
        manifest["software_version"],
        manifest["offsets"],
        manifest["identified"],
    )
    rows = {f["name"]: f["rows"] for f in manifest["files"]}
    # 6 coverage rows (lun|preschool among them); 12 person rows, less r1's and the two
    # preschool teachers' (their cells are hidden); 27 headline measures (five of them
    # classroom equipment, support and the purchased devices' life cycle, one licences).
    assert (6, 6, 27) == (
        rows["device_coverage.csv"],
        rows["staff_competence.xlsx"],
        rows["trend.csv"],
    )
    assert extract.manifest == manifest
    # Seventeen records × (csv, xlsx).
    assert (True, 34) == (verify_extract(tmp_path / "x").ok, verify_extract(tmp_path / "x").files)


def test_verification_names_a_changed_a_missing_and_an_unlisted_file(
    engine: sa.Engine, tmp_path: Path
):
    """A tampered, deleted or added file makes the manifest fail to verify, saying which."""
    snapshot, policy = compiled(engine)
    folder = tmp_path / "x"
    write_extract(snapshot, folder, policy=policy, pseudonym_key=KEY)
    with (folder / "equity.csv").open("a", encoding="utf-8") as handle:
        handle.write("forged,row\n")
    (folder / "trend.csv").unlink()
    (folder / "notes.txt").write_text("hello", encoding="utf-8")
    assert [
        "equity.csv: sha256 differs from the manifest",
        "trend.csv: missing",
        "notes.txt: not in the manifest",
    ] == verify_extract(folder).problems


def test_people_are_pseudonymised_and_no_identity_number_leaves(engine: sa.Engine, tmp_path: Path):
    """No person key, eppn, national identity number or its HMAC is in a default extract."""
    snapshot, policy = compiled(engine)
    folder = tmp_path / "x"
    write_extract(snapshot, folder, policy=policy, pseudonym_key=KEY, formats=BOTH)
    blob = b"".join(contents(folder).values())
    for secret in (golden.NIN, golden.NIN[2:], golden.NIN_HMAC, "@guldby.se", "P1-777"):
        assert secret.encode() not in blob
    people = {"t1", "t2", "t3", "r1", "p1", "p2", "g1", "g2", "g3", "ext-1", "gu-1", "cb-ghost"}
    cells = {
        cell
        for path in folder.glob("*.csv")
        for row in csv.reader(io.StringIO(path.read_text(encoding="utf-8")))
        for cell in row
    }
    assert set() == people & cells
    staff = csv_rows(folder, "staff_competence")
    assert "person_key" not in staff[0]
    assert pseudonym(KEY, "t1") in {row["person"] for row in staff}


def test_an_identified_extract_needs_the_policy_and_then_names_people(
    engine: sa.Engine, tmp_path: Path
):
    """`identified` fails clearly unless the tenant allows it; allowed, it adds `person_key`."""
    snapshot, policy = compiled(engine)
    with pytest.raises(ExtractError, match="does not allow identified extracts"):
        write_extract(snapshot, tmp_path / "x", policy=policy, pseudonym_key=KEY, identified=True)
    assert not (tmp_path / "x").exists()
    allowed, policy = compiled(engine, allow_identified_extracts=True)
    write_extract(allowed, tmp_path / "y", policy=policy, pseudonym_key=KEY, identified=True)
    named = {(r["person"], r["person_key"]) for r in csv_rows(tmp_path / "y", "staff_competence")}
    assert {(pseudonym(KEY, p), p) for p in ("t1", "t2", "t3", "r1", "p1", "p2")} == named


def test_a_cell_of_three_is_suppressed_when_the_minimum_is_five(engine: sa.Engine, tmp_path: Path):
    """Ekskolan's three teachers and three exam pupils are emptied and marked `suppressed`.

    Its nine pupils go too, as a complement: the tenant's 13 pupils minus them would give
    Björkskolan's hidden 4.
    """
    snapshot, policy = compiled(engine, min_cell_size=5)
    write_extract(snapshot, tmp_path / "x", policy=policy, pseudonym_key=KEY)
    teachers = {
        r["area"]: r
        for r in csv_rows(tmp_path / "x", "competence_summary")
        if r["role"] == "teacher"
    }["information_security"]
    assert {
        "unit_key": "ek",
        "role": "teacher",
        "area": "information_security",
        "staff": "",
        "completed": "",
        "completed_share": "",
        "required": "true",
        "within_requirement": "",
        "within_share": "",
        "suppressed": "staff;completed;completed_share;within_requirement;within_share",
    } == teachers
    coverage = csv_rows(tmp_path / "x", "device_coverage")
    pupils = {(r["unit_key"], r["population"]): r for r in coverage}[("ek", "pupils")]
    assert ("", "", "", "exam_pupils;exam_ready;exam_ready_share;headcount;devices") == (
        pupils["headcount"],
        pupils["exam_pupils"],
        pupils["exam_ready_share"],
        pupils["suppressed"][: len("exam_pupils;exam_ready;exam_ready_share;headcount;devices")],
    )


def test_an_unknown_format_is_refused(engine: sa.Engine, tmp_path: Path):
    """Only csv and xlsx are written."""
    snapshot, policy = compiled(engine)
    with pytest.raises(ExtractError, match="unknown extract format pdf"):
        write_extract(snapshot, tmp_path / "x", policy=policy, pseudonym_key=KEY, formats=["pdf"])


def test_protected_people_never_appear_in_an_identified_extract(engine: sa.Engine, tmp_path: Path):
    """t1, marked protected at the source, is left out of the identified extract's person rows.

    The pseudonymised extract keeps t1's rows under the pseudonym, and the aggregates
    count t1 either way.
    """
    with engine.begin() as conn:
        for table in (report_entities, report_history):
            row = conn.execute(
                sa.select(table.c.payload).where(table.c.entity == "person", table.c.key == "t1")
            ).scalar_one()
            payload = json.loads(row)
            payload["protected"] = True
            conn.execute(
                table.update()
                .where(table.c.entity == "person", table.c.key == "t1")
                .values(payload=json.dumps(payload))
            )
    protected = protected_people(engine, golden.TENANT, end_of_day(golden.AS_OF))
    assert frozenset({"t1"}) == protected
    snapshot, policy = compiled(engine, allow_identified_extracts=True)
    write_extract(
        snapshot, tmp_path / "named", policy=policy, pseudonym_key=KEY, identified=True,
        protected=protected,
    )  # fmt: skip
    write_extract(snapshot, tmp_path / "pseudo", policy=policy, pseudonym_key=KEY)
    named = {r["person_key"] for r in csv_rows(tmp_path / "named", "staff_competence")}
    assert {"t2", "t3", "r1", "p1", "p2"} == named
    shown = {r["person"] for r in csv_rows(tmp_path / "pseudo", "staff_competence")}
    assert pseudonym(KEY, "t1") in shown
    staff = sum(int(r["staff"] or 0) for r in csv_rows(tmp_path / "named", "competence_summary"))
    assert staff == sum(
        int(r["staff"] or 0) for r in csv_rows(tmp_path / "pseudo", "competence_summary")
    )
