"""Device coverage per unit and population, and the tenant's device totals.

One physical device is counted once: MDM records that share a `physical_key` are merged,
the record with the latest exact check-in time (`source_modified`) speaking for the
device (its state, compliance, OS), the earliest enrolment starting its leasing cycle. A
device belongs to the unit and population of its matched user; a device without one
(shared, unassigned, or assigned to someone not in the directory) belongs to the unit its
hints name: the preschool population at a preschool, the pupils at a school, the staff
elsewhere. BYOD devices and phones are not school devices and are left out of coverage.

Each person is counted once, at one unit. Preschool children come from the placements
valid on `as_of` (from their child role only in a tenant without preschool placements).
The 1:1 targets are judged on the share of people who hold at least one working device;
devices per person is a figure of its own.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time

from hub.followup._common import Context, add_months, at_least, share, suppress, valid_on
from hub.followup._identity import staff_role
from hub.followup._state import DeviceRow, PersonRow, PlacementRow
from schemas.entities import Role
from schemas.followup import DeviceCoverage, Population, RatioKind
from schemas.mdm import Compliance, DeviceKind, ManagementState, Ownership

#: The figures of a coverage row; a suppressed row empties every one of them.
COVERAGE_FIGURES = (
    "headcount",
    "devices",
    "people_with_device",
    "people_with_device_share",
    "ratio",
    "meets_target",
    "shared_devices",
    "past_life_cycle",
    "noncompliant",
    "not_seen",
    "unassigned",
    "unmatched",
    "exam_pupils",
    "exam_ready",
    "exam_ready_share",
)
_EXAM = ("exam_pupils", "exam_ready", "exam_ready_share")


@dataclass(slots=True)
class PhysicalDevice:
    """One physical device, merged from the MDM records that know it."""

    records: list[DeviceRow]
    #: The matched directory user, if any (a counted pupil, child or staff member or not).
    person: str | None
    unit: str | None = None
    population: Population | None = None
    active: bool = False
    exam_ready: bool = False

    @property
    def first(self) -> DeviceRow:
        """The record that checked in last: it speaks for the device."""
        return self.records[0]

    @property
    def school_device(self) -> bool:
        """Owned by the school and not a phone: what coverage counts."""
        return self.first.ownership != Ownership.PERSONAL and self.first.kind != DeviceKind.PHONE

    @property
    def shared(self) -> bool:
        """Any MDM calls it shared."""
        return any(r.shared for r in self.records)

    @property
    def has_users(self) -> bool:
        """Any MDM names a user for it."""
        return any(r.named for r in self.records)

    @property
    def last_seen(self) -> date | None:
        """The latest check-in day any MDM saw."""
        days = [r.last_check_in_on for r in self.records if r.last_check_in_on]
        return max(days) if days else None

    @property
    def enrolled_on(self) -> date | None:
        """The earliest enrolment: the start of its leasing cycle."""
        days = [r.enrolled_on for r in self.records if r.enrolled_on]
        return min(days) if days else None


@dataclass
class Fleet:
    """The tenant's physical devices, attributed, and the people counted per row."""

    devices: list[PhysicalDevice]
    #: (unit, population) → the directory people counted.
    people: dict[tuple[str, Population], set[str]]
    #: Pupils counted, with their unit and grade (for exams and digital skills).
    pupils: dict[str, tuple[str, int | None]] = field(default_factory=dict)
    without_unit: list[PhysicalDevice] = field(default_factory=list)


def population_of(person: PersonRow) -> Population | None:
    """Which device target a directory person counts towards."""
    if Role.PUPIL in person.roles:
        return Population.PUPILS
    if Role.CHILD in person.roles:
        return Population.PRESCHOOL
    if staff_role(person.roles):
        return Population.STAFF
    return None


def _checked_in(record: DeviceRow) -> datetime:
    """When a record last checked in: its exact time, else the start of its check-in day."""
    if record.last_check_in_at is not None:
        return record.last_check_in_at
    if record.last_check_in_on is not None:
        return datetime.combine(record.last_check_in_on, time(), UTC)
    return datetime.min.replace(tzinfo=UTC)


def _speaker_first(records: list[DeviceRow]) -> None:
    """Order a device's records latest exact check-in first (ties by source and key)."""
    records.sort(key=lambda r: (r.source, r.key))
    records.sort(key=_checked_in, reverse=True)


def _placed_children(ctx: Context) -> dict[str, str]:
    """Directory child → unit, from the preschool placements valid on `as_of`.

    A child with two valid placements (the overlap of a move) is at the one that started
    last. A child who exists only as a placement keeps the placement's person key (a
    directory source's key space), or `<source>|<key>` when the placement's source is
    not the directory.
    """
    directory = ctx.directory
    chosen: dict[str, tuple[date, str]] = {}
    for placement in ctx.state.placements:
        if placement.school_type != "FS" or not valid_on(
            ctx.as_of, placement.start_date, placement.end_date
        ):
            continue
        unit_key = directory.unit_of_org.get((placement.source, placement.unit_key))
        if unit_key is None:
            continue
        child = _child_key(ctx, placement)
        start = placement.start_date or date.min
        if child not in chosen or (start, unit_key) > chosen[child]:
            chosen[child] = (start, unit_key)
    return {child: unit for child, (_start, unit) in chosen.items()}


