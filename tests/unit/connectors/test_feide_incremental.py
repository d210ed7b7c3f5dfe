"""The Feide connector's incremental read: its filter, its start and its settings."""

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from connectors.identity.feide_ldap import (
    PEOPLE_STREAM,
    FeideLdap,
    LdapSourceSettings,
    people_filter,
)

SETTINGS = {
    "type": "feide_ldap",
    "id": "feide",
    "uri": "ldap://127.0.0.1:1",
    "base_dn": "o=x,dc=skolehub,dc=test",
    "bind_dn": "cn=hub-reader,dc=skolehub,dc=test",
    "secret": {"env": "NONE"},
}


def source(**settings: object) -> FeideLdap:
    model = LdapSourceSettings.model_validate({**SETTINGS, **settings})
    return FeideLdap(model, tenant="t", password="x", hmac_key=b"k" * 32)


def test_a_full_read_asks_for_every_person():
    """Without a start the filter is the plain object class."""
    assert "(objectClass=eduPerson)" == people_filter(None)


def test_an_incremental_read_asks_for_entries_stamped_at_the_start_or_later():
    """The start becomes a generalized time to the second, compared with `>=`."""
    since = datetime(2026, 3, 4, 5, 6, 7, 890_000, tzinfo=UTC)
    assert "(&(objectClass=eduPerson)(modifyTimestamp>=20260304050607Z))" == people_filter(since)


def test_incremental_reads_are_off_unless_configured():
    """By default the source reads in full every run, as before the setting existed."""
    assert (False, False) == (
        LdapSourceSettings.model_validate(SETTINGS).incremental,
        source().supports_incremental,
    )
    assert source(incremental=True).supports_incremental


def test_an_incremental_read_starts_the_overlap_before_the_bookmark():
    """The read starts at the bookmark less `incremental_overlap`; a full read from the start."""
    feide = source(incremental=True, incremental_overlap=120)
    feide.bookmarks = {PEOPLE_STREAM: "2026-03-04T05:06:07.000Z"}
    feide.full_snapshot = False
    assert datetime(2026, 3, 4, 5, 4, 7, tzinfo=UTC) == feide.people_since()
    feide.full_snapshot = True
    assert None is feide.people_since()


def test_an_incremental_run_without_a_bookmark_reads_every_person():
    """No bookmark (or an unreadable one): every person is read."""
    feide = source(incremental=True)
    feide.full_snapshot = False
    assert None is feide.people_since()
    feide.bookmarks = {PEOPLE_STREAM: "yesterday"}
    assert None is feide.people_since()


def test_the_full_read_rules_are_validated():
    """A negative run count is refused at load, naming the field."""
    with pytest.raises(ValidationError, match="full_sync_every_runs"):
        LdapSourceSettings.model_validate({**SETTINGS, "full_sync_every_runs": -1})
    settings = LdapSourceSettings.model_validate({**SETTINGS, "full_sync_every": "PT6H"})
    assert timedelta(hours=6) == settings.full_sync_every
