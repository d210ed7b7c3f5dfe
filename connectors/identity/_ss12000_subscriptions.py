"""SS 12000 subscriptions: the webhook a client registers, and the notification it receives.

Shapes from SS 12000:2020's OpenAPI (`Subscription.yaml`, `paths/subscriptions.yaml`; the
copy in `tests/conformance/vendor/ss12000/subscriptions.json`): a client POSTs
`{"name", "target", "resourceTypes": [{"resource": "Person"}, ...]}` to `/subscriptions`
and gets it back with `id` and `expires`; `PATCH /subscriptions/<id>` renews it and
`DELETE` ends it. When data changes the server POSTs to `target`
`{"modifiedEntites": ["Person", ...], "deletedEntities": true|false}` (the standard's own
spelling; `modifiedEntities` is read too), and the client then reads what changed.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, model_validator

__all__ = [
    "ENDPOINT_TYPES",
    "NOTIFICATIONS_ASSET_NAME",
    "NOTIFICATIONS_ASSET_URI",
    "RESOURCE_STREAMS",
    "Notification",
    "NotificationError",
    "SubscriptionRecord",
    "parse_notification",
]

#: The resource types (`EndPointsEnum`) the hub reads, and the stream that reads each.
RESOURCE_STREAMS: dict[str, str] = {
    "Organisation": "organisations",
    "Person": "persons",
    "Duty": "duties",
    "Placement": "placements",
    "Group": "groups",
    "Activity": "activities",
}
#: Every value of the standard's `EndPointsEnum`; a notification may name any of them.
ENDPOINT_TYPES = frozenset(
    {
        *RESOURCE_STREAMS,
        "Absence",
        "AttendanceEvent",
        "Attendance",
        "Grade",
        "CalendarEvent",
        "AttendanceSchedule",
        "Resource",
        "Room",
        "StudyPlan",
        "Programme",
        "Syllabus",
        "SchoolUnitOffering",
    }
)
#: The Airflow Asset a receiver in Airflow mode updates per notification (`hub listen --airflow`);
#: the `hub_identity_push` DAG is scheduled on it.
NOTIFICATIONS_ASSET_NAME = "hub.ss12000.notifications"
NOTIFICATIONS_ASSET_URI = "webhook://skolehub/ss12000/notifications"
#: The largest notification body the hub reads (a real one is a few hundred bytes).
MAX_NOTIFICATION_BYTES = 64 * 1024


class NotificationError(ValueError):
    """A body that is not the standard's subscription notification; the message says why."""


class Notification(BaseModel):
    """A subscription's callback body: the resource types that changed, any deletes."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    modified: tuple[str, ...] = Field(
        default=(), validation_alias=AliasChoices("modifiedEntites", "modifiedEntities")
    )
    deleted: bool = Field(default=False, validation_alias="deletedEntities")

    @model_validator(mode="before")
    @classmethod
    def _names_a_change(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            raise ValueError("the notification must be a JSON object")
        if not {"modifiedEntites", "modifiedEntities", "deletedEntities"} & set(data):
            raise ValueError("names neither modifiedEntites nor deletedEntities")
        return data

    @model_validator(mode="after")
    def _known_types(self) -> Notification:
        unknown = sorted(set(self.modified) - ENDPOINT_TYPES)
        if unknown:
            raise ValueError(f"modifiedEntites: {', '.join(unknown)} not in EndPointsEnum")
        return self

    @property
    def streams(self) -> tuple[str, ...]:
        """The connector's streams that read what changed (types the hub does not read left out)."""
        return tuple(RESOURCE_STREAMS[t] for t in RESOURCE_STREAMS if t in self.modified)

    @property
    def relevant(self) -> bool:
        """Whether anything the hub reads changed (a delete always may be)."""
        return bool(self.streams) or self.deleted


def parse_notification(body: bytes) -> Notification:
    """The notification in a webhook request's body; `NotificationError` says what is wrong."""
    if len(body) > MAX_NOTIFICATION_BYTES:
        raise NotificationError(f"the body is larger than {MAX_NOTIFICATION_BYTES} bytes")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise NotificationError("the body is not JSON") from None
    try:
        return Notification.model_validate(data)
    except ValidationError as exc:
        reasons = "; ".join(
            (".".join(str(p) for p in error["loc"]) + ": " if error["loc"] else "")
            + error["msg"].removeprefix("Value error, ")
            for error in exc.errors()
        )
        raise NotificationError(f"not an SS 12000 subscription notification: {reasons}") from None


class _ResourceType(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    resource: str


class SubscriptionRecord(BaseModel):
    """A subscription as the API answers it (`Subscription.yaml#/Subscription`)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    expires: datetime
    name: str
    target: str
    resourceTypes: list[_ResourceType] = []  # noqa: N815 - the standard's name

    @property
    def resources(self) -> tuple[str, ...]:
        """The resource types it notifies about."""
        return tuple(r.resource for r in self.resourceTypes)
