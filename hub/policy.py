"""A tenant's follow-up policy: the targets and rules its records are compiled against.

Targets differ per school owner, so they live in hub.yaml (`tenants[].policy`), never in
code. Every field has the default the national strategies suggest; a tenant overrides
what its own plan says.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.entities import Role, SchoolType
from schemas.equipment import EquipmentKind
from schemas.lms import DEFAULT_COMPETENCE_AREAS, CompetenceArea


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PupilDeviceTarget(_Model):
    """Personal devices for pupils: `per_pupil` for each pupil of these school types."""

    per_pupil: Annotated[float, Field(gt=0, le=2)] = 1.0
    school_types: tuple[SchoolType, ...] = (
        SchoolType.PRESCHOOL_CLASS,
        SchoolType.COMPULSORY,
        SchoolType.COMPULSORY_SPECIAL,
        SchoolType.UPPER_SECONDARY,
        SchoolType.UPPER_SECONDARY_SPECIAL,
    )


class StaffDeviceTarget(_Model):
    """Personal devices for staff: `per_person` for each staff member."""

    per_person: Annotated[float, Field(gt=0, le=2)] = 1.0


class PreschoolDeviceTarget(_Model):
    """Shared devices in preschool: one per `children_per_device` children."""

    children_per_device: Annotated[int, Field(ge=1, le=50)] = 5


class DeviceTargets(_Model):
    """Device targets per population."""

    pupils: PupilDeviceTarget = PupilDeviceTarget()
    staff: StaffDeviceTarget = StaffDeviceTarget()
    preschool: PreschoolDeviceTarget = PreschoolDeviceTarget()


class ExamReadiness(_Model):
    """What makes a device fit for digital national tests, and which grades sit them."""

    grades: tuple[Annotated[int, Field(ge=0, le=13)], ...] = (3, 6, 9)
    #: Minimum OS version per OS name (compared numerically, part by part).
    min_os_versions: dict[str, str] = Field(
        default_factory=lambda: {
            "Windows": "10.0.19045",
            "iPadOS": "17.0",
            "iOS": "17.0",
            "macOS": "14.0",
            "ChromeOS": "120",
        }
    )
    require_managed: bool = True
    require_compliant: bool = True


class CompetenceAreaRule(_Model):
    """Which courses count for a competence area: by tag, subject code or course key."""

    course_tags: tuple[str, ...] = ()
    course_keys: tuple[str, ...] = ()


class CompetenceRequirement(_Model):
    """People in these roles must have completed the area within `within_months`."""

    area: CompetenceArea
    roles: tuple[Role, ...]
    within_months: Annotated[int, Field(ge=1, le=120)]


class DigitalSkillsObjective(_Model):
    """A digital-skills learning objective followed for a grade, and the level that meets it."""

    grade: Annotated[int, Field(ge=0, le=13)]
    objective: Annotated[str, Field(min_length=1)]
    #: Share of the line item's maximum score that meets the objective.
    meets_at: Annotated[float, Field(gt=0, le=1)] = 0.6


class MatchingRule(_Model):
    """One identity-matching rule: compare a candidate identifier with a directory field."""

    name: Literal["eppn", "username", "email", "upn", "annotated_user", "external_id"]


class DomainRewrite(_Model):
    """Treat addresses in `from_domain` as if they were in `to_domain` when matching."""

    from_domain: Annotated[str, Field(pattern=r"^[a-z0-9.-]+\.[a-z]{2,}$")]
    to_domain: Annotated[str, Field(pattern=r"^[a-z0-9.-]+\.[a-z]{2,}$")]


class Matching(_Model):
    """How people seen in other systems are linked to directory people, in rule order."""

    rules: tuple[MatchingRule, ...] = tuple(
        MatchingRule(name=n)
        for n in ("eppn", "external_id", "username", "email", "upn", "annotated_user")
    )
    domain_rewrites: tuple[DomainRewrite, ...] = ()
    #: How many pseudonymised samples of unmatched identifiers the report keeps per reason.
    samples: Annotated[int, Field(ge=0, le=100)] = 5

    @model_validator(mode="after")
    def _rules_unique(self) -> Matching:
        names = [r.name for r in self.rules]
        if len(names) != len(set(names)):
            raise ValueError("each matching rule may appear once")
        return self


class ClassroomEquipmentPolicy(_Model):
    """The minimum equipment of every teaching room: each requirement is met by any of its kinds.

    The default is the guideline's "picture and sound": a projector or an interactive board,
    plus a sound system. Rooms whose name contains one of `non_teaching_rooms` (store rooms,
    offices) are not classrooms; only items in use count (a broken projector does not).
    """

    minimum: tuple[tuple[EquipmentKind, ...], ...] = (
        (EquipmentKind.PROJECTOR, EquipmentKind.INTERACTIVE_BOARD),
        (EquipmentKind.SOUND_SYSTEM,),
    )
    non_teaching_rooms: tuple[str, ...] = ("lager", "förråd", "depot", "storage", "kontor")


class SupportPolicy(_Model):
    """IT support (FITS): the service level a ticket should be resolved within, and the period."""

    service_level_hours: Annotated[float, Field(gt=0, le=24 * 90)] = 72.0
    #: Tickets opened within this many days up to `as_of` are counted.
    period_days: Annotated[int, Field(ge=7, le=3 * 365)] = 365


def _default_competence_areas() -> dict[CompetenceArea, CompetenceAreaRule]:
    return {
        area: CompetenceAreaRule(course_tags=(area.value,)) for area in DEFAULT_COMPETENCE_AREAS
    }


def _default_requirements() -> tuple[CompetenceRequirement, ...]:
    return (
        CompetenceRequirement(
            area=CompetenceArea.INFORMATION_SECURITY,
            roles=tuple(r for r in Role if r not in (Role.PUPIL, Role.CHILD, Role.GUARDIAN)),
            within_months=12,
        ),
    )


class Policy(_Model):
    """A tenant's follow-up policy."""

    device_targets: DeviceTargets = DeviceTargets()
    leasing_months: Annotated[int, Field(ge=1, le=120)] = 36
    #: A device counts as active when it checked in within this many days.
    active_days: Annotated[int, Field(ge=1, le=365)] = 30
    exam_readiness: ExamReadiness = ExamReadiness()
    competence_areas: dict[CompetenceArea, CompetenceAreaRule] = Field(
        default_factory=_default_competence_areas
    )
    competence_requirements: tuple[CompetenceRequirement, ...] = Field(
        default_factory=_default_requirements
    )
    digital_skills: tuple[DigitalSkillsObjective, ...] = ()
    matching: Matching = Matching()
    classroom_equipment: ClassroomEquipmentPolicy = ClassroomEquipmentPolicy()
    support: SupportPolicy = SupportPolicy()
    #: MDM unit hints that do not spell a unit's name as the directory does (an Intune
    #: category prefix, a Jamf site's short name), mapped to the directory's unit key.
    unit_aliases: dict[str, str] = Field(default_factory=dict)
    #: Aggregates over fewer people than this are suppressed in records and extracts.
    min_cell_size: Annotated[int, Field(ge=1, le=100)] = 5
    #: Extracts may name people only when this is true for the tenant (and asked for).
    allow_identified_extracts: bool = False
    #: People marked protected at the source keep their names (never their contact
    #: details) only when this is true (docs/privacy.md).
    protected_names: bool = False
    #: The trend's baseline: a date (compiled from the history when it is not stored
    #: yet), or "first": the tenant's first compiled snapshot. Either way it is pinned
    #: once compiled: a later compilation of an earlier date does not replace it.
    baseline: date | Literal["first"] = "first"
    #: Further measurement dates the strategy asks for (the Danish strategy's follow-up
    #: measurements): each is compiled from the history once its day has passed.
    measurements: tuple[date, ...] = ()

    def fingerprint(self) -> str:
        """sha256 of the policy's canonical JSON: extracts record which policy they used."""
        text = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()
