"""Identity numbers are caught by value in every identifier-like field; a bad one keeps the person.

Issue 13, points 3-5: a national identity number under a field name the connector does not
know still becomes the keyed HMAC and is never kept; an invalid or missing number is not a
reason to drop a person; people marked protected at the source travel without names.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from connectors import privacy
from connectors.base import Item, Rejected
from connectors.privacy import national_id_hmac, without_national_ids
from hub.logging import REDACTED, scrub
from schemas.entities import Person, SourceRef
from schemas.mdm import AssignedUserId, Device, UserIdKind
from tests.unit.connectors import test_oneroster_parsing as oneroster
from tests.unit.connectors import test_ss12000_parsing as ss12000
from tests.unit.connectors.test_bad_input import feide, person_entry

HMAC_KEY = b"test-hmac-key-0123456789abcdef"
#: A valid number of each format (check digits right), as a source might write it.
NO_FNR = "01020312560"  # mod-11 valid: DDMMYY 010203, individual 125, checks 60
SE_PNR = "19780412-9810"  # the Luhn-valid example the SS 12000 tests use
DK_CPR = "010203-1235"  # a valid date is all a CPR number needs since 2007
FI_HETU = "131052-308T"  # the population register's own example


def one_person(items: list[Item | None]) -> Person:
    """The person among the items of a parse (fails on a dead letter)."""
    people = [i for i in items if isinstance(i, Person)]
    assert [] == [i.reason for i in items if isinstance(i, Rejected)]
    assert 1 == len(people)
    return people[0]


def text_of(item: Any) -> str:
    """An entity as the runner encodes it."""
    return json.dumps(item.model_dump(mode="json"), ensure_ascii=False)


def digits(number: str) -> str:
    return "".join(c for c in number if c.isdigit())


# -- the detector ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "country", "canonical"),
    [
        ("01020312560", "NO", "01020312560"),
        ("010203 12560", "NO", "01020312560"),
        ("41020312392", "NO", "41020312392"),  # D-number: day + 40
        ("19780412-9810", "SE", "197804129810"),
        ("780412-9810", "SE", "197804129810"),
        ("780412 9810", "SE", "197804129810"),
        ("197804129810", "SE", "197804129810"),
        ("010203-1235", "DK", "0102031235"),
        ("3112991234", "DK", "3112991234"),
        ("131052-308T", "FI", "131052-308T"),
        ("010594Y9021", "FI", "010594Y9021"),
    ],
)
def test_every_nordic_format_is_read_by_value(written: str, country: str, canonical: str):
    """The detector names the country and a canonical form for each written form."""
    found = privacy.national_id(written)
    assert (country, canonical) == (found.country, found.number) if found else None


@pytest.mark.parametrize("text", ["MAT0010", "2025-09-14", "7A", "1234567", "01020312561"])
def test_codes_dates_and_numbers_with_wrong_check_digits_are_not_identity_numbers(text: str):
    """Only a number that passes its country's checks is one."""
    assert None is privacy.national_id(text)


@pytest.mark.parametrize(
    "text",
    ["780412 9810", "19780412 9810", "010203 1234", "780412 - 9810", "010203 12560"],
)
def test_the_log_scrubber_removes_spaced_forms(text: str):
    """A number written with a space after the date is removed from logs and dead letters."""
    assert f"nr {REDACTED}." == scrub(f"nr {text}.")


@pytest.mark.parametrize("number", [102031234, 1020312560.0, 7804129810.0])
def test_the_log_scrubber_removes_identity_numbers_sent_as_json_numbers(number: float):
    """A CPR number whose leading zero a JSON number lost, or a float, is removed too."""
    assert {"id": REDACTED} == scrub({"id": number})
    assert REDACTED in scrub(json.dumps({"id": number}))


# -- OneRoster: a national id under a type name nobody listed ----------------------------


@pytest.mark.parametrize("number", [NO_FNR, SE_PNR, DK_CPR, FI_HETU, "010203 12560"])
@pytest.mark.parametrize("id_type", ["studentNumber", "LocalId", "skolverket"])
def test_oneroster_user_ids_of_any_type_holding_an_identity_number_are_hashed(
    id_type: str, number: str
):
    """`userIds` of an unlisted type holding a number become the HMAC; the number is never kept."""
    record = oneroster.records("users")[0]
    record = {**record, "userIds": [{"type": id_type, "identifier": number}]}
    stream = oneroster.STREAMS["users"](oneroster.source())
    person = one_person(stream.parse(record, 0))
    assert person.nin_hmac is not None
    assert digits(number) not in text_of(person)
    assert [] == [e for e in person.external_ids if digits(number)[:6] in e]


