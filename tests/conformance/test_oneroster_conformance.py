"""OneRoster providers as they publish themselves: FINT's 1.1 examples, 1EdTech's 1.2 schema.

Held to (see SOURCES.md): the OneRoster 1.1 example payloads FINT publishes for its
Norwegian provider (`vendor/oneroster/fint-v1p1/`), the 1.1 paths without gradebook, and
1EdTech's OneRoster 1.2 Rostering OpenAPI (`vendor/oneroster/1edtech-v1p2/`): records
generated from its schemas, every value of its vocabularies and its `ext:` extensions.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from connectors.base import Rejected
from connectors.errors import ConfigError
from connectors.http import HttpStream
from connectors.lms.oneroster import OneRoster
from schemas.entities import Person, Role
from tests.conformance.raw_fields import mismatches, optional_in, raw_fields
from tests.conformance.schema_records import VendorSchema, without
from tests.conformance.support import entities, judged, vendor_json
from tests.fixtures.lms import LmsSandboxFactory
from tests.unit.connectors.test_oneroster_parsing import source

COLLECTIONS = ("orgs", "academicSessions", "courses", "classes", "users", "enrollments")
STREAMS: dict[str, type[HttpStream[Any, Any]]] = {s.name: s for s in OneRoster.streams}
#: Every OneRoster record's header, which the standard requires (1.1 and 1.2).
HEADER = {"sourcedId", "status", "dateLastModified"}
#: Fields of FINT's records the hub cannot do without (the header and what the entity needs):
#: leaving one out is a dead letter naming it; the rest may be absent.
REQUIRED_BY_HUB = {
    "orgs": {"sourcedId", "name", "type"},
    "academicSessions": {"sourcedId", "title", "type", "startDate", "endDate"},
    "courses": {"sourcedId", "title"},
    "classes": {"sourcedId", "title", "classType", "course", "school"},
    "users": {"sourcedId"},
    "enrollments": {"sourcedId", "user", "class", "role"},
}


def examples(name: str) -> list[dict[str, Any]]:
    """FINT's published example records of one collection."""
    return vendor_json("oneroster", "fint-v1p1", f"{name}.json")[name]


def parse(name: str, record: dict[str, Any]) -> list[Any]:
    return STREAMS[name](source(version="1.1")).parse(record, 0)


@pytest.mark.parametrize("name", COLLECTIONS)
def test_every_published_example_maps_to_entities(name: str):
    """Each record of FINT's 1.1 examples becomes an entity, never a dead letter."""
    for record in examples(name):
        assert entities(parse(name, record))


def _left_out() -> list[tuple[str, str]]:
    return [(n, f) for n in COLLECTIONS for f in sorted({k for r in examples(n) for k in r})]


@pytest.mark.parametrize(("name", "field"), _left_out())
def test_any_field_may_be_absent_or_its_absence_is_named(name: str, field: str):
    """One published field left out: the record maps, or (for what the hub needs) is named."""
    record = copy.deepcopy(examples(name)[0])
    record.pop(field, None)
    required = REQUIRED_BY_HUB[name] | HEADER
    outcome = judged(parse(name, record), dict.fromkeys(required, ""))
    expected = field if field in required else "mapped"
    if field == "sourcedId":
        expected = outcome  # a dead letter without an id names the record, not a field
    assert expected == outcome


def test_a_users_single_role_and_orgs_of_1_1_are_read():
    """1.1 users carry `role` and `orgs` (1.2: `roles[]`): the role and unit come through."""
    (pupil,) = entities(parse("users", examples("users")[0]))
    assert isinstance(pupil, Person)
    assert ((Role.PUPIL,), ("11004",)) == (pupil.roles, pupil.unit_keys)


# -- against the sandbox's 1.1 provider without gradebook -----------------------------------


@pytest.fixture
def fint_like(lms_sandbox_factory: LmsSandboxFactory) -> Any:
    """A OneRoster 1.1 provider without the gradebook service."""
    return lms_sandbox_factory(scale=40, version="1.1")


def test_version_1_1_reads_the_1_1_paths(fint_like: Any):
    """`version: "1.1"` reads /ims/oneroster/v1p1/...; people come with their roles."""
    with fint_like.connector() as connector:
        people = [i for i in connector.read() if isinstance(i, Person)]
    assert people and all(p.roles for p in people)


