"""Every figure the golden tenant must compile to on 2026-06-15, written out by hand.

Rows are tuples of the fields named in each `*_FIELDS`, in key order. The derivations are
in the comments of `golden.py`; `None` is an empty cell, `ALL` lists what a suppressed row
empties (cells of fewer than 3 people, the golden policy's `min_cell_size`).
"""

from __future__ import annotations

from datetime import date

COVERAGE_FIELDS = (
    "key", "headcount", "devices", "people_with_device", "ratio", "ratio_kind", "target",
    "meets_target", "shared_devices", "past_life_cycle", "noncompliant", "not_seen",
    "unassigned", "unmatched", "exam_pupils", "exam_ready", "exam_ready_share", "suppressed",
)  # fmt: skip
COVERAGE_ALL = (
    "headcount", "devices", "people_with_device", "ratio", "meets_target", "shared_devices",
    "past_life_cycle", "noncompliant", "not_seen", "unassigned", "unmatched", "exam_pupils",
    "exam_ready", "exam_ready_share",
)  # fmt: skip
COVERAGE = [
    # Björkskolan: 4 grade-1 pupils, 4 Chromebooks; nobody in an exam grade.
    ("bj|pupils", 4, 4, 4, 1.0, "devices_per_person", 1.0, True, 0, 0, 0, 0, 0, 0, 0, 0, None, ()),
    # Ekskolan: 9 pupils, 8 iPads (a1's twin in Intune counted once); the ghost's
    # Chromebook is placed here by its OU but not counted; grade 3: g1 ready, g2's
    # iPadOS 16.7 too old, g3 no device.
    ("ek|pupils", 9, 8, 8, 0.8889, "devices_per_person", 1.0, False, 0, 0, 0, 0, 0, 1, 3, 1,
     0.3333, ()),
    # 4 staff: t1, t2, t3 active; r1's laptop not seen since 2026-04-01; t2's enrolled
    # 2022-03-01 (36 months ended 2025-03-01); t3's noncompliant; t1's BYOD phone left out.
    # Hidden as a complement: the tenant's 6 staff (trend) minus these 4 would give
    # Solbacken's hidden 2.
    ("ek|staff", None, None, None, None, "devices_per_person", 1.0, None, None, None, None,
     None, None, None, None, None, None, COVERAGE_ALL),
    # 11 child persons + c12's placement = 12 children (c13 left) on 2 shared tablets.
    ("sol|preschool", 12, 2, None, 6.0, "children_per_device", 5.0, False, 2, 0, 0, 0, 0, 0,
     None, None, None, ()),
    # Two preschool teachers: below the cell size.
    ("sol|staff", None, None, None, None, "devices_per_person", 1.0, None, None, None, None,
     None, None, None, None, None, None, COVERAGE_ALL),
]  # fmt: skip

STAFF_FIELDS = (
    "key", "role", "unit_key", "completed", "last_completed_on", "required", "within_months",
    "within_requirement",
)  # fmt: skip
STAFF = [
    ("p1|digital_didactics", "preschool_teacher", "sol", False, None, False, None, None),
    ("p1|information_security", "preschool_teacher", "sol", True, date(2026, 3, 1), True, 12,
     True),
    ("p2|digital_didactics", "preschool_teacher", "sol", False, None, False, None, None),
    ("p2|information_security", "preschool_teacher", "sol", False, None, True, 12, False),
    ("r1|digital_didactics", "school_leader", "ek", False, None, False, None, None),
    ("r1|information_security", "school_leader", "ek", True, date(2025, 8, 1), True, 12, True),
    ("t1|digital_didactics", "teacher", "ek", True, date(2026, 2, 1), False, None, None),
    ("t1|information_security", "teacher", "ek", True, date(2026, 1, 10), True, 12, True),
    ("t2|digital_didactics", "teacher", "ek", False, None, False, None, None),
    ("t2|information_security", "teacher", "ek", True, date(2024, 9, 1), True, 12, False),
    ("t3|digital_didactics", "teacher", "ek", False, None, False, None, None),
    ("t3|information_security", "teacher", "ek", False, None, True, 12, False),
]  # fmt: skip

SUMMARY_FIELDS = (
    "key", "staff", "completed", "completed_share", "required", "within_requirement",
    "within_share", "suppressed",
)  # fmt: skip
SUMMARY_ALL = ("staff", "completed", "completed_share", "within_requirement", "within_share")
SUMMARY = [
    ("ek|school_leader|digital_didactics", None, None, None, False, None, None, SUMMARY_ALL),
    ("ek|school_leader|information_security", None, None, None, True, None, None, SUMMARY_ALL),
    ("ek|teacher|digital_didactics", 3, 1, 0.3333, False, None, None, ()),
    # t1 and t2 completed; only t1 within 12 months.
    ("ek|teacher|information_security", 3, 2, 0.6667, True, 1, 0.3333, ()),
    ("sol|preschool_teacher|digital_didactics", None, None, None, False, None, None, SUMMARY_ALL),
    ("sol|preschool_teacher|information_security", None, None, None, True, None, None,
     SUMMARY_ALL),
]  # fmt: skip

