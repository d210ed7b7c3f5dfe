"""OneRoster providers as they publish themselves: FINT's 1.1 examples, 1.1 paths, no gradebook.

Held to: the OneRoster 1.1 example payloads FINT publishes for its Norwegian provider
(`vendor/oneroster/fint-v1p1/`, see SOURCES.md). 1EdTech's own 1.2 OpenAPI and JSON
schemas could not be found in any store these machines reach; the 1.2 shapes stay covered
by the unit tests' recorded records.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from connectors.errors import ConfigError
from connectors.http import HttpStream
from connectors.lms.oneroster import OneRoster
from schemas.entities import Person, Role
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
