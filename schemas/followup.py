"""Follow-up records: the rows the compiler derives from the materialised entities and a policy.

Each record type is an `Entity` of the domain `followup`, so a row travels on
`hub.followup.<record>.v1` with the same envelope as every entity (CloudEvents headers,
deterministic ids, record key `<tenant>:<record>:<row key>`), and gets a JSON Schema in
`schemas/json/`. A row's `key` is its row key within the record and snapshot; `as_of` is
the day the snapshot describes.

Aggregate rows name, in `suppressed`, the figures emptied because their cell (the people
they count) is smaller than the tenant's `min_cell_size`, or because they would let a
reader work such a cell out (complementary suppression, `hub.followup.suppression`).
Fields marked `personal` hold a person's key: extracts replace them with a pseudonym
unless an identified extract is allowed and asked for.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Any, ClassVar

from pydantic import Field, JsonValue

from schemas.entities import Entity, SourceRef
from schemas.lms import CompetenceArea

#: The `source` of every follow-up row: the hub's own compiler.
FOLLOWUP_SOURCE = SourceRef(system="skolehub", instance="followup")

#: Marks a field that holds a person's key (extracts pseudonymise it).
PERSONAL: dict[str, JsonValue] = {"personal": True}

Share = Annotated[float, Field(ge=0, le=1)]
Count = Annotated[int, Field(ge=0)]


class Population(StrEnum):
    """Whom a device target is for."""

    PUPILS = "pupils"
    STAFF = "staff"
    PRESCHOOL = "preschool"


class RatioKind(StrEnum):
    """How a coverage ratio reads: devices per person (1:1 targets) or children per device."""

    DEVICES_PER_PERSON = "devices_per_person"
    CHILDREN_PER_DEVICE = "children_per_device"


class Direction(StrEnum):
    """Whether a higher value of a measure is better or worse."""

    HIGHER = "higher"
    LOWER = "lower"


class CourseLevel(StrEnum):
    """A participation row for one class (section) or for a whole course."""

    CLASS = "class"
    COURSE = "course"


class FollowupRecord(Entity):
    """Fields shared by every follow-up row."""

    domain: ClassVar[str] = "followup"
    schema_major: ClassVar[int] = 1

    source: SourceRef = FOLLOWUP_SOURCE
    as_of: date

    def model_post_init(self, context: Any, /) -> None:
        """Share one set of the names given with every row that was given the same names.

        A row is frozen, so the set is never changed in place (`model_copy` copies it),
        and a snapshot holds rows by the hundred thousand: a set of their own took half
        of each row's memory.
        """
        given = self.__pydantic_fields_set__
        shared = _GIVEN_NAMES.setdefault(frozenset(given), given)
        object.__setattr__(self, "__pydantic_fields_set__", shared)


#: The set of names given to a row, one per distinct set (`FollowupRecord.model_post_init`).
_GIVEN_NAMES: dict[frozenset[str], set[str]] = {}


class DeviceCoverage(FollowupRecord):
    """Devices of one population at one unit against the policy's target.

    `devices` counts active school devices (managed, seen within `active_days`; not BYOD,
    not phones), once per physical device however many MDMs know it: for pupils and
    staff the personal devices of the unit's people, for preschool every device placed at
    the unit. The other device counts are over all school devices attributed to the row.
    For pupils and staff `meets_target` is judged on `people_with_device_share` (and
    `ratio`, for a target above one device each).
    """

    entity: ClassVar[str] = "device_coverage"

    unit_key: str
    unit_name: str
    population: Population
    headcount: Count | None
    devices: Count | None
    people_with_device: Count | None = Field(description="Pupils or staff with a counted device.")
    people_with_device_share: Share | None = Field(
        default=None,
        description="`people_with_device` of `headcount`: the share of pupils or staff who "
        "hold at least one working device, which the 1:1 target is judged on. Empty for "
        "preschool.",
    )
    ratio: Annotated[float, Field(ge=0)] | None
    ratio_kind: RatioKind
    target: float
    meets_target: bool | None
    shared_devices: Count | None
    past_life_cycle: Count | None = Field(description="Enrolled `leasing_months` ago or more.")
    noncompliant: Count | None
    not_seen: Count | None = Field(description="No check-in within `active_days`.")
    unassigned: Count | None = Field(description="Neither shared nor assigned to anyone.")
    unmatched: Count | None = Field(description="Assigned to a user who is not in the directory.")
    exam_pupils: Count | None = Field(description="Pupils in the policy's exam grades.")
    exam_ready: Count | None = Field(description="Of those, pupils with an exam-ready device.")
    exam_ready_share: Share | None
    suppressed: tuple[str, ...] = ()


class StaffCompetence(FollowupRecord):
    """One staff member's competence development in one area."""

    entity: ClassVar[str] = "staff_competence"
    #: v2: published rows carry the person's pseudonym, in the key and in `person_key`.
    schema_major: ClassVar[int] = 2

    person_key: str = Field(
        json_schema_extra=PERSONAL,
        description="The person: their pseudonym on the topic and in extracts "
        "(hmac-sha256(HUB_HMAC_KEY, 'pseudonym:' + directory key)[:16]).",
    )
    role: str
    unit_key: str | None
    area: CompetenceArea
    completed: bool
    last_completed_on: date | None
    required: bool
    within_months: int | None
    within_requirement: bool | None