def _child_key(ctx: Context, placement: PlacementRow) -> str:
    linked = ctx.directory.person(placement.source, placement.person_key)
    if linked is not None:
        return linked
    if placement.source in ctx.directory.sources:
        return placement.person_key
    return f"{placement.source}|{placement.person_key}"


def build_fleet(ctx: Context) -> Fleet:
    """Merge, attribute and classify the devices; count the people per unit and population."""
    directory, policy = ctx.directory, ctx.policy
    pupil_types = set(policy.device_targets.pupils.school_types)
    people: dict[tuple[str, Population], set[str]] = defaultdict(set)
    fleet = Fleet([], people)
    membership: dict[str, tuple[str, Population]] = {}
    #: A tenant with preschool placements counts its children from them, not by role.
    placed = any(p.school_type == "FS" for p in ctx.state.placements)
    for person in directory.people.values():
        population = population_of(person)
        if population is Population.PRESCHOOL and placed:
            continue
        unit_key = directory.unit_of(person)
        if population is None or unit_key is None:
            continue
        unit = directory.units[unit_key]
        if population is Population.PUPILS and unit.school_types:
            if not pupil_types & set(unit.school_types):
                continue
        people[(unit_key, population)].add(person.key)
        membership[person.key] = (unit_key, population)
        if population is Population.PUPILS:
            fleet.pupils[person.key] = (unit_key, person.grade)
    for child, unit_key in _placed_children(ctx).items():
        people[(unit_key, Population.PRESCHOOL)].add(child)
        membership.setdefault(child, (unit_key, Population.PRESCHOOL))

    groups: dict[str, list[DeviceRow]] = defaultdict(list)
    for row in ctx.state.devices:
        groups[row.physical_key or f"{row.source}|{row.key}"].append(row)
    exam = policy.exam_readiness
    for records in groups.values():
        _speaker_first(records)
        user = next(
            (u for r in records if (u := directory.device_user(r.source, r.key)) is not None),
            None,
        )
        device = PhysicalDevice(records, user)
        first = device.first
        device.active = first.management_state == ManagementState.MANAGED and bool(
            device.last_seen and device.last_seen >= ctx.active_since
        )
        minimum = exam.min_os_versions.get(first.os_name or "")
        device.exam_ready = (
            device.active
            and (not exam.require_managed or first.management_state == ManagementState.MANAGED)
            and (not exam.require_compliant or first.compliance != Compliance.NONCOMPLIANT)
            and minimum is not None
            and at_least(first.os_version or "0", minimum)
            and (first.support_ends_on is None or first.support_ends_on >= ctx.as_of)
        )
        fleet.devices.append(device)
        if not device.school_device:
            continue
        if user is not None and user in membership:
            device.unit, device.population = membership[user]
            continue
        unit_key = next(
            (u for r in records if (u := directory.unit_by_hints(r.hints)) is not None), None
        )
        if unit_key is None:
            fleet.without_unit.append(device)
            continue
        unit = directory.units[unit_key]
        device.unit = unit_key
        device.population = (
            Population.PRESCHOOL
            if unit.is_preschool
            else Population.PUPILS
            if unit.school_types or unit.kind == "school_unit"
            else Population.STAFF
        )
    return fleet


@dataclass
class PopulationTotals:
    """One population's people and the school devices counted for them, tenant-wide."""

    headcount: int = 0
    devices: int = 0
    #: People holding at least one counted device (pupils and staff).
    people_with_device: int = 0


@dataclass
class DeviceTotals:
    """The tenant-wide device counts the headline measures divide."""

    pupils: PopulationTotals = field(default_factory=PopulationTotals)
    staff: PopulationTotals = field(default_factory=PopulationTotals)
    preschool: PopulationTotals = field(default_factory=PopulationTotals)
    #: Pupils in the grades that sit digital national tests, and those with a ready device.
    exam_pupils: int = 0
    exam_ready: int = 0
    #: School devices (not BYOD, not phones), and those past their life cycle, not
    #: compliant or not seen within the active window.
    school_devices: int = 0
    past_life_cycle: int = 0
    noncompliant: int = 0
    not_seen: int = 0

    def of(self, population: Population) -> PopulationTotals:
        """The totals of one population."""
        return {
            Population.PUPILS: self.pupils,
            Population.STAFF: self.staff,
            Population.PRESCHOOL: self.preschool,
        }[population]


