"""Normalised entities, the change-event envelope and their JSON Schemas."""

from schemas.entities import (
    ENTITY_TYPES,
    Entity,
    Group,
    GroupKind,
    Membership,
    MembershipRole,
    Organisation,
    OrganisationKind,
    Person,
    Role,
    SchoolType,
    SourceRef,
)
from schemas.envelope import ChangeEvent, CloudEventHeaders, Op

__all__ = [
    "ENTITY_TYPES",
    "ChangeEvent",
    "CloudEventHeaders",
    "Entity",
    "Group",
    "GroupKind",
    "Membership",
    "MembershipRole",
    "Op",
    "Organisation",
    "OrganisationKind",
    "Person",
    "Role",
    "SchoolType",
    "SourceRef",
]
