"""Bad input never stops a run: each defect of issue 21, on the connectors' real parsing paths."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any, ClassVar

import ldap3
import pytest

from connectors.base import Item, Rejected, bookmark_text, parse_bookmark
from connectors.errors import FatalError
from connectors.http import HttpStream
from connectors.identity.feide_ldap import GROUP_URN, FeideLdap, _Page
from connectors.lms.oneroster import OneRoster
from connectors.mdm.google_chromeos import _ChromeOsDevices
from connectors.mdm.intune import _ManagedDevices
from connectors.mdm.jamf import _Computers, _MobileDevices, _Sites
from hub.settings import parse_settings
from schemas.entities import KEY_MAX_LENGTH, Entity, Group, Membership, Person
from tests.unit.connectors import test_oneroster_parsing as oneroster_tests
from tests.unit.connectors import test_ss12000_parsing as ss12000_tests
from tests.unit.connectors._mdm import DATA as MDM_DATA
from tests.unit.connectors._mdm import intune
from tests.unit.connectors.test_google_parsing import source as google
from tests.unit.connectors.test_http import Widget, _RawWidget, source_for
from tests.unit.connectors.test_jamf_parsing import source as jamf

#: A synthetic Norwegian national identity number (month + 80) with valid check digits.
NIN = "01890112393"
TOKEN = "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
EXTREME_TIMES = ["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00"]


def first(path: str, key: str) -> dict[str, Any]:
    """A deep copy of the first example record of a data file."""
    body = json.loads(path_text(path))
    return copy.deepcopy(body[key][0])


def path_text(path: str) -> str:
    """The text of an example data file below tests/unit/connectors/data."""
    return (MDM_DATA.parent / path).read_text(encoding="utf-8")


def only(items: list[Item]) -> Item:
    """The one item of a parse."""
    assert 1 == len(items)
    return items[0]


def oneroster_parse(name: str, record: dict[str, Any], connector: OneRoster | None = None) -> Item:
    """One OneRoster record through its stream's parse."""
    connector = connector or oneroster_tests.source()
    [item] = oneroster_tests.STREAMS[name](connector).parse(record, 0)
    return item


def ss12000_parse(name: str, record: dict[str, Any]) -> list[Item]:
    """One SS 12000 object through its stream's parse."""
    stream = ss12000_tests.STREAMS[name](ss12000_tests.source())
    return stream.parse(record, 0)


def course() -> dict[str, Any]:
    """A OneRoster course record."""
    return first("oneroster/courses.json", "courses")


def assert_clean(item: Rejected, *planted: str) -> None:
    """Nothing planted shows in the reason, reference or payload, and all of it encodes."""
    blob = json.dumps([item.reason, item.record_ref, item.payload], ensure_ascii=False)
    blob.encode("utf-8")
    for value in planted:
        assert value not in blob


# -- 2. extreme dates -------------------------------------------------------------------


@pytest.mark.parametrize("moment", EXTREME_TIMES)
def test_an_extreme_modified_time_dead_letters_a_oneroster_record(moment: str):
    """A `dateLastModified` whose UTC value does not exist is a dead letter naming the field."""
    item = oneroster_parse("courses", {**course(), "dateLastModified": moment})
    assert isinstance(item, Rejected)
    assert "dateLastModified" in item.reason
    assert "course-mat7" == item.key


@pytest.mark.parametrize("moment", EXTREME_TIMES)
def test_an_extreme_modified_time_dead_letters_an_ss12000_object(moment: str):
    """An SS 12000 `meta.modified` out of range is a dead letter, not an OverflowError."""
    record = first("ss12000/organisations.json", "data")
    record["meta"]["modified"] = moment
    item = only(ss12000_parse("organisations", record))
    assert isinstance(item, Rejected)
    assert "meta.modified" in item.reason
    assert record["id"] == item.key


def test_an_extreme_intune_time_dead_letters_the_device():
    """Intune's sync time out of range is a dead letter naming the field, keyed by the device."""
    record = first("mdm/graph_managed_devices.json", "value")
    record["lastSyncDateTime"] = EXTREME_TIMES[0]
    [item] = _ManagedDevices(intune()).parse(record, 0)
    assert isinstance(item, Rejected)
    assert "lastSyncDateTime" in item.reason
    assert record["id"] == item.key


