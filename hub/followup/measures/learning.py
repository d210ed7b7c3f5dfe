"""Staff competence, pupils' digital skills and course participation, from LMS entities.

- A course belongs to a competence area when the policy's rule for the area names its
  key, or one of its tags, subject codes or recognised areas (compared lower-case with
  `-` between words).
- A **completion** is a `fully graded` result, dated on or before `as_of` (its score
  date, else the day it was last modified), in a class of such a course; the result's
  LMS user is linked to a directory person by identity matching.
- A **digital-skills assessment** is a pupil's latest fully graded result that carries
  the objective; it meets the objective when its score reaches `meets_at` of the line
  item's range (a per-objective score is used only when the result has no overall
  score). Without objectives in the policy, every objective the pupils' results carry
  is followed, per grade, at the default level.
- **Participation** counts the distinct people of a class (and its course) whose
  enrolment is valid on `as_of` (begun, and not ended before it): an LMS user linked to
  a directory person is that person, so two accounts of one person count once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NamedTuple

from hub.followup._common import Context, add_months, share, suppress, valid_on
from hub.followup._identity import staff_role
from hub.followup._state import ResultRow, normalise_word
from hub.followup.measures.devices import Fleet
from hub.followup.snapshots import PackedRows
from hub.policy import DigitalSkillsObjective
from schemas.followup import (
    CompetenceByUnit,
    CompetenceSummary,
    CourseLevel,
    CourseParticipation,
    DigitalSkills,
    StaffCompetence,
)
from schemas.lms import CompetenceArea, EnrollmentRole

_DEFAULT_LEVEL: float = DigitalSkillsObjective.model_fields["meets_at"].default


@dataclass
class AreaTotals:
    """One competence area's staff, tenant-wide: all, completed, required and within it."""

    staff: int = 0
    completed: int = 0
    required: int = 0
    within: int = 0


@dataclass
class SkillsTotals:
    """Pupils' digital skills, tenant-wide, summed over the followed objectives."""

    pupils: int = 0
    assessed: int = 0
    meeting: int = 0


@dataclass
class CourseTotals:
    """Students of competence courses (a course of some competence area), tenant-wide."""

    students: int = 0
    completed: int = 0


@dataclass(frozen=True)
class _Requirement:
    within_months: int
    since: date


def _counts_by(ctx: Context, result: ResultRow) -> bool:
    """A fully graded result that had happened by `as_of`."""
    return result.fully_graded and (result.on is None or result.on <= ctx.as_of)


def course_areas(ctx: Context) -> dict[tuple[str, str], tuple[CompetenceArea, ...]]:
    """The competence areas of every course that has one, by (source, course key)."""
    rules = {
        area: (set(rule.course_keys), {normalise_word(t) for t in rule.course_tags})
        for area, rule in ctx.policy.competence_areas.items()
    }
    found = {}
    for course in ctx.state.courses:
        areas = tuple(
            sorted(
                (
                    a
                    for a, (keys, tags) in rules.items()
                    if course.key in keys or tags & course.words
                ),
                key=str,
            )
        )
        if areas:
            found[(course.source, course.key)] = areas
    return found


def _cell_fields(
    ctx: Context,
    unit: str,
    area: CompetenceArea,
    required: bool,
    counts: tuple[int, int, int | None],
) -> dict[str, Any]:
    """A competence cell's fields from its (staff, completed, within) counts.

    Its figures are emptied when its staff are a small cell.
    """
    n_staff, n_completed, n_within = counts
    values, hidden = suppress(
        {
            "staff": n_staff,
            "completed": n_completed,
            "completed_share": share(n_completed, n_staff),
            "within_requirement": n_within,
            "within_share": share(n_within, n_staff) if n_within is not None else None,
        },
        ("staff", "completed", "completed_share", "within_requirement", "within_share"),
        ctx.small(n_staff),
    )
    return {
        "tenant": ctx.tenant,
        "as_of": ctx.as_of,
        "unit_key": unit or None,
        "area": area,
        "required": required,
        "suppressed": hidden,
        **values,
    }