class CompetenceSummary(FollowupRecord):
    """Staff competence aggregated per unit, role and area."""

    entity: ClassVar[str] = "competence_summary"

    unit_key: str | None
    role: str
    area: CompetenceArea
    staff: Count | None
    completed: Count | None
    completed_share: Share | None
    required: bool
    within_requirement: Count | None
    within_share: Share | None
    suppressed: tuple[str, ...] = ()


class CompetenceByUnit(FollowupRecord):
    """Staff competence of one unit and area, all roles together.

    Counted from the same person rows as `competence_summary`: a staff member counts once,
    in their unit, so the row is the sum of the unit's role rows in that area.
    """

    entity: ClassVar[str] = "competence_by_unit"

    unit_key: str | None
    area: CompetenceArea
    staff: Count | None
    completed: Count | None
    completed_share: Share | None
    required: bool = Field(description="The policy requires the area of at least one role.")
    within_requirement: Count | None = Field(
        description="Staff of the roles it is required of who completed it within the period."
    )
    within_share: Share | None = Field(description="Of all the unit's staff, every role.")
    suppressed: tuple[str, ...] = ()


class CompetenceDevelopment(FollowupRecord):
    """Staff competence of one unit, role and area at a measurement the policy names.

    The Danish strategy's "starting point and ongoing development": the baseline and each
    follow-up measurement up to `as_of`, as that day's `competence_summary` published
    them, and the change in the completed share since the baseline.
    """

    entity: ClassVar[str] = "competence_development"

    measured_on: date
    baseline_on: date
    unit_key: str | None
    role: str
    area: CompetenceArea
    staff: Count | None
    completed: Count | None
    completed_share: Share | None
    baseline_share: Share | None = Field(description="The cell's completed share at the baseline.")
    change: Annotated[float, Field(ge=-1, le=1)] | None = Field(
        description="completed_share - baseline_share; empty on the baseline's own rows."
    )
    suppressed: tuple[str, ...] = ()


class DigitalSkills(FollowupRecord):
    """Pupils of one grade at one unit assessed on, and meeting, a digital-skills objective."""

    entity: ClassVar[str] = "digital_skills"

    unit_key: str
    grade: int
    objective: str
    pupils: Count | None
    assessed: Count | None
    meeting: Count | None
    assessed_share: Share | None
    meeting_share: Share | None = Field(description="Of the assessed pupils.")
    suppressed: tuple[str, ...] = ()


class CourseParticipation(FollowupRecord):
    """Who is enrolled in a class or course, by role, and how many learners completed it."""

    entity: ClassVar[str] = "course_participation"

    level: CourseLevel
    lms_source: str
    course_key: str
    course_title: str | None
    class_key: str | None
    class_title: str | None
    unit_key: str | None
    competence_areas: tuple[CompetenceArea, ...] = ()
    students: Count | None
    teachers: Count | None
    others: Count | None
    completed: Count | None = Field(description="Learners with a fully graded result in it.")
    completion_rate: Share | None
    suppressed: tuple[str, ...] = ()