@pytest.mark.parametrize("moment", EXTREME_TIMES)
def test_an_extreme_jamf_time_dead_letters_the_device(moment: str):
    """A Jamf contact time out of range is a dead letter naming the field."""
    record = first("mdm/jamf_computers_inventory.json", "results")
    record["general"]["lastContactTime"] = moment
    [item] = _Computers(jamf()).parse(record, 0)
    assert isinstance(item, Rejected)
    assert "general.lastContactTime" in item.reason
    assert "computers/1" == item.key


def test_graphs_year_one_still_means_no_date():
    """Graph's `0001-01-01T00:00:00Z` for a missing date is still no date, not a dead letter."""
    record = first("mdm/graph_managed_devices.json", "value")
    record["enrolledDateTime"] = "0001-01-01T00:00:00Z"
    [item] = _ManagedDevices(intune()).parse(record, 0)
    assert isinstance(item, Entity)
    assert None is item.enrolled_at  # type: ignore[attr-defined]


@pytest.mark.parametrize("millis", [10**30, -(10**30), "9" * 31])
def test_a_google_auto_update_expiration_out_of_range_dead_letters_the_device(millis: object):
    """`autoUpdateExpiration` of ±10^30 ms is a dead letter naming the field."""
    record = first("mdm/google_chromeosdevices.json", "chromeosdevices")
    record.pop("autoUpdateThrough", None)
    record["autoUpdateExpiration"] = millis
    [item] = _ChromeOsDevices(google()).parse(record, 0)
    assert isinstance(item, Rejected)
    assert "autoUpdateExpiration" in item.reason
    assert record["deviceId"] == item.key


# -- 3. bookmarks -----------------------------------------------------------------------


def test_a_bookmark_before_year_1000_is_written_fixed_width_and_reads_back():
    """The year is always four digits, so every bookmark written can be read back."""
    moment = datetime(999, 6, 1, 12, 30, tzinfo=UTC)
    assert "0999-06-01T12:30:00.000Z" == bookmark_text(moment)
    assert moment == parse_bookmark(bookmark_text(moment))


def test_a_oneroster_record_from_year_999_leaves_a_bookmark_the_next_run_can_use():
    """After reading such a record, the next incremental run builds its filter without failing."""
    connector = oneroster_tests.source()
    oneroster_parse("courses", {**course(), "dateLastModified": "0999-06-01T00:00:00Z"}, connector)
    assert "0999-06-01T00:00:00.000Z" == connector.bookmarks["courses"]
    connector.full_snapshot = False
    params = oneroster_tests.STREAMS["courses"](connector).params()
    assert "filter" in params


def test_an_unreadable_stored_bookmark_means_a_read_from_the_start_not_a_failure():
    """A bookmark saved by an older version that cannot be parsed is ignored, with no filter."""
    connector = oneroster_tests.source()
    connector.bookmarks["courses"] = "999-06-01T00:00:00.000Z"
    connector.full_snapshot = False
    assert {} == oneroster_tests.STREAMS["courses"](connector).params()


def test_a_bookmark_is_validated_before_it_is_saved():
    """Advancing a bookmark refuses a text that does not parse back."""
    connector = oneroster_tests.source()
    with pytest.raises(ValueError, match="bookmark"):
        connector.set_bookmark("courses", "999-06-01T00:00:00.000Z")
    assert "courses" not in connector.bookmarks


# -- 4. nested vendor data --------------------------------------------------------------


@pytest.mark.parametrize("metadata", [{"keywords": 5}, {"tags": {"a": 1}}, {"tags": [1, 2]}, 7])
def test_oneroster_metadata_of_the_wrong_shape_dead_letters_the_course(metadata: object):
    """A number where keywords are expected is a dead letter naming metadata, not a TypeError."""
    item = oneroster_parse("courses", {**course(), "metadata": metadata})
    assert isinstance(item, Rejected)
    assert "metadata" in item.reason


# -- 5. key length where keys are composed; builders inside the guard -------------------