def staff_competence(
    ctx: Context, areas_of_course: dict[tuple[str, str], tuple[CompetenceArea, ...]]
) -> tuple[PackedRows[StaffCompetence], list[CompetenceSummary], dict[CompetenceArea, AreaTotals]]:
    """Per staff member and area, the summary per unit × role × area, and the area totals.

    The totals hold every area of the policy, those no staff member counts in too.
    """
    directory = ctx.directory
    course_of_class = {(c.source, c.key): (c.source, c.course_key) for c in ctx.state.classes}
    #: (person, area) → (completed, last dated completion)
    done: dict[tuple[str, CompetenceArea], date | None] = {}
    for result in ctx.state.results:
        if result.class_key is None or not _counts_by(ctx, result):
            continue
        course = course_of_class.get((result.source, result.class_key))
        found = areas_of_course.get(course) if course else None
        if not found:
            continue
        learner = directory.person(result.source, result.person_key)
        if learner is None:
            continue
        for area in found:
            known = done.get((learner, area), None)
            if (learner, area) not in done or (
                result.on is not None and (known is None or result.on > known)
            ):
                done[(learner, area)] = result.on
    areas = sorted(ctx.policy.competence_areas, key=str)
    requirements: dict[tuple[str, CompetenceArea], _Requirement] = {}
    for rule in ctx.policy.competence_requirements:
        for role_ in rule.roles:
            current = requirements.get((role_, rule.area))
            if current is None or rule.within_months < current.within_months:
                requirements[(role_, rule.area)] = _Requirement(
                    rule.within_months, add_months(ctx.as_of, -rule.within_months)
                )
    people = PackedRows(StaffCompetence)
    cells: dict[tuple[str, str, CompetenceArea], _Cell] = defaultdict(_Cell)
    for person in sorted(directory.people.values(), key=lambda p: p.key):
        role = staff_role(person.roles)
        if role is None or population_is_not_staff(person.roles):
            continue
        unit = directory.unit_of(person)
        for area in areas:
            completed = (person.key, area) in done
            last = done.get((person.key, area))
            requirement = requirements.get((role, area))
            within = None if requirement is None else last is not None and last >= requirement.since
            row = StaffCompetence(
                tenant=ctx.tenant,
                key=f"{person.key}|{area}",
                as_of=ctx.as_of,
                person_key=person.key,
                role=role,
                unit_key=unit,
                area=area,
                completed=completed,
                last_completed_on=last,
                required=requirement is not None,
                within_months=requirement.within_months if requirement else None,
                within_requirement=within,
            )
            people.append(row)
            cells[(unit or "", role, area)].count(row)
    summary: list[CompetenceSummary] = []
    totals = {area: AreaTotals() for area in areas}
    for (unit, role, area), cell in sorted(
        cells.items(), key=lambda i: (i[0][0], i[0][1], i[0][2].value)
    ):
        n_staff = len(cell.staff)
        n_completed = len(cell.completed)
        required = cell.required
        n_within = len(cell.within) if required else None
        area_totals = totals[area]
        area_totals.staff += n_staff
        area_totals.completed += n_completed
        if required:
            area_totals.required += n_staff
            area_totals.within += n_within or 0
        fields = _cell_fields(ctx, unit, area, required, (n_staff, n_completed, n_within))
        summary.append(CompetenceSummary(key=f"{unit}|{role}|{area}", role=role, **fields))
    return people, summary, totals


