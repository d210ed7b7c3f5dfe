"""The golden tenant compiles to the figures written by hand in `expected.py`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from hub.followup import Snapshot, SnapshotStore, compile_snapshot
from hub.followup.privacy import pseudonym
from tests.conftest import TEST_HMAC_KEY
from tests.unit.followup import expected, golden

KEY = TEST_HMAC_KEY.encode()


def table(snapshot: Snapshot, record: str, fields: Sequence[str]) -> list[tuple[Any, ...]]:
    """The record's rows as tuples of `fields`, enums as their values."""
    rows = []
    for row in snapshot.rows(record):
        dumped = row.model_dump()
        rows.append(
            tuple(
                tuple(str(v) for v in dumped[f])
                if isinstance(dumped[f], tuple) and f != "suppressed"
                else str(dumped[f])
                if f in ("ratio_kind", "role", "area")
                else dumped[f]
                for f in fields
            )
        )
    return rows


def check_golden(snapshot: Snapshot) -> None:
    """Assert every hand-written figure of the golden tenant (shared with the Kafka test)."""
    assert expected.COVERAGE == table(snapshot, "device_coverage", expected.COVERAGE_FIELDS)
    assert expected.STAFF == table(snapshot, "staff_competence", expected.STAFF_FIELDS)
    assert expected.SUMMARY == table(snapshot, "competence_summary", expected.SUMMARY_FIELDS)
    assert expected.BY_UNIT == table(snapshot, "competence_by_unit", expected.BY_UNIT_FIELDS)
    assert expected.SKILLS == table(snapshot, "digital_skills", expected.SKILLS_FIELDS)
    assert expected.COURSES == table(snapshot, "course_participation", expected.COURSE_FIELDS)
    assert expected.EQUITY == table(snapshot, "equity", expected.EQUITY_FIELDS)
    assert expected.MEASURES == snapshot.measures
    assert expected.UNMATCHED == table(snapshot, "unmatched_identities", expected.UNMATCHED_FIELDS)
    assert expected.CLASSROOMS == table(snapshot, "classroom_equipment", expected.CLASSROOM_FIELDS)
    assert expected.EQUIPMENT == table(snapshot, "equipment_by_unit", expected.EQUIPMENT_FIELDS)
    assert expected.SUPPORT == table(snapshot, "support_by_unit", expected.SUPPORT_FIELDS)
    assert expected.LIFECYCLE == table(snapshot, "device_lifecycle", expected.LIFECYCLE_FIELDS)
    assert expected.LICENCE_OVERVIEW == table(
        snapshot, "licence_overview", expected.LICENCE_OVERVIEW_FIELDS
    )
    assert expected.LICENCE_USE == table(snapshot, "licence_use", expected.LICENCE_USE_FIELDS)


def test_golden_tenant_compiles_to_the_hand_written_figures(engine: sa.Engine):
    """Every record of the golden tenant equals the figures derived by hand."""
    snapshot = compile_snapshot(engine, golden.tenant_settings(), golden.AS_OF, pseudonym_key=KEY)
    check_golden(snapshot)


def test_a_snapshot_is_stored_and_reads_back_equal(engine: sa.Engine):
    """The dated snapshot store gives back exactly the compiled records and provenance."""
    tenant = golden.tenant_settings()
    compiled = compile_snapshot(engine, tenant, golden.AS_OF, pseudonym_key=KEY)
    stored = SnapshotStore(engine).load(golden.TENANT, golden.AS_OF)
    assert stored is not None
    assert list(compiled.every_row()) == list(stored.every_row())
    assert compiled.counts() == stored.counts()
    assert (tenant.policy.fingerprint(), "0.1.0") == (
        stored.policy_sha256,
        stored.software_version,
    )
    assert [golden.AS_OF] == SnapshotStore(engine).days(golden.TENANT)


def test_unmatched_samples_are_pseudonyms_of_the_unmatched_keys(engine: sa.Engine):
    """The unmatched report keeps keyed-HMAC pseudonyms of who it could not link, sorted."""
    snapshot = compile_snapshot(engine, golden.tenant_settings(), golden.AS_OF, pseudonym_key=KEY)
    samples = {r.key: r.samples for r in snapshot.rows("unmatched_identities")}  # type: ignore[attr-defined]
    assert {
        "apple_vpp/vpp|not_found": (pseudonym(KEY, "vpp-user-9|661166101|STDQ"),),
        "microsoft_licences/m365|not_found": (pseudonym(KEY, "left1|fac"),),
        "google_chromeos/chromebooks|not_found": (pseudonym(KEY, "cb-ghost"),),
        "intune/intune|no_unit": (pseudonym(KEY, "lab-x"),),
        "oneroster/lms|no_identifier": (pseudonym(KEY, "lms-x"),),
        "oneroster/lms|not_found": tuple(sorted((pseudonym(KEY, "ext-1"), pseudonym(KEY, "gu-1")))),
    } == samples