def device_coverage(ctx: Context, fleet: Fleet) -> tuple[list[DeviceCoverage], DeviceTotals]:
    """The coverage rows, and the tenant totals the headline figures need."""
    policy = ctx.policy
    targets = policy.device_targets
    attributed: dict[tuple[str, Population], list[PhysicalDevice]] = defaultdict(list)
    for device in fleet.devices:
        if device.school_device and device.unit is not None and device.population is not None:
            attributed[(device.unit, device.population)].append(device)
    exam_grades = set(policy.exam_readiness.grades)
    ready_people = {
        d.person for d in fleet.devices if d.person and d.exam_ready and d.school_device
    }
    rows: list[DeviceCoverage] = []
    totals = DeviceTotals()
    for unit_key, population in sorted(set(fleet.people) | set(attributed)):
        unit = ctx.directory.units[unit_key]
        people = fleet.people.get((unit_key, population), set())
        devices = attributed.get((unit_key, population), [])
        headcount = len(people)
        if population is Population.PRESCHOOL:
            counted = [d for d in devices if d.active]
            people_with_device = None
            with_device_share = None
            ratio = share(headcount, len(counted)) if headcount else None
            target = float(targets.preschool.children_per_device)
            meets = (
                None if not headcount else bool(counted) and ratio is not None and ratio <= target
            )
            kind = RatioKind.CHILDREN_PER_DEVICE
        else:
            counted = [d for d in devices if d.active and d.person in people]
            people_with_device = len({d.person for d in counted})
            with_device_share = share(people_with_device, headcount)
            ratio = share(len(counted), headcount)
            target = (
                targets.pupils.per_pupil
                if population is Population.PUPILS
                else targets.staff.per_person
            )
            meets = _meets_one_to_one(with_device_share, ratio, target)
            kind = RatioKind.DEVICES_PER_PERSON
        exam_pupils = exam_ready = None
        if population is Population.PUPILS:
            in_exam = [p for p in people if fleet.pupils[p][1] in exam_grades]
            exam_pupils = len(in_exam)
            exam_ready = sum(1 for p in in_exam if p in ready_people)
        values = {
            "headcount": headcount,
            "devices": len(counted),
            "people_with_device": people_with_device,
            "people_with_device_share": with_device_share,
            "ratio": ratio,
            "meets_target": meets,
            "shared_devices": sum(1 for d in devices if d.shared),
            "past_life_cycle": sum(1 for d in devices if _past_life_cycle(ctx, d)),
            "noncompliant": sum(1 for d in devices if d.first.compliance == "noncompliant"),
            "not_seen": sum(1 for d in devices if _not_seen(ctx, d)),
            "unassigned": sum(1 for d in devices if not d.shared and not d.has_users),
            "unmatched": sum(1 for d in devices if d.has_users and d.person is None),
            "exam_pupils": exam_pupils,
            "exam_ready": exam_ready,
            "exam_ready_share": share(exam_ready or 0, exam_pupils),
        }
        totals.of(population).headcount += headcount
        totals.of(population).devices += len(counted)
        totals.of(population).people_with_device += people_with_device or 0
        if exam_pupils is not None:
            totals.exam_pupils += exam_pupils
            totals.exam_ready += exam_ready or 0
        values, hidden = suppress(values, COVERAGE_FIGURES, ctx.small(headcount))
        if not hidden:
            values, hidden = suppress(values, _EXAM, ctx.small(exam_pupils))
        rows.append(
            DeviceCoverage(
                tenant=ctx.tenant,
                key=f"{unit_key}|{population}",
                as_of=ctx.as_of,
                unit_key=unit_key,
                unit_name=unit.name,
                population=population,
                ratio_kind=kind,
                target=target,
                suppressed=hidden,
                **values,
            )
        )
    school = [d for d in fleet.devices if d.school_device]
    totals.school_devices = len(school)
    totals.past_life_cycle = sum(1 for d in school if _past_life_cycle(ctx, d))
    totals.noncompliant = sum(1 for d in school if d.first.compliance == "noncompliant")
    totals.not_seen = sum(1 for d in school if _not_seen(ctx, d))
    return rows, totals


def _meets_one_to_one(with_device: float | None, ratio: float | None, target: float) -> bool | None:
    """A personal-device target is met when enough people hold a device, not devices alone.

    The share of people with a working device must reach the target (at most everyone),
    and devices per person must reach it too (which only adds to a target above 1): two
    devices in one pupil's hands do not make up for a pupil without one.
    """
    if with_device is None or ratio is None:
        return None
    return with_device >= min(target, 1.0) and ratio >= target


def _past_life_cycle(ctx: Context, device: PhysicalDevice) -> bool:
    enrolled = device.enrolled_on
    return enrolled is not None and add_months(enrolled, ctx.policy.leasing_months) <= ctx.as_of


def _not_seen(ctx: Context, device: PhysicalDevice) -> bool:
    return device.last_seen is None or device.last_seen < ctx.active_since
