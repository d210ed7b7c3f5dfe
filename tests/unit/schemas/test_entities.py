"""The entity types hold their own limits: keys, timestamps and text that can be encoded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from schemas.entities import (
    KEY_MAX_LENGTH,
    TIMESTAMP_MAX,
    TIMESTAMP_MIN,
    Membership,
    MembershipRole,
    Organisation,
    OrganisationKind,
    Person,
    SourceRef,
    as_key,
    compose_key,
    utc_from_millis,
    utc_timestamp,
)
from schemas.mdm import AssignedUserId, Device, DeviceKind, UserIdKind

SOURCE = SourceRef(system="test", instance="t")


def organisation(key: str, **extra: object) -> Organisation:
    """An organisation with this key."""
    return Organisation(
        tenant="t", source=SOURCE, key=key, kind=OrganisationKind.OTHER, name="X", **extra
    )


def test_a_key_is_stripped_of_surrounding_whitespace_and_invisible_characters():
    """Spaces, NBSP, zero-width spaces and a BOM around a key are not part of it."""
    assert "org-1" == organisation(" \u00a0\u200borg-1\ufeff\n").key


@pytest.mark.parametrize(
    "key",
    ["", " ", "\u00a0", "\u200b", "\u200f", "\ufeff", "\t\n", "\x00", " \u200b\u00a0\u200f "],
)
def test_a_key_of_only_invisible_characters_is_refused(key: str):
    """Whitespace, NBSP, zero-width space, RTL mark, BOM, tab, newline or NUL alone is no key."""
    with pytest.raises(ValidationError, match="key"):
        organisation(key)


@pytest.mark.parametrize("key", ["a\x00b", "a\nb", "a\tb", "a\x1fb", "a\x7fb"])
def test_a_key_with_a_control_character_inside_is_refused(key: str):
    """A control character inside a key (NUL, newline, tab, unit separator, DEL) is refused."""
    with pytest.raises(ValidationError, match="control character"):
        organisation(key)


def test_a_key_longer_than_the_limit_is_refused_and_one_at_the_limit_accepted():
    """Keys hold at most KEY_MAX_LENGTH characters."""
    assert KEY_MAX_LENGTH == len(organisation("k" * KEY_MAX_LENGTH).key)
    with pytest.raises(ValidationError, match="key"):
        organisation("k" * (KEY_MAX_LENGTH + 1))


def test_keys_that_refer_to_other_entities_have_the_same_limits():
    """A membership's group and person keys are keys too: a blank one is refused."""
    with pytest.raises(ValidationError, match="person_key"):
        Membership(
            tenant="t",
            source=SOURCE,
            key="g|p",
            group_key="g",
            person_key="\u200b",
            role=MembershipRole.STUDENT,
        )


def test_compose_key_joins_parts_and_checks_the_length_limit_where_keys_are_composed():
    """A composed key over the limit raises ValueError naming the limit, not the value."""
    assert "g|p" == compose_key("g", "p")
    with pytest.raises(ValueError, match=f"longer than {KEY_MAX_LENGTH}") as caught:
        compose_key("g" * 300, "p" * 300)
    assert "ggg" not in str(caught.value)


def test_as_key_gives_the_clean_key_or_none():
    """`as_key` is how a dead letter names its record's key when it can."""
    assert ("a", None, None, None) == (as_key(" a "), as_key("\u200b"), as_key(5), as_key(None))


@pytest.mark.parametrize("text", ["\ud800", "Kari\udfffNordmann", "a\x00b"])
def test_text_that_cannot_be_encoded_is_refused_with_its_field_named(text: str):
    """A lone surrogate or NUL in any text field fails validation on that field."""
    with pytest.raises(ValidationError) as caught:
        Person(tenant="t", source=SOURCE, key="p", given_name=text)
    assert [("given_name",)] == [e["loc"] for e in caught.value.errors()]


def test_text_in_tuples_and_nested_models_is_checked_too():
    """Tuples of text and nested models (a device's users) are checked like plain fields."""
    with pytest.raises(ValidationError, match="affiliations"):
        Person(tenant="t", source=SOURCE, key="p", affiliations=("ok", "\ud800"))
    with pytest.raises(ValidationError, match="assigned_users"):
        Device(
            tenant="t",
            source=SOURCE,
            key="d",
            kind=DeviceKind.OTHER,
            assigned_users=(
                AssignedUserId.model_construct(kind=UserIdKind.USERNAME, value="\ud800"),
            ),
        )


def test_timestamps_are_normalised_to_utc_and_naive_ones_read_as_utc():
    """`source_modified` is always UTC: an offset is converted, a naive time is taken as UTC."""
    plus5 = datetime(2025, 1, 1, 12, tzinfo=timezone(timedelta(hours=5)))
    assert (
        datetime(2025, 1, 1, 7, tzinfo=UTC)
        == organisation("o", source_modified=plus5).source_modified
    )
    naive = organisation("o", source_modified=datetime(2025, 1, 1, 12)).source_modified
    assert datetime(2025, 1, 1, 12, tzinfo=UTC) == naive


@pytest.mark.parametrize("text", ["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00"])
def test_timestamps_outside_the_supported_range_are_refused_without_overflowing(text: str):
    """A moment whose UTC value does not exist fails validation; nothing overflows."""
    with pytest.raises(ValidationError, match="supported range"):
        organisation("o", source_modified=datetime.fromisoformat(text))


def test_utc_timestamp_accepts_the_bounds_and_refuses_just_outside():
    """The supported range is inclusive and stated in UTC."""
    assert (TIMESTAMP_MIN, TIMESTAMP_MAX) == (
        utc_timestamp(TIMESTAMP_MIN),
        utc_timestamp(TIMESTAMP_MAX),
    )
    with pytest.raises(ValueError, match="supported range"):
        utc_timestamp(TIMESTAMP_MAX + timedelta(microseconds=1))
    with pytest.raises(ValueError, match="supported range"):
        utc_timestamp(TIMESTAMP_MIN - timedelta(microseconds=1))


@pytest.mark.parametrize("millis", [10**30, -(10**30), "1" * 5000])
def test_epoch_milliseconds_outside_the_range_raise_value_error_not_overflow(millis: object):
    """Milliseconds since the epoch become a UTC time, or ValueError when out of range."""
    with pytest.raises(ValueError, match="supported range|digits"):
        utc_from_millis(millis)  # type: ignore[arg-type]


def test_epoch_milliseconds_in_range_become_utc():
    """A Google int64 millisecond value (as a string or a number) is read exactly."""
    assert datetime(2031, 6, 1, tzinfo=UTC) == utc_from_millis("1938038400000")
    assert datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC) == utc_from_millis(1000)
