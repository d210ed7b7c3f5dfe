"""Graph education records shaped as Microsoft documents them map through the connector.

Held to (see SOURCES.md): the v1.0 `educationClass: delta` response example, the property
tables of `educationClass`, `educationTerm`, `educationSchool`, `educationUser` (with
`educationOnPremisesInfo`, `educationStudent`, `educationTeacher`), the delta query's
`@removed` and `members@delta` entries, and the `educationAssignment` and
`educationSubmission` pages (properties, status values, the list responses' examples).
"""

from __future__ import annotations

from datetime import UTC, datetime
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
        graph._Assignment: set(DOC["educationAssignment-properties"]),
        graph._Submission: set(DOC["educationSubmission-properties"]),
        graph._Recipient: set(DOC["educationSubmissionIndividualRecipient-properties"]),
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


def test_the_completion_rule_uses_only_documented_statuses():
    """Statuses not counted as given, and those counted as done, are Graph's own values."""
    assert graph.NOT_GIVEN <= set(DOC["educationAssignmentStatus-values"])
    assert graph.DONE <= set(DOC["educationSubmissionStatus-values"])
    # `reassigned` sends work back: it is a documented status that is not done.
    assert {"working", "reassigned", "unknownFutureValue"} == (
        set(DOC["educationSubmissionStatus-values"]) - graph.DONE
    )


def test_the_documented_assignment_and_submissions_pages_give_a_completion():
    """The example assignment counts; of its example submissions the returned one is done."""
    [assignment] = DOC["educationClass-list-assignments-response"]["value"]
    raw = graph._Assignment.model_validate(assignment)
    assert raw.status not in graph.NOT_GIVEN
    progress = graph.Progress()
    for record in DOC["educationAssignment-list-submissions-response"]["value"]:
        submission = graph._Submission.model_validate(record)
        assert submission.recipient and submission.recipient.userId
        progress.add(submission)
    assert (2, 1) == (progress.assigned, progress.done)
    assert datetime(2021, 10, 13, 15, 57, 0, 34986, tzinfo=UTC) == progress.done_at