SKILLS_FIELDS = (
    "key",
    "pupils",
    "assessed",
    "meeting",
    "assessed_share",
    "meeting_share",
    "suppressed",
)
# g1 80/100 meets 0.6; g2 50/100 does not; g3 not submitted. Meeting (1) and its share are
# hidden: 2 assessed is under the cell size (the denominator rule).
SKILLS = [
    ("ek|3|ak3.programmering", 3, 2, None, 0.6667, None, ("meeting", "meeting_share")),
]

COURSE_FIELDS = (
    "key", "unit_key", "competence_areas", "students", "teachers", "others", "completed",
    "completion_rate", "suppressed",
)  # fmt: skip
COURSE_ALL = ("students", "teachers", "others", "completed", "completion_rate")
COURSES = [
    ("class|oneroster/lms|cls-3a", "ek", (), 3, 1, 0, 2, 0.6667, ()),
    ("class|oneroster/lms|cls-dd-ek", "ek", ("digital_didactics",), None, None, None, None,
     None, COURSE_ALL),
    # 4 students (t1, t2, r1 completed; t3's result is dated after AS_OF). Hidden as a
    # complement: crs-is's 6 minus these 4 would give cls-is-sol's hidden 2.
    ("class|oneroster/lms|cls-is-ek", "ek", ("information_security",), None, None, None, None,
     None, COURSE_ALL),
    ("class|oneroster/lms|cls-is-sol", "sol", ("information_security",), None, None, None, None,
     None, COURSE_ALL),
    ("course|oneroster/lms|crs-ak3", None, (), 3, 1, 0, 2, 0.6667, ()),
    ("course|oneroster/lms|crs-dd", None, ("digital_didactics",), None, None, None, None, None,
     COURSE_ALL),
    ("course|oneroster/lms|crs-is", None, ("information_security",), 6, 1, 0, 4, 0.6667, ()),
]  # fmt: skip

EQUITY_FIELDS = (
    "key",
    "target",
    "units",
    "min",
    "median",
    "max",
    "spread",
    "units_below_target",
    "below_target",
)
EQUITY = [
    # Only Ekskolan's teachers' cell is shown: 1 of 3 within.
    ("competence_information_security_within_share", 1.0, 1, 0.3333, 0.3333, 0.3333, 0.0, 1,
     ("ek",)),
    # (0.8889 + 1.0) / 2
    ("devices_per_pupil", 1.0, 2, 0.8889, 0.9445, 1.0, 0.1111, 1, ("ek",)),
    # Both staff rows hidden, and the one digital-skills cell's meeting share.
    ("devices_per_staff", 1.0, 0, None, None, None, None, 0, ()),
    ("digital_skills_meeting_share", None, 0, None, None, None, None, None, ()),
    ("exam_ready_share", None, 1, 0.3333, 0.3333, 0.3333, 0.0, None, ()),
    # 2 / 12 against 1 / 5
    ("preschool_devices_per_child", 0.2, 1, 0.1667, 0.1667, 0.1667, 0.0, 1, ("sol",)),
]  # fmt: skip

#: Tenant-wide measures on AS_OF (the first snapshot is its own baseline).
MEASURES = {
    "children": 12.0,
    # crs-is 4 of 6 and crs-dd 1 of 1
    "competence_course_completion_rate": 0.7143,
    "competence_digital_didactics_completed_share": 0.1667,  # t1 of 6 staff
    "competence_information_security_completed_share": 0.6667,  # t1, t2, r1, p1 of 6
    "competence_information_security_within_share": 0.5,  # t1, r1, p1 of 6
    # 21 school devices: 8 pupil iPads, 2 shared, 5 laptops, 5 Chromebooks, the lab desktop
    "devices_noncompliant_share": 0.0476,
    "devices_not_seen_share": 0.0476,
    "devices_past_life_cycle_share": 0.0476,
    "devices_per_pupil": 0.9231,  # 12 of 13
    "devices_per_staff": 0.6667,  # t1, t2, t3, p1 of 6
    "devices_without_unit": 1.0,
    "digital_skills_assessed_share": 0.6667,
    "digital_skills_meeting_share": None,  # over 2 assessed pupils: suppressed
    "exam_ready_share": 0.3333,
    "preschool_children_per_shared_device": 6.0,
    "pupils": 13.0,
    "school_devices": 21.0,
    "staff": 6.0,
    # lms ext-1 and gu-1 not found, lms-x without identifiers, the ghost's Chromebook
    "unmatched_identities": 4.0,
}

UNMATCHED_FIELDS = ("key", "count")
UNMATCHED = [
    ("google_chromeos/chromebooks|not_found", 1),
    ("intune/intune|no_unit", 1),
    ("oneroster/lms|no_identifier", 1),
    ("oneroster/lms|not_found", 2),
]