class Equity(FollowupRecord):
    """The spread of one measure across units; units whose cells are suppressed are left out."""

    entity: ClassVar[str] = "equity"

    measure: str
    direction: Direction
    target: float | None
    units: Count
    min: float | None
    median: float | None
    max: float | None
    spread: float | None
    units_below_target: Count | None
    below_target: tuple[str, ...] = ()


class Trend(FollowupRecord):
    """One tenant-wide measure at the baseline (the earliest stored snapshot) and at `as_of`."""

    entity: ClassVar[str] = "trend"

    measure: str
    baseline_as_of: date
    baseline: float | None
    value: float | None
    change: float | None
    suppressed: tuple[str, ...] = ()


class UnmatchedIdentities(FollowupRecord):
    """People or devices that could not be linked (per source and reason), never dropped silently.

    Reasons: `not_found`, `ambiguous` and `no_identifier` from identity matching, and
    `no_unit` for a device with neither a matched user nor a unit hint the hub recognises.
    """

    entity: ClassVar[str] = "unmatched_identities"

    source_ref: str = Field(description="The source as `<system>/<instance>`.")
    reason: str
    count: Count
    samples: tuple[str, ...] = Field(default=(), description="Pseudonyms of a few of them.")


class DataQuality(FollowupRecord):
    """How well one source's records could be used, per tenant and source (issue 13).

    Counts of records, not of people's properties, and never per unit, so they are not
    suppressed: a person is kept whatever is wrong with an identifier, and these say how
    many such records the figures stand on.
    """

    entity: ClassVar[str] = "data_quality"

    source_ref: str = Field(description="The source as `<system>/<instance>`.")
    people: Count = Field(description="People the source publishes.")
    invalid_identifiers: Count = Field(
        description="People published without their national identity number's HMAC: the "
        "number the source gave failed its check digits or date (`nin_invalid`)."
    )
    dead_lettered: Count = Field(
        description="Records the source's last successful run dead-lettered (see the run)."
    )
    unresolved_links: Count = Field(
        description="Links to a unit, group, class or person that the same source does not "
        "publish: a person's unit, a membership's group or member, an enrolment's class "
        "or person, a placement's unit or child."
    )
    unmatched_users: Count = Field(
        description="This source's users or device users that no matching rule linked to a "
        "directory person (`not_found`, `ambiguous`, `no_identifier`)."
    )


class ClassroomEquipment(FollowupRecord):
    """One classroom: the equipment in use in it against the policy's minimum (no people)."""

    entity: ClassVar[str] = "classroom_equipment"

    unit_key: str | None = Field(
        description="The school unit the register's location names; None when none matches."
    )
    location: str = Field(description="The school as the register names it.")
    room: str
    projectors: Count
    interactive_boards: Count
    sound_systems: Count
    displays: Count
    document_cameras: Count
    broken: Count = Field(description="Items in the room that are broken (not counted above).")
    meets_minimum: bool
    missing: tuple[str, ...] = Field(
        default=(),
        description="The policy's requirements the room does not meet, each written as its "
        "kinds joined by `|` (`projector|interactive_board`).",
    )


class EquipmentByUnit(FollowupRecord):
    """One school's classrooms against the policy's minimum equipment (no people)."""

    entity: ClassVar[str] = "equipment_by_unit"

    unit_key: str
    classrooms: Count
    classrooms_meeting: Count
    meeting_share: Share | None
    items_in_use: Count
    broken: Count


class SupportByUnit(FollowupRecord):
    """IT support tickets of one school (and one category, or `*` for all) in the period.

    Suppressed when the tickets come from fewer requesters than the policy's minimum cell
    (told apart by their pseudonymous link), or the unit's users are that few.
    """

    entity: ClassVar[str] = "support_by_unit"

    unit_key: str
    category: str
    period_from: date
    users: Count | None = Field(description="Pupils and staff of the unit in the directory.")
    tickets: Count | None
    tickets_per_100_users: float | None
    resolved: Count | None
    median_hours_to_resolve: float | None
    p90_hours_to_resolve: float | None
    within_service_level_share: Share | None = Field(
        description="Of the tickets resolved, or open past the service level: resolved "
        "within the policy's `support.service_level_hours`."
    )
    suppressed: tuple[str, ...] = ()


