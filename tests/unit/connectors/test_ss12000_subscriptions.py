"""SS 12000 subscriptions: the notification body, and the narrowed read a notification asks for."""

from __future__ import annotations

import json

import pytest

from connectors.errors import ConfigError
from connectors.identity.ss12000 import NotificationError, parse_notification
from tests.fixtures.ss12000 import SS12000Sandbox


def body(data: object) -> bytes:
    return json.dumps(data).encode()


def test_a_notification_names_the_streams_of_the_changed_resource_types():
    """`modifiedEntites` (the standard's spelling) becomes the streams that read those types."""
    notification = parse_notification(
        body({"modifiedEntites": ["Person", "Group"], "deletedEntities": False})
    )
    assert (("persons", "groups"), False, True) == (
        notification.streams,
        notification.deleted,
        notification.relevant,
    )


def test_the_corrected_spelling_and_a_delete_alone_are_read_too():
    """`modifiedEntities` is accepted, and `deletedEntities: true` alone is a change to read."""
    assert ("duties",) == parse_notification(body({"modifiedEntities": ["Duty"]})).streams
    deleted = parse_notification(body({"deletedEntities": True}))
    assert ((), True, True) == (deleted.streams, deleted.deleted, deleted.relevant)


def test_a_notification_of_types_the_hub_does_not_read_is_valid_but_not_relevant():
    """Grades and attendance are EndPointsEnum values the hub does not publish: nothing to sync."""
    notification = parse_notification(body({"modifiedEntites": ["Grade", "Attendance"]}))
    assert ((), False) == (notification.streams, notification.relevant)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"not json", "the body is not JSON"),
        (body(["Person"]), "must be a JSON object"),
        (body({}), "names neither modifiedEntites nor deletedEntities"),
        (body({"modifiedEntites": ["Pupil"]}), "Pupil not in EndPointsEnum"),
        (body({"modifiedEntites": "Person"}), "modifiedEntites: Input should be a valid tuple"),
        (body({"deletedEntities": "maybe"}), "deletedEntities: Input should be a valid boolean"),
        (b"{" + b" " * 70_000 + b"}", "larger than 65536 bytes"),
    ],
)
def test_a_bad_notification_is_rejected_with_the_reason(raw: bytes, reason: str):
    """Anything but the standard's callback body raises NotificationError saying what is wrong."""
    with pytest.raises(NotificationError) as caught:
        parse_notification(raw)
    assert reason in str(caught.value)


def test_a_narrowed_read_reads_only_the_named_streams_and_deleted_entities(
    ss12000_sandbox: SS12000Sandbox,
):
    """`read_only(["persons"])` leaves organisations, duties, groups, ... out of the read."""
    connector = ss12000_sandbox.connector()
    connector.read_only(["persons"])
    assert ["persons", "deletedEntities"] == [s.name for s in connector.streams_to_read()]
    with pytest.raises(ConfigError, match="no stream pupils"):
        connector.read_only(["pupils"])