def test_an_identity_number_planted_in_a_name_or_username_never_reaches_the_entity():
    """A number in an ordinary field (name, username, email) is removed from the entity."""
    record = oneroster.records("users")[0]
    record = {
        **record,
        "givenName": f"Kari {NO_FNR}",
        "username": SE_PNR,
        "email": f"{digits(DK_CPR)}@skole.no",
    }
    stream = oneroster.STREAMS["users"](oneroster.source())
    person = one_person(stream.parse(record, 0))
    text = text_of(person)
    for number in (NO_FNR, SE_PNR, DK_CPR):
        assert digits(number) not in text
    assert "197804129810"[2:] not in text


# -- keep the person ---------------------------------------------------------------------


def test_feide_a_pupil_whose_nin_fails_its_check_digits_is_kept_without_the_hmac():
    """An invalid norEduPersonNIN publishes the person (and memberships) without `nin_hmac`."""
    entitlement = "urn:mace:feide.no:go:group:b::NO974557746:7a:::student:7A"
    dn, attrs = person_entry(noredupersonnin=["01020312561"], edupersonentitlement=[entitlement])
    items = feide().person_items(dn, attrs, {}, set())
    person = one_person(list(items))
    assert (None, True) == (person.nin_hmac, person.nin_invalid)
    assert ["group", "membership"] == sorted(
        i.entity for i in items if not isinstance(i, Person | Rejected)
    )
    assert "01020312561" not in "".join(text_of(i) for i in items)


def test_ss12000_a_person_whose_civic_number_has_a_wrong_check_digit_is_kept():
    """A malformed `civicNo` publishes the person without `nin_hmac`, flagged invalid."""
    record = next(r for r in ss12000.records("persons") if r["id"].endswith("1008"))
    person = one_person(ss12000.STREAMS["persons"](ss12000.source()).parse(record, 0))
    assert (None, True) == (person.nin_hmac, person.nin_invalid)
    assert "199001019951" not in text_of(person)


def test_oneroster_an_invalid_national_id_keeps_the_user_without_the_hmac():
    """A `userIds` entry of a national-id type that fails its checks keeps the user."""
    record = oneroster.records("users")[0]
    record = {**record, "userIds": [{"type": "fødselsnummer", "identifier": "01020312561"}]}
    person = one_person(oneroster.STREAMS["users"](oneroster.source()).parse(record, 0))
    assert (None, True) == (person.nin_hmac, person.nin_invalid)
    assert "01020312561" not in text_of(person)


def test_every_format_of_one_swedish_number_gives_one_hmac_across_connectors():
    """OneRoster and SS 12000 hash a personnummer to the same HMAC, whatever its form."""
    record = oneroster.records("users")[0]
    record = {**record, "userIds": [{"type": "LocalId", "identifier": "780412-9810"}]}
    person = one_person(oneroster.STREAMS["users"](oneroster.source()).parse(record, 0))
    assert national_id_hmac(HMAC_KEY, "SE", "197804129810") == person.nin_hmac


# -- protected identities ----------------------------------------------------------------


@pytest.mark.parametrize("marking", ["Skyddad folkbokföring", "Sekretessmarkering"])
def test_ss12000_a_protected_person_travels_without_names_or_contact_details(marking: str):
    """`securityMarking` other than Ingen: key, roles and units only, `protected: true`."""
    record = next(r for r in ss12000.records("persons") if r.get("emails"))
    record = {**record, "securityMarking": marking}
    person = one_person(ss12000.STREAMS["persons"](ss12000.source()).parse(record, 0))
    assert person.protected
    assert (None, None, None, None, None, ()) == (
        person.given_name,
        person.family_name,
        person.display_name,
        person.email,
        person.eppn,
        person.external_ids,
    )
    assert person.roles and person.unit_keys
    assert record["givenName"] not in text_of(person)


def test_ss12000_a_person_marked_ingen_is_not_protected():
    """`securityMarking: Ingen` is the standard's "no marking"."""
    record = next(r for r in ss12000.records("persons") if r.get("emails"))
    record = {**record, "securityMarking": "Ingen"}
    person = one_person(ss12000.STREAMS["persons"](ss12000.source()).parse(record, 0))
    assert (False, record["givenName"]) == (person.protected, person.given_name)