class DeviceLifecycle(FollowupRecord):
    """Devices the organisation bought (Apple School Manager), per product family and `*`.

    Devices, not people: never suppressed. Released devices (sold, lost) are left out.
    """

    entity: ClassVar[str] = "device_lifecycle"

    product_family: str
    purchased: Count
    past_leasing: Count = Field(
        description="Ordered longer ago than the policy's `leasing_months` before `as_of`."
    )
    past_leasing_share: Share | None
    not_managed: Count = Field(
        description="Bought, but no device-management record (Intune, Jamf, Google) has its "
        "physical key (manufacturer and serial)."
    )
    not_managed_share: Share | None
    assigned_not_enrolled: Count = Field(
        description="Assigned to a device management service, but in no MDM's records."
    )


class LicenceOverview(FollowupRecord):
    """The central purchasing overview: one product's licences the owner holds, and their use.

    `bought`, `assigned` and `available` are the source's own counts (licences, not people);
    the holders are the source's assignments read and linked: to a directory person (an
    Apple device licence through the device's user), to a person no longer in the
    directory (left, or never matched: see `unmatched_identities`), or to a shared device.
    """

    entity: ClassVar[str] = "licence_overview"

    licence_source: str = Field(description="The source instance the licences were read from.")
    system: str
    vendor: str
    pool_key: str
    product_id: str
    product_name: str | None
    kind: str
    location: str | None
    bought: Count | None
    assigned: Count | None
    available: Count | None
    unit_price: float | None = Field(description="Where the source gives a price.")
    currency: str | None
    cost: float | None = Field(description="`bought` × `unit_price`, where the price is given.")
    held_by_active: Count | None = Field(
        description="Licences held by people in the directory (used by active people)."
    )
    held_by_left: Count | None = Field(
        description="Licences held by people not in the directory: left, or never matched."
    )
    held_by_devices: Count = Field(description="Licences held by shared devices (no user).")
    use_share: Annotated[float, Field(ge=0)] | None = Field(
        description="`held_by_active` of `bought`; above 1 when more licences are held than "
        "bought (a source that lets consumption run past the purchase, as Microsoft 365 "
        "does for a grace period)."
    )
    suppressed: tuple[str, ...] = ()


class LicenceUse(FollowupRecord):
    """One product's licences held by active directory people of one school (unit).

    `unit_key` is empty for holders whose unit the directory does not know; the rows of a
    product add up to its `licence_overview.held_by_active`.
    """

    entity: ClassVar[str] = "licence_use"

    licence_source: str
    pool_key: str
    product_id: str
    product_name: str | None
    unit_key: str
    holders: Count | None
    suppressed: tuple[str, ...] = ()


#: Every record type, in the order extracts and summaries list them.
FOLLOWUP_RECORD_TYPES: tuple[type[FollowupRecord], ...] = (
    DeviceCoverage,
    StaffCompetence,
    CompetenceSummary,
    DigitalSkills,
    CourseParticipation,
    Equity,
    Trend,
    UnmatchedIdentities,
    DataQuality,
    CompetenceDevelopment,
    CompetenceByUnit,
    ClassroomEquipment,
    EquipmentByUnit,
    SupportByUnit,
    DeviceLifecycle,
    LicenceOverview,
    LicenceUse,
)

RECORD_TYPES_BY_NAME: dict[str, type[FollowupRecord]] = {t.entity: t for t in FOLLOWUP_RECORD_TYPES}


def personal_fields(record_type: type[FollowupRecord]) -> tuple[str, ...]:
    """The fields of a record type that hold a person's key."""
    return tuple(
        name
        for name, info in record_type.model_fields.items()
        if isinstance(info.json_schema_extra, dict) and info.json_schema_extra.get("personal")
    )
