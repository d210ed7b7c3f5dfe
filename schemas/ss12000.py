"""Staff duties and child placements: identity entities that the existing models cannot carry.

SS 12000 (the Swedish school-data standard) is where they come from first, hence the
module's name, but they are identity-domain entities like `Person` and travel on
`hub.identity.duty.v1` and `hub.identity.placement.v1`:

- `Duty`: a staff member's role at one unit, with its dates and extent (a teacher who
  works at two schools has two duties). `Person.roles` and `Person.unit_keys` summarise
  a person; a duty says which role at which unit, since when and until when.
- `Placement`: a child placed at a preschool (or a preschool class or leisure-time
  centre), with dates, school type and section. Preschool children are rarely in an
  identity federation, so placements are where the 1:5 shared-device target gets its
  child counts per preschool.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import Field

from schemas.entities import Entity, Key, Role


class Duty(Entity):
    """A staff member's duty (tjänstgöring) at one unit, with its role and dates."""

    domain: ClassVar[str] = "identity"
    entity: ClassVar[str] = "duty"

    person_key: Key
    unit_key: Key
    role: Role = Field(description="The role as the follow-up counts it.")
    source_role: Annotated[
        str, Field(min_length=1, description="The source's own title, e.g. `Lärare`.")
    ]
    description: str | None = None
    signature: str | None = None
    duty_percent: Annotated[float, Field(ge=0, le=100)] | None = None
    hours_per_year: Annotated[int, Field(ge=0)] | None = None
    start_date: date | None = None
    end_date: date | None = None


class PlacementSchoolType(StrEnum):
    """The school forms a child can be placed in (SS 12000 codes)."""

    PRESCHOOL = "FS"
    PRESCHOOL_CLASS = "FKLASS"
    LEISURE_TIME_CENTRE = "FTH"
    OPEN_LEISURE_TIME = "OPPFTH"


class Placement(Entity):
    """A child placed at a preschool, preschool-class or leisure-time unit, with dates."""

    domain: ClassVar[str] = "identity"
    entity: ClassVar[str] = "placement"

    person_key: Key = Field(description="The child.")
    unit_key: Key
    school_type: PlacementSchoolType
    group_key: str | None = Field(default=None, description="The section (avdelning), if any.")
    start_date: date | None = None
    end_date: date | None = None


#: The entity types of this module, in publishing order.
SS12000_ENTITY_TYPES: tuple[type[Entity], ...] = (Duty, Placement)