@dataclass
class _Cell:
    """The staff a competence cell counts: all, those who completed, those within the rule."""

    staff: set[str] = field(default_factory=set)
    completed: set[str] = field(default_factory=set)
    within: set[str] = field(default_factory=set)
    required: bool = False

    def count(self, row: StaffCompetence) -> None:
        """Count a staff member's row of the cell's area."""
        self.staff.add(row.person_key)
        if row.completed:
            self.completed.add(row.person_key)
        if row.within_requirement:
            self.within.add(row.person_key)
        self.required = self.required or row.required


def competence_by_unit(ctx: Context, people: Iterable[StaffCompetence]) -> list[CompetenceByUnit]:
    """Per unit × area, all roles together, from the person rows of `staff_competence`.

    A staff member has one role and one unit, so each counts once in a unit's row, and the
    row is the sum of the unit's `competence_summary` role rows in the area. Within the
    requirement counts the staff of the roles the area is required of; its share is of all
    the unit's staff.
    """
    cells: dict[tuple[str, CompetenceArea], _Cell] = defaultdict(_Cell)
    for person in people:
        cells[(person.unit_key or "", person.area)].count(person)
    rows: list[CompetenceByUnit] = []
    for (unit, area), cell in sorted(cells.items(), key=lambda i: (i[0][0], i[0][1].value)):
        n_staff = len(cell.staff)
        n_completed = len(cell.completed)
        required = cell.required
        n_within = len(cell.within) if required else None
        fields = _cell_fields(ctx, unit, area, required, (n_staff, n_completed, n_within))
        rows.append(CompetenceByUnit(key=f"{unit}|{area}", **fields))
    return rows


def population_is_not_staff(roles: tuple[str, ...]) -> bool:
    """Pupils and children who also hold a staff-like role are counted as pupils or children."""
    return "pupil" in roles or "child" in roles