def test_ss12000_the_tenant_may_allow_names_for_protected_people():
    """With `protected_names: true` the names stay, contact details still go."""
    record = next(r for r in ss12000.records("persons") if r.get("emails"))
    record = {**record, "securityMarking": "Skyddad folkbokföring"}
    connector = ss12000.source()
    connector.protected_names = True  # what the tenant's policy `protected_names` sets
    person = one_person(ss12000.STREAMS["persons"](connector).parse(record, 0))
    assert (True, record["givenName"], None) == (person.protected, person.given_name, person.email)


def test_feide_a_person_with_the_configured_protection_attribute_is_protected():
    """The directory's configured attribute marks a person protected."""
    connector = feide()
    connector.settings = connector.settings.model_copy(
        update={"protected_attribute": "norEduPersonLegalName"}
    )
    dn, attrs = person_entry(norEduPersonLegalName=["TRUE"])
    person = one_person(list(connector.person_items(dn, attrs, {}, set())))
    assert (True, None, None) == (person.protected, person.given_name, person.username)


def a_device(**fields: Any) -> Device:
    """A device as an MDM connector yields it, with fields set."""
    source = SourceRef(system="intune", instance="i")
    return Device.model_validate(
        {"tenant": "t", "source": source, "key": "d1", "kind": "laptop", **fields}
    )


def test_an_identity_number_as_a_device_users_value_is_removed():
    """Nested values (an MDM's assigned user) are cleaned too; a device source has no HMAC key."""
    device = a_device(
        assigned_users=[AssignedUserId(kind=UserIdKind.ANNOTATED, value=f"Kari {SE_PNR}")]
    )
    cleaned = without_national_ids(device, None, "SE")
    assert digits(SE_PNR)[2:] not in text_of(cleaned)
    assert "Kari [redacted]" == cleaned.assigned_users[0].value


def test_a_uuid_whose_last_group_is_a_valid_personnummer_is_kept():
    """`…-197804129810` inside a UUID is an id: the key and external id stay as they are."""
    uuid = "ed674d2b-10aa-4bbb-8ccc-197804129810"
    record = oneroster.records("users")[0]
    record = {**record, "sourcedId": uuid, "userIds": [{"type": "LocalId", "identifier": uuid}]}
    person = one_person(oneroster.STREAMS["users"](oneroster.source()).parse(record, 0))
    assert (uuid, (f"LocalId:{uuid}",)) == (person.key, person.external_ids)


def test_a_dead_letter_whose_id_is_an_identity_number_carries_the_hmac_as_its_key():
    """The runner stores a dead letter's key: it is hashed like the entity's key would be."""
    record = {**oneroster.records("users")[0], "sourcedId": NO_FNR, "givenName": 42}
    (rejected,) = oneroster.STREAMS["users"](oneroster.source()).parse(record, 0)
    assert isinstance(rejected, Rejected)
    assert rejected.key == national_id_hmac(HMAC_KEY, "NO", NO_FNR)
    assert NO_FNR not in rejected.record_ref + json.dumps(rejected.payload)


def test_a_serial_number_that_is_a_valid_cpr_number_is_hashed_alike_by_every_mdm():
    """A key field holding a number is hashed with the tenant's key; without one it is refused."""
    device = a_device(physical_key="3112991234")
    hashed = without_national_ids(device, HMAC_KEY, "DK")
    assert national_id_hmac(HMAC_KEY, "DK", "3112991234") == hashed.physical_key
    with pytest.raises(privacy.IdentityNumberInKey):
        without_national_ids(device, None, "DK")


def test_a_protected_persons_dead_letter_names_nobody():
    """A protected SS 12000 person that fails to map is dead-lettered without names or contacts."""
    record = next(r for r in ss12000.records("persons") if r.get("emails"))
    record = {**record, "securityMarking": "Skyddad folkbokföring", "familyName": None}
    (rejected,) = ss12000.STREAMS["persons"](ss12000.source()).parse(record, 0)
    assert isinstance(rejected, Rejected)
    assert record["givenName"] not in json.dumps(rejected.payload, ensure_ascii=False)
    assert "emails" not in rejected.payload


def test_a_protected_directory_entrys_dead_letter_names_nobody():
    """A protected Feide entry that fails to map: no DN, no attributes, a pseudonymous key."""
    connector = feide()
    connector.settings = connector.settings.model_copy(
        update={"protected_attribute": "norEduPersonLegalName"}
    )
    dn, attrs = person_entry(norEduPersonLegalName=["TRUE"], sn=[])
    (rejected,) = connector.person_items(dn, attrs, {}, set())
    assert isinstance(rejected, Rejected)
    assert ({}, "protected entry") == (rejected.payload, rejected.record_ref)
    assert rejected.key is not None and rejected.key.startswith("protected:")
