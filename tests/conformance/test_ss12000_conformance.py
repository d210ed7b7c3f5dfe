"""SS 12000 objects shaped exactly as Skolverket's published OpenAPI allows become entities.

Held to: the SS 12000:2020 API specification (OpenAPI 3, the ss12000v2 repository; see
SOURCES.md). Records are generated from the schemas in `vendor/ss12000/schemas.json`.
"""

from __future__ import annotations

from typing import Any

import pytest

from connectors.base import Rejected
from connectors.identity import ss12000 as connector
from connectors.identity.ss12000 import SS12000
from schemas.entities import Person
from tests.conformance.raw_fields import mismatches, optional_in, raw_fields
from tests.conformance.schema_records import VendorSchema, without
from tests.conformance.support import entities, judged, vendor_json
from tests.unit.connectors.test_ss12000_parsing import source

SCHEMAS = vendor_json("ss12000", "schemas.json")["schemas"]
UUID = "0b5f4a8e-1c2d-4e3f-8a9b-0c1d2e3f4a5b"
#: Values the schema types as plain strings but the standard constrains in prose.
HINTS: dict[str, dict[str, Any]] = {
    "Organisation": {
        "schoolUnitCode": "12345678",
        "organisationNumber": "212000-1234",
        "organisationType": "Skolenhet",
        "schoolTypes": ["GR"],
    },
    "Person": {
        "civicNo": {"value": "197804129810", "nationality": "SE"},
        "eduPersonPrincipalNames": ["kalle.anka@edu.ekby.se"],
        "enrolments.schoolType": "GR",
        "enrolments.schoolYear": 4,
    },
    "Duty": {"dutyRole": "Lärare", "dutyPercent": 80},
    "Placement": {"schoolType": "FS"},
    "Group": {"groupType": "Klass", "schoolType": "GR"},
    "Activity": {},
}
#: Raw-model fields the connector reads that this edition of the schema does not define;
#: each is optional in the raw model, so a record without it loses nothing.
EXTENSIONS = {
    "Person": {"_embedded.duties.description": "duty description, to find IT pedagogues"},
    "Duty": {"description": "as above, on the duty itself"},
    "Group": {
        "groupCode": "served by some registers beside displayName",
        "schoolTypes": "a list where the standard has one schoolType (older registers)",
    },
}
#: Fields the hub needs that the standard leaves optional: a record without one is a dead
#: letter naming the field, never a silent loss.
STRICTER = {
    "Duty": {"person": "a duty without its person cannot be placed"},
    "Placement": {"schoolType": "the placement's school type decides FS/FKLASS counts"},
    "Group": {},
    "Activity": {},
}
RAW = {
    "Organisation": connector._Organisation,
    "Person": connector._Person,
    "Duty": connector._Duty,
    "Placement": connector._Placement,
    "Group": connector._Group,
    "Activity": connector._Activity,
}
STREAMS = {
    "Organisation": connector._Organisations,
    "Person": connector._Persons,
    "Duty": connector._Duties,
    "Placement": connector._Placements,
    "Group": connector._Groups,
    "Activity": connector._Activities,
}


def schema(name: str) -> VendorSchema:
    return VendorSchema(SCHEMAS[name], hints=HINTS[name])


def parse(name: str, record: dict[str, Any], conn: SS12000 | None = None) -> list[Any]:
    stream = STREAMS[name](conn or source())
    return stream.parse(record, 0)


ENTITIES = list(RAW)
#: Objects that are no entity of their own: they yield memberships when they have teachers.
DERIVED_ONLY = {"Activity"}


@pytest.mark.parametrize("name", ENTITIES)
def test_every_field_read_is_published_with_its_type(name: str):
    """Each raw field is in Skolverket's schema with a compatible type, or a listed extension."""
    found = mismatches(raw_fields(RAW[name]), schema(name).fields())
    assert set(EXTENSIONS.get(name, {})) == set(found), found
    for path in found:
        top = path.split(".")[0]
        assert optional_in(RAW[name], top), f"{path} must be optional"


@pytest.mark.parametrize("name", ENTITIES)
def test_hints_name_only_published_fields(name: str):
    """The generator's value hints never add a field the schema lacks."""
    assert [] == schema(name).check_hints()


@pytest.mark.parametrize("name", ENTITIES)
def test_a_maximal_record_maps_to_entities(name: str):
    """Every property the schema defines, each with a valid value, maps without a dead letter."""
    record = schema(name).maximal()
    assert entities(parse(name, record)) or name == "Activity"


@pytest.mark.parametrize("name", ENTITIES)
def test_a_minimal_record_maps_or_names_the_field(name: str):
    """Only what the schema requires: entities, or a dead letter naming a field the hub needs."""
    record = schema(name).minimal()
    outcome = judged(parse(name, record), STRICTER.get(name, {}), empty_ok=name in DERIVED_ONLY)
    assert outcome == "mapped" or outcome in STRICTER.get(name, {})


def _optional_cases() -> list[tuple[str, str]]:
    return [(n, p) for n in ENTITIES for p in VendorSchema(SCHEMAS[n]).optional_paths()]


@pytest.mark.parametrize(("name", "path"), _optional_cases())
def test_any_optional_field_may_be_absent(name: str, path: str):
    """Leaving out one field the schema marks optional keeps the record (or names the field)."""
    record = without(schema(name).maximal(), path)
    outcome = judged(parse(name, record), STRICTER.get(name, {}), empty_ok=name in DERIVED_ONLY)
    assert outcome in ("mapped", path.split(".")[0])


def test_people_and_activities_without_meta_are_read():
    """The standard does not require `meta` on Person or Activity: no dead letter for its lack."""
    person = schema("Person").minimal()
    assert "meta" not in person
    (entity,) = [e for e in entities(parse("Person", person)) if e.entity == "person"]
    assert None is entity.source_modified


def test_records_without_a_modification_time_leave_the_bookmark_alone():
    """A record with no `meta.modified` is read, and the stream's bookmark stays where it was."""
    conn = source()
    dated = schema("Person").maximal()
    undated = without(dated, "meta")
    undated["id"] = "1b5f4a8e-1c2d-4e3f-8a9b-0c1d2e3f4a5b"
    stream = STREAMS["Person"](conn)
    stream.parse(dated, 0)
    mark = conn.bookmarks.get("persons")
    assert entities(stream.parse(undated, 1))
    assert mark == conn.bookmarks.get("persons") and mark is not None


def test_an_organisation_whose_meta_has_no_modified_is_read():
    """Meta is required on an organisation, but its `modified` is not."""
    record = schema("Organisation").minimal()
    record["meta"] = {"created": "2026-01-01T00:00:00Z"}
    assert entities(parse("Organisation", record))


def test_a_sparse_register_is_read_whole_and_sets_no_bookmark(ss12000_sandbox_factory: Any):
    """Served without `meta.modified`: nothing is dead-lettered, no collection gets a bookmark.

    (The next incremental run then reads those collections whole; `/deletedEntities` keeps
    its bookmark, the read's start.)
    """
    sandbox = ss12000_sandbox_factory(scale=40, sparse=True)
    with sandbox.connector() as conn:
        items = list(conn.read())
        bookmarks = dict(conn.bookmarks)
    assert [] == [i for i in items if isinstance(i, Rejected)]
    people = [i for i in items if isinstance(i, Person)]
    assert len(sandbox.data.owner.people) == len(people)
    assert {"deletedEntities"} == set(bookmarks)
