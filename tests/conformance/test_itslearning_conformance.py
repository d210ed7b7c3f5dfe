"""The itslearning connector against the Data Warehouse API's published entity details."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, get_args

import pytest

from connectors.lms.itslearning import Itslearning

DOCUMENT = json.loads(
    (Path(__file__).parent / "vendor" / "itslearning" / "data-warehouse.json").read_text()
)
STREAMS = {s.path.strip("/"): s for s in Itslearning.streams}
#: Edm types → the Python types a raw field of that type may be read as.
EDM = {
    "Edm.Int32": {"int"},
    "Edm.Int64": {"int"},
    "Edm.Double": {"float"},
    "Edm.DateTime": {"datetime"},
    "Edm.String": {"str"},
    "Edm.Boolean": {"bool"},
}
#: Fields the connector reads beyond what the pages the store holds document (their
#: field tables were not in it); each is optional in the raw model, so a site without
#: them still maps.
BEYOND_THE_DOCUMENT = {
    "Users": {"FirstName", "LastName", "UserName", "Email", "SyncKey", "UserType",
              "OrganizationId", "T_ModifiedDate"},
    "Courses": {"OrganizationId", "T_ModifiedDate"},
    "LearningObjectives": {"Title"},
}  # fmt: skip


def _type_names(annotation: Any) -> set[str]:
    return {getattr(a, "__name__", str(a)) for a in get_args(annotation) or (annotation,)}


@pytest.mark.parametrize("entity_set", sorted(DOCUMENT["entities"]))
def test_every_field_read_is_documented_with_a_compatible_type(entity_set: str) -> None:
    """Each raw field of a documented entity set is published under that name and Edm type."""
    documented = DOCUMENT["entities"][entity_set]
    model = STREAMS[entity_set].raw_model
    beyond = BEYOND_THE_DOCUMENT.get(entity_set, set())
    for name, field in model.model_fields.items():
        if name in beyond:
            assert not field.is_required(), name
            continue
        assert name in documented, f"{entity_set}.{name} is not in the vendor's document"
        edm = documented[name]["type"]
        if edm is not None and edm in EDM and name != "CourseOrganizationId":
            assert EDM[edm] & _type_names(field.annotation), (entity_set, name, edm)


def test_the_dated_fact_tables_the_connector_reads_are_the_documented_ones() -> None:
    """Every stream filtered by `DateId` is a table the vendor lists as date-limited."""
    dated = set(DOCUMENT["limits"]["dated_entities"])
    filtered = {
        name[:-1] if name[:-1] in dated else name
        for name, stream in STREAMS.items()
        if "DateId" in stream.raw_model.model_fields
    }
    assert filtered and filtered <= dated


def test_the_documented_statuses_of_deleted_users_and_courses_are_deletes() -> None:
    """`trashcan`/`deleted` users and `TrashCan`/`Deleted` courses are read as deletes."""
    from connectors.lms import itslearning

    courses = DOCUMENT["entities"]["Courses"]["CourseStatus"]["values"]
    users = DOCUMENT["entities"]["Users"]["UserStatus"]["values"]
    gone = {v.lower() for v in (*courses, *users) if v.lower() != "active"}
    assert gone == set(itslearning._GONE)