def test_the_1_2_paths_against_a_1_1_provider_fail_as_configuration(fint_like: Any):
    """Without the version setting the 1.2 paths answer 404: a configuration error."""
    with fint_like.connector(version="1.2") as connector, pytest.raises(ConfigError):
        list(connector.read())


def test_a_base_path_setting_reaches_a_provider_below_another_prefix(fint_like: Any):
    """`rostering_path` overrides the version's path (a provider mounted elsewhere)."""
    with fint_like.connector(rostering_path="/nowhere/v1p1") as connector:
        with pytest.raises(ConfigError):
            connector.check()


def test_a_provider_without_gradebook_is_read_with_a_note_and_keeps_results(fint_like: Any):
    """404 on lineItems: the read completes, the report notes it, results are not deleted."""
    with fint_like.connector() as connector:
        assert connector.settings.gradebook
        items = list(connector.read())
        notes, not_read = connector.notes, connector.not_read
    assert any(isinstance(i, Person) for i in items)
    assert any("lineItems not offered (HTTP 404)" in n for n in notes)
    assert {"result"} == not_read


def test_hub_check_says_the_gradebook_is_missing(fint_like: Any):
    """`check()` passes on a rostering-only provider and notes the missing gradebook."""
    with fint_like.connector() as connector:
        connector.check()
        notes = connector.notes
    assert any("gradebook service not offered" in n for n in notes)


# -- against 1EdTech's OneRoster 1.2 Rostering OpenAPI ---------------------------------------

ONEROSTER_1_2 = vendor_json("oneroster", "1edtech-v1p2", "rostering.json")["schemas"]
#: The record type of each collection in 1EdTech's document.
DTYPES = {
    "orgs": "OrgDType",
    "academicSessions": "AcademicSessionDType",
    "courses": "CourseDType",
    "classes": "ClassDType",
    "users": "UserDType",
    "enrollments": "EnrollmentDType",
}
#: Values the document types as plain strings but the standard constrains in prose.
HINTS_1_2: dict[str, dict[str, Any]] = {
    "orgs": {"identifier": "12345678"},
    "academicSessions": {"schoolYear": "2026"},
    "users": {"grades": ["05"]},
}
#: Raw-model fields the connector reads beyond 1EdTech's 1.2 document; each is optional.
EXTENSIONS_1_2 = {
    "courses": {
        "metadata.tags": "provider metadata (the document leaves `metadata` open): topic tags",
        "metadata.keywords": "as above: keywords that mark competence courses",
    },
    "users": {
        "role": "OneRoster 1.1's single role (the same reader serves 1.1 providers)",
        "orgs": "OneRoster 1.1's organisations",
        "orgs.sourcedId": "as above",
    },
}
#: Fields read with another JSON type than the document's, and why that is safe.
COERCED_1_2 = {
    "academicSessions": {
        "schoolYear": "published as a 'YYYY' string, read as its year number",
    },
    "enrollments": {
        "primary": "published as the strings 'true'/'false', read as a boolean",
    },
}
#: Fields the hub needs that 1.2 leaves optional: their absence is a dead letter naming them.
STRICTER_1_2: dict[str, dict[str, str]] = {
    "classes": {"classType": "homeroom or scheduled decides group or teaching class"},
}


def schema_1_2(name: str) -> VendorSchema:
    return VendorSchema(ONEROSTER_1_2[DTYPES[name]], ONEROSTER_1_2, HINTS_1_2.get(name, {}))


def parse_1_2(name: str, record: dict[str, Any]) -> list[Any]:
    return STREAMS[name](source(version="1.2")).parse(record, 0)


@pytest.mark.parametrize("name", COLLECTIONS)
def test_every_field_read_is_in_the_1_2_document_with_its_type(name: str):
    """Each raw field is in 1EdTech's schema with a compatible type, or listed with a reason."""
    raw = STREAMS[name].raw_model
    found = mismatches(raw_fields(raw), schema_1_2(name).fields())
    listed = set(EXTENSIONS_1_2.get(name, {})) | set(COERCED_1_2.get(name, {}))
    assert listed == set(found), found
    for path in EXTENSIONS_1_2.get(name, {}):
        assert optional_in(raw, path.split(".")[0]), f"{path} must be optional"


