"""The change-event envelope: CloudEvents 1.0 in Kafka binary mode.

The CloudEvents attributes travel as `ce_*` record headers; the record value is the
JSON of `ChangeEvent`: `{"op", "before", "after", "changed"}`. A delete is followed by
a tombstone (the same record key, a null value) so compacted topics forget the entity.

Both sides of Kafka use one codec: producers write a value with `encode_change`, consumers
read it with `decode_change` into a `ChangeEventValue`.
"""

from __future__ import annotations

import builtins
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from schemas.entities import Entity, SourceRef

EVENT_TYPE_PREFIX = "no.skolehub"
SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"

E = TypeVar("E", bound=Entity)


class Op(StrEnum):
    """What happened to the entity."""

    CREATED = "c"
    UPDATED = "u"
    DELETED = "d"

    @property
    def verb(self) -> str:
        """The past-tense word used in the CloudEvents type."""
        return {"c": "created", "u": "updated", "d": "deleted"}[self.value]


class ChangeEvent(BaseModel, Generic[E]):
    """The record value: the operation, the entity before and after, and what changed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    op: Op
    before: E | None = None
    after: E | None = None
    changed: tuple[str, ...] = Field(default=(), description="Entity fields that changed.")


class ChangeEventValue(BaseModel):
    """A change event's record value as a consumer reads it: the entities as JSON objects.

    The same shape as `ChangeEvent`, for any entity or follow-up record type. Fields a
    newer producer adds are ignored, so an older consumer keeps reading.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    op: Op
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    changed: tuple[str, ...] = ()

    @property
    def entity(self) -> dict[str, Any]:
        """The entity the event is about: `after`, or `before` for a delete."""
        body = self.before if self.op is Op.DELETED else self.after
        if body is None:
            side = "before" if self.op is Op.DELETED else "after"
            raise ValueError(f"a {self.op.verb} event without {side!r}")
        return body


class EntityRef(BaseModel):
    """Where an entity of a change event comes from and its key: what a consumer files it by."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    source: SourceRef
    key: str


def encode_change(
    op: Op, before: str | None, after: str | None, changed: Sequence[str] = ()
) -> bytes:
    """The record value of a change, `before` and `after` given as their entities' JSON text.

    The texts come from validated models (canonical JSON) and are embedded as they are,
    so a large batch is not parsed and dumped again; `decode_change` reads the result.
    """
    return (
        f'{{"op":"{Op(op).value}","before":{before or "null"},'
        f'"after":{after or "null"},"changed":{json.dumps(list(changed))}}}'
    ).encode()


def decode_change(value: bytes | str) -> ChangeEventValue:
    """Read a change event's record value; raise ValueError when it is not one.

    A tombstone (a null value) is not a change event: check for it before decoding.
    """
    return ChangeEventValue.model_validate_json(value)


def schema_id(entity_type: type[Entity]) -> str:
    """The `ce_dataschema` URI of an entity type's change-event schema."""
    return f"urn:skolehub:schema:{entity_type.versioned_suffix()}"


def event_id(
    tenant: str, source: SourceRef, entity: str, key: str, op: Op, fingerprint: str, version: int
) -> str:
    """The event id of one change: the same change always gets the same id, even republished.

    `version` is the key's version in the state store (1 for its first change, one more for
    each change after), so a recreate after a delete, or an update back to an earlier
    value, gets an id of its own.
    """
    material = "\x1f".join(
        (tenant, source.system, source.instance, entity, key, op.value, fingerprint, str(version))
    ).encode()
    return hashlib.sha256(material).hexdigest()[:32]


@dataclass(frozen=True)
class RecordKey:
    """The Kafka record key of an entity event: `<tenant>:<source instance>:<entity>:<key>`.

    Tenant, instance and entity are names without a colon (settings and entity classes
    guarantee it); the entity key is everything after the third colon and may hold colons.
    """

    tenant: str
    instance: str
    entity: str
    key: str

    def __str__(self) -> str:
        return f"{self.tenant}:{self.instance}:{self.entity}:{self.key}"

    @classmethod
    def parse(cls, text: str) -> RecordKey:
        """Read a record key; raise ValueError when it does not have four parts.

        The instance is a source id from hub.yaml, which never holds a slash (`source`
        columns are `<system>/<instance>`): a key whose instance does is refused too.
        """
        tenant, instance, entity, key = (text.split(":", 3) + ["", "", ""])[:4]
        if not (tenant and instance and entity and key):
            raise ValueError(f"not a record key of the form tenant:instance:entity:key: {text!r}")
        if "/" in instance:
            raise ValueError(f"a record key's source instance has no slash: {text!r}")
        return cls(tenant, instance, entity, key)


def record_key(tenant: str, entity: str, key: str) -> str:
    """The Kafka record key of a follow-up row: `<tenant>:<record>:<key>`."""
    return f"{tenant}:{entity}:{key}"


class CloudEventHeaders(BaseModel):
    """The CloudEvents attributes of one change event, as Kafka binary-mode headers."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    source: str
    type: str
    subject: str
    time: datetime
    dataschema: str

    @classmethod
    def for_change(
        cls,
        entity: Entity,
        op: Op,
        fingerprint: str,
        time: datetime,
        version: int = 1,
    ) -> CloudEventHeaders:
        """Build the headers for a change of `entity`."""
        return cls.for_key(
            type(entity), entity.tenant, entity.source, entity.key, op, fingerprint, time, version
        )

    @classmethod
    def for_key(
        cls,
        entity_type: builtins.type[Entity],  # `type` is a field name in this class
        tenant: str,
        source: SourceRef,
        key: str,
        op: Op,
        fingerprint: str,
        time: datetime,
        version: int = 1,
    ) -> CloudEventHeaders:
        """Build the headers for a change of the entity `key` without the entity itself."""
        return cls.model_construct(
            id=event_id(tenant, source, entity_type.entity, key, op, fingerprint, version),
            source=f"/tenants/{tenant}/{source.system}/{source.instance}",
            type=f"{EVENT_TYPE_PREFIX}.{entity_type.topic_suffix()}.{op.verb}",
            subject=key,
            time=time,
            dataschema=schema_id(entity_type),
        )

    def to_kafka(self) -> list[tuple[str, bytes]]:
        """The headers as kafka-python wants them."""
        return [
            ("ce_specversion", SPEC_VERSION.encode()),
            ("ce_id", self.id.encode()),
            ("ce_source", self.source.encode()),
            ("ce_type", self.type.encode()),
            ("ce_subject", self.subject.encode()),
            ("ce_time", self.time.isoformat().replace("+00:00", "Z").encode()),
            ("ce_dataschema", self.dataschema.encode()),
            ("content-type", CONTENT_TYPE.encode()),
        ]