def feide() -> FeideLdap:
    """A Feide connector that is never asked to connect."""
    entry = {
        "type": "feide_ldap",
        "id": "feide",
        "uri": "ldap://127.0.0.1:1",
        "base_dn": "o=test",
        "bind_dn": "cn=hub",
        "secret": {"env": "UNUSED"},
    }
    config = parse_settings({"tenants": [{"id": "t", "name": "T", "sources": [entry]}]})
    return FeideLdap(
        config.tenants[0].sources[0],  # type: ignore[arg-type]
        tenant="t",
        password="unused",
        hmac_key=b"test-hmac-key-0123456789abcdef",
    )


def person_entry(**attrs: list[str]) -> tuple[str, dict[str, list[str]]]:
    """A valid pupil entry, with attributes replaced."""
    base = {
        "edupersonprincipalname": ["kari@lillevik.no"],
        "edupersonaffiliation": ["student", "member"],
        "givenname": ["Kari"],
        "sn": ["Nordmann"],
        "cn": ["Kari Nordmann"],
    }
    base.update({k.lower(): v for k, v in attrs.items()})
    return "uid=kari,ou=people,o=test", base


def read_feide(*people: tuple[str, dict[str, list[str]]]) -> list[Item]:
    """Everything the Feide connector yields for these person entries, after the owner."""
    connector = feide()
    owner = ("o=lillevik,dc=example,dc=no", {"o": ["lillevik"], "noreduorgnin": ["NO974600005"]})

    def search(
        search_filter: str,
        attributes: list[str],
        scope: str = ldap3.SUBTREE,
        base: str | None = None,
    ) -> Any:
        entries = list(people) if "eduPerson" in search_filter else []
        if "norEduOrg)" in search_filter:
            entries = [owner]
        return iter([_Page(entries, b"")])

    connector._search = search  # type: ignore[method-assign]
    return list(connector.read())[1:]  # the owner's Organisation first


def entitlement(org: str, local_id: str) -> str:
    """A teaching-group entitlement for a student."""
    return f"{GROUP_URN}u:MAT0010:{org}:{local_id}:2025-08-15:2026-06-20:student:Matte"


def test_a_membership_key_over_the_limit_dead_letters_the_person_instead_of_failing_the_run():
    """A group key under the limit whose membership key is over it rejects the entry."""
    long_id = "x" * (KEY_MAX_LENGTH - 20)
    ok = person_entry(edupersonprincipalname=["ola@lillevik.no"])
    bad = person_entry(edupersonentitlement=[entitlement("NO974", long_id)])
    items = read_feide(bad, ok)
    rejected = [i for i in items if isinstance(i, Rejected)]
    assert 1 == len(rejected)
    assert "kari@lillevik.no" == rejected[0].key
    assert "key" in rejected[0].reason and long_id not in rejected[0].reason
    assert ["ola@lillevik.no"] == [i.key for i in items if isinstance(i, Person)]
    assert [] == [i for i in items if isinstance(i, Group | Membership)]


def test_groups_of_a_rejected_person_are_not_marked_seen():
    """A later person with a valid membership in the same group still yields the group."""
    group = entitlement("NO974", "7a")
    bad = person_entry(edupersonentitlement=[group], sn=["\ud800"])
    ok = person_entry(edupersonprincipalname=["ola@lillevik.no"], edupersonentitlement=[group])
    items = read_feide(bad, ok)
    assert 1 == len([i for i in items if isinstance(i, Group)])
    assert 1 == len([i for i in items if isinstance(i, Membership)])


# -- 6. pages parsed with bounds ---------------------------------------------------------


def bounded_read(body: bytes) -> list[Item]:
    """The items a one-page widget stream yields for a raw response body."""
    source, _ = source_for({"/widgets": [(200, body, {}), (200, {"items": []}, {})]}, page_size=100)
    return list(source.read())


def test_a_record_nested_3000_deep_is_a_dead_letter_and_the_page_goes_on():
    """Nesting beyond the bound rejects that record; its neighbours are read."""
    deep = "[" * 3000 + "]" * 3000
    records = [
        '{"id": "w1", "name": "A"}',
        f'{{"id": "w2", "name": "B", "x": {deep}}}',
        '{"id": "w3", "name": "C"}',
    ]
    body = '{"items": [' + ", ".join(records) + "]}"
    items = bounded_read(body.encode())
    assert ["w1", "w3"] == [i.key for i in items if isinstance(i, Widget)]
    (rejected,) = [i for i in items if isinstance(i, Rejected)]
    assert ("w2", "w2") == (rejected.record_ref, rejected.key)
    assert "nest" in rejected.reason