@pytest.mark.parametrize("name", COLLECTIONS)
def test_1_2_hints_name_only_published_fields(name: str):
    assert [] == schema_1_2(name).check_hints()


@pytest.mark.parametrize("name", COLLECTIONS)
def test_a_maximal_1_2_record_maps_to_entities(name: str):
    """Every property 1EdTech defines, each with a valid value, maps without a dead letter."""
    assert entities(parse_1_2(name, schema_1_2(name).maximal()))


@pytest.mark.parametrize("name", COLLECTIONS)
def test_a_minimal_1_2_record_maps_or_names_the_field(name: str):
    """Only what 1.2 requires: entities, or a dead letter naming a field the hub needs."""
    allowed = STRICTER_1_2.get(name, {})
    outcome = judged(parse_1_2(name, schema_1_2(name).minimal()), allowed)
    assert outcome == "mapped" or outcome in allowed


def _optional_1_2() -> list[tuple[str, str]]:
    return [(n, p) for n in COLLECTIONS for p in schema_1_2(n).optional_paths()]


@pytest.mark.parametrize(("name", "path"), _optional_1_2())
def test_any_optional_1_2_field_may_be_absent(name: str, path: str):
    """One field 1.2 leaves optional taken out of the maximal record: it still maps."""
    record = without(schema_1_2(name).maximal(), path)
    allowed = STRICTER_1_2.get(name, {})
    assert judged(parse_1_2(name, record), allowed) in ("mapped", path.split(".")[0])


def _enumerations() -> list[tuple[str, str, str]]:
    """(collection, field, value) for every value of the enumerations the hub maps."""
    cases = []
    for name, field in (
        ("orgs", "type"),
        ("academicSessions", "type"),
        ("classes", "classType"),
        ("enrollments", "role"),
        ("users", "roles.role"),
    ):
        node = ONEROSTER_1_2[DTYPES[name]]["properties"]
        for part in field.split("."):
            node = node[part]
            if "items" in node:
                node = ONEROSTER_1_2[node["items"]["$ref"].rsplit("/", 1)[-1]]["properties"]
        for value in node["anyOf"][0]["enum"]:
            cases.append((name, field, value))
    return cases


def _with(record: dict[str, Any], field: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(record)
    if field == "roles.role":
        out["roles"][0]["role"] = value
    else:
        out[field] = value
    return out


@pytest.mark.parametrize(("name", "field", "value"), _enumerations())
def test_every_published_enumeration_value_maps(name: str, field: str, value: str):
    """Each value 1EdTech's vocabulary allows maps: the hub knows every word of 1.2."""
    assert entities(parse_1_2(name, _with(schema_1_2(name).maximal(), field, value)))


@pytest.mark.parametrize(
    ("name", "field"), [("orgs", "type"), ("enrollments", "role"), ("users", "roles.role")]
)
def test_an_ext_extension_value_maps(name: str, field: str):
    """1.2 lets a provider extend a vocabulary with `ext:` terms: not a dead letter."""
    assert entities(parse_1_2(name, _with(schema_1_2(name).maximal(), field, "ext:nordic-x")))


@pytest.mark.parametrize(
    ("name", "field", "value", "expected"),
    [
        ("classes", "classType", "ext:valgfag", "scheduled"),
        ("academicSessions", "type", "ext:halvaar", "term"),
    ],
)
def test_an_ext_class_or_session_kind_is_read_as_the_nearest_kind(
    name: str, field: str, value: str, expected: str
):
    """An `ext:` class type is a scheduled class; an `ext:` session kind is a term."""
    (entity,) = entities(parse_1_2(name, _with(schema_1_2(name).maximal(), field, value)))
    kind = entity.class_type if name == "classes" else entity.kind  # type: ignore[attr-defined]
    assert expected == kind


def test_an_inactive_record_is_a_delete_as_the_standard_says():
    """1.0's `inactive` status: 1.1 and 1.2 say to read it as `tobedeleted`, not as bad data."""
    record = schema_1_2("users").maximal()
    record["status"] = "inactive"
    stream = STREAMS["users"](source(version="1.2"))
    assert stream._marked_deleted(record, datetime(2026, 11, 20, tzinfo=UTC))
    assert not [i for i in stream.parse(record, 0) if isinstance(i, Rejected)]