def digital_skills(ctx: Context, fleet: Fleet) -> tuple[list[DigitalSkills], SkillsTotals]:
    """Per unit × grade × objective: pupils, assessed and meeting; and the tenant totals."""
    directory = ctx.directory
    #: pupil → their latest results, each with the full objective ids it is latest for
    #: (most pupils have one result, so most hold one entry).
    latest: dict[str, tuple[_Scored, ...]] = {}
    #: Objective id tuples kept once: a tenant's results carry a few distinct sets.
    id_sets: dict[tuple[str, ...], tuple[str, ...]] = {}
    for result in ctx.state.results:
        if not _counts_by(ctx, result):
            continue
        pupil = directory.person(result.source, result.person_key)
        if pupil is None or pupil not in fleet.pupils:
            continue
        ids = tuple(sorted({*result.objectives, *(o for o, _ in result.objective_scores)}))
        scored = _Scored.of(result, id_sets.setdefault(ids, ids))
        latest[pupil] = _taking(latest.get(pupil, ()), scored)
    objectives: list[DigitalSkillsObjective] = list(ctx.policy.digital_skills)
    if not objectives:
        seen = {
            (fleet.pupils[pupil][1], objective)
            for pupil, found in latest.items()
            for scored in found
            for objective in scored.objectives
            if fleet.pupils[pupil][1] is not None
        }
        objectives = [
            DigitalSkillsObjective(grade=grade, objective=objective, meets_at=_DEFAULT_LEVEL)
            for grade, objective in sorted(seen, key=lambda s: (s[0] or 0, s[1]))
        ]
    grade_units: dict[int, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for pupil, (unit, grade) in fleet.pupils.items():
        if grade is not None:
            grade_units[grade][unit].append(pupil)
    rows: list[DigitalSkills] = []
    totals = SkillsTotals()
    for spec in objectives:
        for unit, pupils in sorted(grade_units.get(spec.grade, {}).items()):
            assessed = meeting = 0
            for pupil in pupils:
                found = _result_for(latest.get(pupil, ()), spec.objective)
                if found is None:
                    continue
                assessed += 1
                level = _level(found, spec.objective)
                meeting += 1 if level is not None and level >= spec.meets_at else 0
            totals.pupils += len(pupils)
            totals.assessed += assessed
            totals.meeting += meeting
            values, hidden = suppress(
                {
                    "pupils": len(pupils),
                    "assessed": assessed,
                    "meeting": meeting,
                    "assessed_share": share(assessed, len(pupils)),
                    "meeting_share": share(meeting, assessed),
                },
                ("pupils", "assessed", "meeting", "assessed_share", "meeting_share"),
                ctx.small(len(pupils)),
            )
            rows.append(
                DigitalSkills(
                    tenant=ctx.tenant,
                    key=f"{unit}|{spec.grade}|{spec.objective}",
                    as_of=ctx.as_of,
                    unit_key=unit,
                    grade=spec.grade,
                    objective=spec.objective,
                    suppressed=hidden,
                    **values,
                )
            )
    rows.sort(key=lambda r: r.key)
    return rows, totals


def _covers(full_id: str, objective: str) -> bool:
    return full_id == objective or full_id.endswith(":" + objective)


class _Scored(NamedTuple):
    """What digital skills keeps of a pupil's result: when, its levels, its objectives."""

    on: date | None
    key: str
    #: Its overall score's level (`_level`), None without a range; unused when `by_objective`
    #: is set.
    level: float | None
    #: Without an overall score, each per-objective score's level (None without a range):
    #: the only case in which they are read.
    by_objective: tuple[tuple[str, float | None], ...] | None
    #: The full objective ids it is the pupil's latest result for.
    objectives: tuple[str, ...]

    @classmethod
    def of(cls, result: ResultRow, objectives: tuple[str, ...]) -> _Scored:
        if result.score is not None:
            return cls(
                result.on, result.key, _share_of_range(result, result.score), None, objectives
            )
        by_objective = tuple((o, _share_of_range(result, s)) for o, s in result.objective_scores)
        return cls(result.on, result.key, None, by_objective, objectives)

    @property
    def when(self) -> tuple[date, str]:
        """What orders a pupil's results: the day (none first), then the key."""
        return self.on or date.min, self.key


def _taking(known: tuple[_Scored, ...], new: _Scored) -> tuple[_Scored, ...]:
    """A pupil's latest results after `new`, which takes each of its objectives it is later for.

    Each objective is held by one result at most: `new` takes it from an earlier one (which
    keeps the rest, or goes), and leaves it to a later one (or the same).
    """
    mine = set(new.objectives)
    left_to_others: set[str] = set()
    kept: list[_Scored] = []
    for scored in known:
        shared = mine.intersection(scored.objectives)
        if not shared:
            kept.append(scored)
        elif new.when > scored.when:
            rest = tuple(o for o in scored.objectives if o not in shared)
            if rest:
                kept.append(scored._replace(objectives=rest))
        else:
            kept.append(scored)
            left_to_others |= shared
    taken = tuple(o for o in new.objectives if o not in left_to_others)
    if taken:
        kept.append(new if len(taken) == len(new.objectives) else new._replace(objectives=taken))
    return tuple(kept)


def _result_for(results: Iterable[_Scored], objective: str) -> _Scored | None:
    found = [r for r in results if any(_covers(o, objective) for o in r.objectives)]
    return max(found, key=lambda r: r.when) if found else None


def _share_of_range(result: ResultRow, score: float) -> float | None:
    """`score` as a share of the result's line item's range, if it has one."""
    low = result.score_min or 0.0
    high = result.score_max
    if high is None or high <= low:
        return None
    return (score - low) / (high - low)


def _level(result: _Scored, objective: str) -> float | None:
    """The result's score as a share of its line item's range, if it can be known.

    Its overall score's; without one, its first per-objective score for `objective`.
    """
    if result.by_objective is None:
        return result.level
    return next((level for o, level in result.by_objective if _covers(o, objective)), None)


def course_participation(
    ctx: Context, areas_of_course: dict[tuple[str, str], tuple[CompetenceArea, ...]]
) -> tuple[PackedRows[CourseParticipation], CourseTotals]:
    """Enrolled by role and completed, per class and per course; and competence-course totals."""
    state = ctx.state
    courses = {(c.source, c.key): c for c in state.courses}
    enrolled: dict[tuple[str, str], dict[str, set[str]]] = defaultdict(
        lambda: {"students": set(), "teachers": set(), "others": set()}
    )
    for e in state.enrollments:
        if not valid_on(ctx.as_of, e.begin_date, e.end_date):
            continue
        group = (
            "students"
            if e.role == EnrollmentRole.STUDENT
            else "teachers"
            if e.role == EnrollmentRole.TEACHER
            else "others"
        )
        enrolled[(e.source, e.class_key)][group].add(_participant(ctx, e.source, e.person_key))
    completed: dict[tuple[str, str], set[str]] = defaultdict(set)
    for result in state.results:
        if result.class_key is not None and _counts_by(ctx, result):
            completed[(result.source, result.class_key)].add(
                _participant(ctx, result.source, result.person_key)
            )
    rows = PackedRows(CourseParticipation)
    per_course: dict[tuple[str, str], dict[str, set[str]]] = defaultdict(
        lambda: {"students": set(), "teachers": set(), "others": set(), "completed": set()}
    )
    for klass in state.classes:
        people = enrolled.get(
            (klass.source, klass.key), {"students": set(), "teachers": set(), "others": set()}
        )
        done = completed.get((klass.source, klass.key), set()) & people["students"]
        course_id = (klass.source, klass.course_key)
        for group, members in people.items():
            per_course[course_id][group] |= members
        per_course[course_id]["completed"] |= done
        course = courses.get(course_id)
        rows.append(
            _participation(
                ctx,
                CourseLevel.CLASS,
                klass.source,
                klass.course_key,
                course.title if course else None,
                klass.key,
                klass.title,
                ctx.directory.unit_of_org.get((klass.source, klass.school_key)),
                areas_of_course.get(course_id, ()),
                people,
                done,
            )
        )
    totals = CourseTotals()
    for (source, key), people in sorted(per_course.items()):
        course = courses.get((source, key))
        areas = areas_of_course.get((source, key), ())
        if areas:
            totals.students += len(people["students"])
            totals.completed += len(people["completed"])
        rows.append(
            _participation(
                ctx,
                CourseLevel.COURSE,
                source,
                key,
                course.title if course else None,
                None,
                None,
                None,
                areas,
                people,
                people["completed"],
            )
        )
    return rows.sorted_by_key(), totals


def _participant(ctx: Context, source: str, person_key: str) -> str:
    """Who an LMS user is, for counting: the linked directory person, else the user itself."""
    return ctx.directory.person(source, person_key) or f"{source}|{person_key}"


def _participation(
    ctx: Context,
    level: CourseLevel,
    source: str,
    course_key: str,
    course_title: str | None,
    class_key: str | None,
    class_title: str | None,
    unit: str | None,
    areas: tuple[CompetenceArea, ...],
    people: dict[str, set[str]],
    done: set[str],
) -> CourseParticipation:
    students = len(people["students"])
    values, hidden = suppress(
        {
            "students": students,
            "teachers": len(people["teachers"]),
            "others": len(people["others"]),
            "completed": len(done),
            "completion_rate": share(len(done), students),
        },
        ("students", "teachers", "others", "completed", "completion_rate"),
        ctx.small(students),
    )
    own = class_key if level is CourseLevel.CLASS else course_key
    return CourseParticipation(
        tenant=ctx.tenant,
        key=f"{level}|{source}|{own}",
        as_of=ctx.as_of,
        level=level,
        lms_source=source,
        course_key=course_key,
        course_title=course_title,
        class_key=class_key,
        class_title=class_title,
        unit_key=unit,
        competence_areas=areas,
        suppressed=hidden,
        **values,
    )