def test_an_integer_of_5000_digits_is_a_dead_letter_and_the_page_goes_on():
    """A number beyond the digit bound rejects that record instead of the whole page."""
    body = (
        '{"items": [{"id": "w1", "name": "A", "n": ' + "7" * 5000 + '}, {"id": "w2", "name": "B"}]}'
    )
    items = bounded_read(body.encode())
    assert ["w2"] == [i.key for i in items if isinstance(i, Widget)]
    (rejected,) = [i for i in items if isinstance(i, Rejected)]
    assert "w1" == rejected.key and "digits" in rejected.reason
    json.dumps(rejected.payload)


def test_a_body_that_is_not_json_still_fails_the_stream():
    """Bounds do not hide a broken source: a body that is not JSON is fatal."""
    with pytest.raises(FatalError, match="not JSON"):
        bounded_read(b"<html>")


# -- 3 (issue). a per-record guard for any exception, never for a broken source ---------


class _Exploding(HttpStream[Any, Any]):
    name = "widgets"
    path = "/widgets"
    records_key = "items"
    entity_type = Widget
    raw_model = _RawWidget
    error: ClassVar[Exception]

    def to_entity(self, raw: Any) -> Widget:
        raise self.error


@pytest.mark.parametrize(
    "error", [TypeError("boom " + NIN), KeyError(NIN), OverflowError(), RecursionError()]
)
def test_any_exception_while_mapping_one_record_is_a_dead_letter_without_its_message(
    error: Exception,
):
    """Not only ValueError: any exception of one record is a dead letter naming its kind."""
    source, _ = source_for({"/widgets": [(200, {"items": []}, {})]})
    _Exploding.error = error
    [item] = _Exploding(source).parse({"id": "w1", "name": "A"}, 0)
    assert isinstance(item, Rejected)
    assert type(error).__name__ in item.reason and "w1" == item.key
    assert_clean(item, NIN)


def test_a_connector_error_while_mapping_is_not_swallowed():
    """An error that means the source is broken (e.g. fatal HTTP) still ends the stream."""
    source, _ = source_for({"/widgets": [(200, {"items": []}, {})]})
    _Exploding.error = FatalError("token endpoint refused", connector="test")
    with pytest.raises(FatalError):
        _Exploding(source).parse({"id": "w1", "name": "A"}, 0)


# -- 7. text that cannot be encoded --------------------------------------------------------


def test_a_lone_surrogate_in_a_oneroster_course_code_is_a_dead_letter_that_encodes():
    """A lone surrogate (a valid JSON escape) rejects the record, naming the field."""
    record = json.loads(json.dumps({**course(), "courseCode": "M"}).replace('"M"', '"\\ud800"'))
    item = oneroster_parse("courses", record)
    assert isinstance(item, Rejected)
    assert "course_code" in item.reason
    assert_clean(item)


def test_a_lone_surrogate_in_a_feide_attribute_is_a_dead_letter_that_encodes():
    """A surrogate in an LDAP value rejects the entry, and the payload still encodes."""
    (item,) = read_feide(person_entry(givenname=["Kari\udc80"]))
    assert isinstance(item, Rejected)
    assert "given_name" in item.reason
    assert_clean(item)


# -- 8. blank keys ---------------------------------------------------------------------------


