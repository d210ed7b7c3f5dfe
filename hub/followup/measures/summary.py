"""Equity across units, the tenant-wide headline measures and their trend, and unmatched people.

Equity is computed from the records as published, so a unit whose cell is suppressed is
left out rather than revealed by the spread. Headline measures are tenant-wide totals over
every person; a share whose denominator (in people) is below `min_cell_size` is emptied.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from hub.followup._common import Context, median, rounded, share
from hub.followup.measures.devices import DeviceTotals, Fleet
from hub.followup.measures.learning import AreaTotals, CourseTotals, SkillsTotals
from hub.followup.measures.licences import LicenceTotals
from hub.policy import Policy
from schemas.followup import (
    CompetenceSummary,
    DeviceCoverage,
    DigitalSkills,
    Direction,
    Equity,
    Population,
    Trend,
    UnmatchedIdentities,
)
from schemas.lms import CompetenceArea


@dataclass(frozen=True)
class Measure:
    """A tenant-wide figure: its value and, for a share of people, how many it is over."""

    value: float | None
    people: int | None = None


def equity(
    tenant: str,
    as_of: date,
    policy: Policy,
    coverage: Sequence[DeviceCoverage],
    competence: Sequence[CompetenceSummary],
    skills: Sequence[DigitalSkills],
    extra: Mapping[str, tuple[Direction, float | None, dict[str, float]]] | None = None,
) -> list[Equity]:
    """Min, median, max and spread across units of each unit-level measure.

    `extra`: further measures by name (direction, target, unit → value) from the measure
    modules that compute their own unit values (classroom equipment).
    """
    targets = policy.device_targets
    measures: dict[str, tuple[Direction, float | None, dict[str, float]]] = dict(extra or {})

    def coverage_values(
        population: Population, value: Callable[[DeviceCoverage], float | None]
    ) -> dict[str, float]:
        found = {}
        for row in coverage:
            if row.population is population and not row.suppressed:
                v = value(row)
                if v is not None:
                    found[row.unit_key] = v
        return found

    measures["devices_per_pupil"] = (
        Direction.HIGHER,
        targets.pupils.per_pupil,
        coverage_values(Population.PUPILS, lambda r: r.ratio),
    )
    measures["devices_per_staff"] = (
        Direction.HIGHER,
        targets.staff.per_person,
        coverage_values(Population.STAFF, lambda r: r.ratio),
    )
    for population, name, per_person in (
        (Population.PUPILS, "pupils_with_device_share", targets.pupils.per_pupil),
        (Population.STAFF, "staff_with_device_share", targets.staff.per_person),
    ):
        measures[name] = (
            Direction.HIGHER,
            min(per_person, 1.0),
            coverage_values(population, lambda r: r.people_with_device_share),
        )
    measures["preschool_devices_per_child"] = (
        Direction.HIGHER,
        rounded(1 / targets.preschool.children_per_device),
        coverage_values(
            Population.PRESCHOOL,
            lambda r: share(r.devices or 0, r.headcount) if r.headcount else None,
        ),
    )
    exam: dict[str, float] = {}
    for row in coverage:
        if row.population is Population.PUPILS and row.exam_ready_share is not None:
            exam[row.unit_key] = row.exam_ready_share
    measures["exam_ready_share"] = (Direction.HIGHER, None, exam)
    required_areas = sorted({r.area for r in policy.competence_requirements}, key=str)
    for area in required_areas:
        sums: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for c in competence:
            if c.area == area and c.required and c.unit_key and c.staff:
                sums[c.unit_key][0] += c.within_requirement or 0
                sums[c.unit_key][1] += c.staff
        measures[f"competence_{area}_within_share"] = (
            Direction.HIGHER,
            1.0,
            {u: share(w, s) or 0.0 for u, (w, s) in sums.items()},
        )
    skill_sums: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for s in skills:
        if s.assessed and s.meeting is not None:
            skill_sums[s.unit_key][0] += s.meeting or 0
            skill_sums[s.unit_key][1] += s.assessed
    measures["digital_skills_meeting_share"] = (
        Direction.HIGHER,
        None,
        {u: share(m, a) or 0.0 for u, (m, a) in skill_sums.items()},
    )
    rows = []
    for name, (direction, target, values) in sorted(measures.items()):
        numbers = list(values.values())
        below: tuple[str, ...] = ()
        if target is not None:
            below = tuple(
                sorted(
                    u
                    for u, v in values.items()
                    if (v < target if direction is Direction.HIGHER else v > target)
                )
            )
        rows.append(
            Equity(
                tenant=tenant,
                key=name,
                as_of=as_of,
                measure=name,
                direction=direction,
                target=target,
                units=len(numbers),
                min=rounded(min(numbers)) if numbers else None,
                median=rounded(median(numbers)) if numbers else None,
                max=rounded(max(numbers)) if numbers else None,
                spread=rounded(max(numbers) - min(numbers)) if numbers else None,
                units_below_target=len(below) if target is not None else None,
                below_target=below,
            )
        )
    return rows


@dataclass(frozen=True)
class Totals:
    """The tenant-wide counts each measure module returns, which the headline measures divide."""

    devices: DeviceTotals
    competence: dict[CompetenceArea, AreaTotals]
    skills: SkillsTotals
    courses: CourseTotals
    licences: LicenceTotals = LicenceTotals()


def headline(
    ctx: Context,
    fleet: Fleet,
    totals: Totals,
    unmatched: Sequence[UnmatchedIdentities],
) -> dict[str, Measure]:
    """The tenant-wide measures that the trend follows and `hub run` prints."""
    devices, skills, courses = totals.devices, totals.skills, totals.courses
    pupils = devices.pupils.headcount
    staff = devices.staff.headcount
    children = devices.preschool.headcount
    school = devices.school_devices
    found = {
        "pupils": Measure(pupils, pupils),
        "staff": Measure(staff, staff),
        "children": Measure(children, children),
        "school_devices": Measure(school),
        "devices_per_pupil": Measure(share(devices.pupils.devices, pupils), pupils),
        "devices_per_staff": Measure(share(devices.staff.devices, staff), staff),
        "pupils_with_device_share": Measure(
            share(devices.pupils.people_with_device, pupils), pupils
        ),
        "staff_with_device_share": Measure(share(devices.staff.people_with_device, staff), staff),
        "preschool_children_per_shared_device": Measure(
            share(children, devices.preschool.devices), children
        ),
        "devices_past_life_cycle_share": Measure(share(devices.past_life_cycle, school)),
        "devices_noncompliant_share": Measure(share(devices.noncompliant, school)),
        "devices_not_seen_share": Measure(share(devices.not_seen, school)),
        "exam_ready_share": Measure(
            share(devices.exam_ready, devices.exam_pupils), devices.exam_pupils
        ),
        "digital_skills_assessed_share": Measure(
            share(skills.assessed, skills.pupils), skills.pupils
        ),
        "digital_skills_meeting_share": Measure(
            share(skills.meeting, skills.assessed), skills.assessed
        ),
        "competence_course_completion_rate": Measure(
            share(courses.completed, courses.students), courses.students
        ),
        "unmatched_identities": Measure(sum(u.count for u in unmatched if u.reason != "no_unit")),
        "devices_without_unit": Measure(len(fleet.without_unit)),
        "licences_used_share": Measure(
            share(totals.licences.held_by_active, totals.licences.bought),
            totals.licences.held_by_active,
        ),
    }
    required = {r.area for r in ctx.policy.competence_requirements}
    for area in ctx.policy.competence_areas:
        area_totals = totals.competence[area]
        found[f"competence_{area}_completed_share"] = Measure(
            share(area_totals.completed, area_totals.staff), area_totals.staff
        )
        if area in required:
            found[f"competence_{area}_within_share"] = Measure(
                share(area_totals.within, area_totals.required), area_totals.required
            )
    return {
        name: Measure(None, m.people) if ctx.small(m.people) else m
        for name, m in sorted(found.items())
    }


def trend(
    ctx: Context,
    measures: Mapping[str, Measure],
    baseline_as_of: date | None,
    baseline: Mapping[str, float | None],
) -> list[Trend]:
    """Each headline measure at the baseline snapshot and at `as_of`."""
    rows = []
    for name, measure in sorted(measures.items()):
        if baseline_as_of is None or baseline_as_of >= ctx.as_of:
            since, before = ctx.as_of, measure.value
        else:
            since, before = baseline_as_of, baseline.get(name)
        value = measure.value
        hidden: tuple[str, ...] = ("value", "change") if ctx.small(measure.people) else ()
        rows.append(
            Trend(
                tenant=ctx.tenant,
                key=name,
                as_of=ctx.as_of,
                measure=name,
                baseline_as_of=since,
                baseline=rounded(before),
                value=rounded(value),
                change=rounded(value - before)
                if value is not None and before is not None
                else None,
                suppressed=hidden,
            )
        )
    return rows


def unmatched_identities(
    ctx: Context, fleet: Fleet, pseudonym: Callable[[str], str]
) -> list[UnmatchedIdentities]:
    """The matcher's report, plus school devices no unit could be found for."""
    counts: dict[tuple[str, str], int] = defaultdict(int)
    samples: dict[tuple[str, str], list[str]] = defaultdict(list)
    for row in ctx.directory.unmatched.rows():
        where = (str(row["source"]), str(row["reason"]))
        counts[where] = int(row["count"])  # type: ignore[call-overload]
        samples[where] = list(row["samples"])  # type: ignore[call-overload]
    limit = ctx.policy.matching.samples
    for device in fleet.without_unit:
        where = (device.first.source, "no_unit")
        counts[where] += 1
        if len(samples[where]) < limit:
            samples[where].append(pseudonym(device.first.key))
    return [
        UnmatchedIdentities(
            tenant=ctx.tenant,
            key=f"{source}|{reason}",
            as_of=ctx.as_of,
            source_ref=source,
            reason=reason,
            count=count,
            samples=tuple(sorted(samples[(source, reason)])),
        )
        for (source, reason), count in sorted(counts.items())
    ]
