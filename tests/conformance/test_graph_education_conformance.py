"""Graph education records shaped as Microsoft documents them map through the connector.

Held to (see SOURCES.md): the v1.0 `educationClass: delta` response example, the property
tables of `educationClass`, `educationTerm`, `educationSchool`, `educationUser` (with
`educationOnPremisesInfo`, `educationStudent`, `educationTeacher`), and the delta query's
`@removed` and `members@delta` entries.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from connectors.http import HttpPage
from connectors.lms import graph_education as graph
from tests.conformance.support import vendor_json

DOC = vendor_json("graph", "education.json")


def _fields(model: type[BaseModel]) -> set[str]:
    return {f.alias or name for name, f in model.model_fields.items()}


def test_every_field_read_is_published():
    """Each raw model reads only properties the v1.0 resource pages publish (and `@removed`)."""
    published = {
        graph._Class: {*DOC["educationClass-properties"], "@removed", "members@delta"},
        graph._Term: set(DOC["educationTerm-properties"]),
        graph._School: set(DOC["educationSchool-properties"]),
        graph._User: set(DOC["educationUser-properties"]),
        graph._OnPremises: set(DOC["educationOnPremisesInfo-properties"]),
    }
    for model, names in published.items():
        assert set() == _fields(model) - names, model.__name__
    roles = set(DOC["educationStudent-properties"]) & set(DOC["educationTeacher-properties"])
    assert set() == _fields(graph._RoleInfo) - roles - {"grade"}
    assert "grade" in DOC["educationStudent-properties"]


def test_the_documented_delta_page_parses_and_pages_on():
    """The example page's class validates, and its `@odata.nextLink` is the next page."""
    body: dict[str, Any] = DOC["educationClass-delta-response"]
    raw = graph._Class.model_validate(body["value"][0])
    assert ("String (identifier)", "String") == (raw.id, raw.displayName)
    page = HttpPage("https://graph.microsoft.com/v1.0/education/classes/delta", {}, {}, body, [])
    assert body["@odata.nextLink"] == graph._Classes.paginator.next(page)


def test_removed_entries_are_read_as_removals():
    """A delta's `@removed` class and `members@delta` entries validate as removals."""
    removed = graph._Class.model_validate(DOC["delta-removed-entry"])
    assert removed.removed == {"reason": "changed"} and removed.displayName is None
    changes = [graph._MemberChange.model_validate(m) for m in DOC["group-members-delta"]]
    assert [None, {"reason": "deleted"}] == [c.removed for c in changes]