@pytest.mark.parametrize("blank", ["\u00a0", "\u200b", "\u200f", "\ufeff", "\t\n", "\x00", " "])
def test_an_invisible_source_id_is_a_dead_letter_in_every_http_connector(blank: str):
    """An id of only invisible characters never becomes an entity key, whatever the source."""
    cases: list[tuple[Any, dict[str, Any], str]] = [
        (oneroster_tests.STREAMS["courses"](oneroster_tests.source()), course(), "sourcedId"),
        (
            ss12000_tests.STREAMS["organisations"](ss12000_tests.source()),
            first("ss12000/organisations.json", "data"),
            "id",
        ),
        (_ManagedDevices(intune()), first("mdm/graph_managed_devices.json", "value"), "id"),
        (
            _ChromeOsDevices(google()),
            first("mdm/google_chromeosdevices.json", "chromeosdevices"),
            "deviceId",
        ),
        (_Computers(jamf()), first("mdm/jamf_computers_inventory.json", "results"), "id"),
        (
            _MobileDevices(jamf()),
            first("mdm/jamf_mobile_devices_detail.json", "results"),
            "mobileDeviceId",
        ),
    ]
    for stream, record, field in cases:
        record[field] = blank
        items = stream.parse(record, 0)
        assert [Rejected] == [type(i) for i in items], stream.name
        assert None is items[0].key


def test_an_invisible_eppn_is_a_dead_letter_in_feide():
    """A Feide eppn of a zero-width space is no key."""
    (item,) = read_feide(person_entry(edupersonprincipalname=["\u200b"]))
    assert isinstance(item, Rejected) and None is item.key


# -- 9. reasons and payloads free of identity numbers and secrets --------------------------


def test_feide_reasons_never_echo_attribute_values():
    """A bad affiliation, org unit or primary affiliation is named, its value never quoted."""
    for attrs in (
        {"edupersonprimaryaffiliation": [NIN]},
        {"edupersonaffiliation": [TOKEN]},
        {"edupersonorgunitdn": [f"ou={NIN},o=test"]},
        {"edupersonprincipalname": [f"{NIN}@X.NO"]},
        {"edupersonentitlement": [f"{GROUP_URN}{TOKEN}:x:o:l:::student:n"]},
    ):
        (item,) = read_feide(person_entry(**attrs))
        assert isinstance(item, Rejected)
        assert NIN not in item.reason and "eyJ" not in item.reason


def test_feide_payload_scrubs_identity_numbers_by_value_in_every_attribute():
    """A NIN planted in `title` or `description` never reaches the dead-letter payload."""
    entry = person_entry(title=[f"lærer {NIN}"], description=[TOKEN], edupersonaffiliation=["x"])
    (item,) = read_feide(entry)
    assert isinstance(item, Rejected)
    assert_clean(item, NIN, "eyJhbGciOiJIUzI1NiJ9")


def test_ss12000_reasons_never_echo_the_school_unit_code_or_school_type():
    """The reason names the field and the problem; the value stays out."""
    record = first("ss12000/organisations.json", "data")
    record["schoolUnitCode"] = NIN
    item = only(ss12000_parse("organisations", record))
    assert isinstance(item, Rejected) and "schoolUnitCode" in item.reason
    assert_clean(item, NIN)


def test_a_token_or_identity_number_in_a_reason_is_scrubbed_by_the_dead_letter_itself():
    """Whoever builds a `Rejected`, its reason and reference leave scrubbed."""
    item = Rejected(
        entity="x", record_ref=f"uid={NIN}", reason=f"{TOKEN} {NIN}", payload={"v": NIN}
    )
    assert_clean(item, NIN, "eyJhbGciOiJIUzI1NiJ9")


# -- Rejected.key -------------------------------------------------------------------------


def test_rejected_records_carry_their_key_when_the_connector_can_tell_it():
    """Dead letters name the entity key so the runner counts the record as seen."""
    bad_course = oneroster_parse("courses", {**course(), "title": ""})
    computer = first("mdm/jamf_computers_inventory.json", "results")
    computer["general"] = 5
    [bad_computer] = _Computers(jamf()).parse(computer, 0)
    (bad_person,) = read_feide(person_entry(sn=[]))
    assert ("course-mat7", "computers/1", "kari@lillevik.no") == (
        bad_course.key,  # type: ignore[union-attr]
        bad_computer.key,  # type: ignore[union-attr]
        bad_person.key,  # type: ignore[union-attr]
    )


def test_a_rejected_lookup_record_has_no_entity_key():
    """A Jamf site is not published, so its dead letter has no key to count as seen."""
    [item] = _Sites(jamf()).parse({"id": "\u200b", "name": "Lade"}, 0)
    assert isinstance(item, Rejected) and None is item.key