def test_trend_compares_with_the_earliest_snapshot(engine: sa.Engine):
    """A later snapshot's trend starts at the earliest stored one: the baseline."""
    tenant = golden.tenant_settings()
    compile_snapshot(engine, tenant, date(2026, 1, 5), pseudonym_key=KEY)
    later = compile_snapshot(engine, tenant, golden.AS_OF, pseudonym_key=KEY)
    trend = {r.key: r for r in later.rows("trend")}
    security = trend["competence_information_security_within_share"]
    # On 2026-01-05 only r1 (2025-08-01) was within 12 months: 1 of 6; on AS_OF t1, r1,
    # p1 and p2 (2026-04-01, as lms-sub): 4 of 6; 0.6667 - 0.1667 = 0.5.
    assert (date(2026, 1, 5), 0.1667, 0.6667, 0.5) == (
        security.baseline_as_of,  # type: ignore[attr-defined]
        security.baseline,  # type: ignore[attr-defined]
        security.value,  # type: ignore[attr-defined]
        security.change,  # type: ignore[attr-defined]
    )
    pupils = trend["pupils"]
    assert (13.0, 13.0, 0.0) == (pupils.baseline, pupils.value, pupils.change)  # type: ignore[attr-defined]


def test_recompiling_a_day_replaces_its_snapshot(engine: sa.Engine):
    """Compiling the same tenant and day twice stores one snapshot with the same rows."""
    tenant = golden.tenant_settings()
    first = compile_snapshot(engine, tenant, golden.AS_OF, pseudonym_key=KEY)
    second = compile_snapshot(engine, tenant, golden.AS_OF, pseudonym_key=KEY)
    assert first.records == second.records
    with engine.connect() as conn:
        count = conn.scalar(sa.text("select count(*) from followup_rows"))
    assert sum(first.counts().values()) == count


def test_a_policy_without_objectives_follows_every_objective_seen(engine: sa.Engine):
    """Without digital-skills objectives the pupils' results' objectives are followed per grade."""
    snapshot = compile_snapshot(
        engine, golden.tenant_settings(digital_skills=[]), golden.AS_OF, pseudonym_key=KEY
    )
    assert [
        (
            "ek|3|skolverket:digital-kompetens:ak3.programmering",
            3,
            2,
            None,
            0.6667,
            None,
            ("meeting", "meeting_share"),
        )
    ] == table(snapshot, "digital_skills", expected.SKILLS_FIELDS)


def test_unit_aliases_place_a_device_whose_hint_is_not_a_unit_name(engine: sa.Engine):
    """A policy alias (`EKS` → ek) places the lab desktop; nothing is left without a unit."""
    snapshot = compile_snapshot(
        engine,
        golden.tenant_settings(unit_aliases={"EKS": "ek"}),
        golden.AS_OF,
        pseudonym_key=KEY,
    )
    coverage = {r.key: r for r in snapshot.rows("device_coverage")}
    assert 1 == coverage["ek|pupils"].shared_devices  # type: ignore[attr-defined]
    assert [] == [r.key for r in snapshot.rows("unmatched_identities") if "no_unit" in r.key]


def test_the_policys_matching_rules_decide_who_is_linked(engine: sa.Engine):
    """With only the eppn rule, users known by username, email, UPN or id stay unmatched."""
    snapshot = compile_snapshot(
        engine,
        golden.tenant_settings(matching={"rules": [{"name": "eppn"}]}),
        golden.AS_OF,
        pseudonym_key=KEY,
    )
    assert [
        ("apple_vpp/vpp|no_identifier", 1),  # vpp-user-9: an MDM's user id
        # cb-d1..4 and the ghost: annotated users
        ("google_chromeos/chromebooks|no_identifier", 5),
        ("intune/intune|no_identifier", 8),  # UPNs (7, b1's twin too) and t3's email
        ("intune/intune|no_unit", 6),  # the five laptops, now userless, and the lab desktop
        ("jamf_pro/jamf|no_identifier", 9),  # usernames (d1's iPad too)
        ("microsoft_licences/m365|no_identifier", 18),  # UPNs: 7 faculty, 11 students
        # t2, t3, r1, p1, ext-1, gu-1, lms-x, lms-sub (lms-b1 has an eppn)
        ("oneroster/lms|no_identifier", 8),
    ] == table(snapshot, "unmatched_identities", expected.UNMATCHED_FIELDS)


def test_a_tenant_without_placements_counts_children_by_their_role(tmp_path: Path):
    """Without preschool placements the directory's child role counts, at the person's unit."""
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'report.db'}")
    golden.write_entities(
        engine, [e for e in golden.entities() if not isinstance(e, golden.Placement)]
    )
    snapshot = compile_snapshot(engine, golden.tenant_settings(), golden.AS_OF, pseudonym_key=KEY)
    engine.dispose()
    coverage = {r.key: r for r in snapshot.rows("device_coverage")}
    # c01-c11 and c14, whose person names Solbackens: 12; c12 and c13 exist only as
    # placements; nobody at Lundens.
    assert (12, None) == (
        coverage["sol|preschool"].headcount,  # type: ignore[attr-defined]
        coverage.get("lun|preschool"),
    )
    assert 12.0 == snapshot.measures["children"]


def test_the_unit_rows_before_complementary_suppression(engine: sa.Engine):
    """Ekskolan's all-roles rows as the measure counts them, before the pass hides them.

    r1, t1, t2, t3: 4 staff. Didactics: t1 alone completed (1 / 4), required of nobody.
    Security: t1, t2 and r1 completed (3 / 4); within 12 months r1 and t1 (2 / 4).
    """
    snapshot = compile_snapshot(
        engine, golden.tenant_settings(), golden.AS_OF, pseudonym_key=KEY, complementary=False
    )
    assert [
        ("ek|digital_didactics", 4, 1, 0.25, False, None, None, ()),
        ("ek|information_security", 4, 3, 0.75, True, 2, 0.5, ()),
    ] == [
        r
        for r in table(snapshot, "competence_by_unit", expected.BY_UNIT_FIELDS)
        if str(r[0]).startswith("ek|")
    ]
