"""The Graph education connector: mapping, the delta round, deletes, completion from assignments."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from structlog.testing import capture_logs

from connectors.base import Rejected, Removed
from connectors.errors import AuthError
from connectors.lms.graph_education import (
    GraphEducation,
    Progress,
    _Assignments,
    _Class,
    _Classes,
    _Submission,
    _Submissions,
    class_words,
)
from schemas.entities import Person
from schemas.lms import (
    Class,
    CompetenceArea,
    Course,
    Enrollment,
    EnrollmentRole,
    Result,
    ScoreStatus,
)
from tests.contract.suite import Waits
from tests.fixtures.lms_native import GraphEducationSandbox
from tests.unit.connectors._mdm import source_settings


def test_competence_words_come_from_the_code_and_the_description():
    """The class code and the description's comma-separated words are the course's tags."""
    raw = _Class.model_validate(
        {"id": "c1", "displayName": "X", "classCode": "KOMP-INFOSEC",
         "description": "Information security, e-learning"}
    )  # fmt: skip
    assert {"komp-infosec", "information-security", "e-learning"} == class_words(raw)


def test_a_full_read_gives_schools_classes_people_and_enrolments(
    graph_education_sandbox: GraphEducationSandbox,
):
    """Every class is a course and a class at its school; members are enrolled by role."""
    with graph_education_sandbox.connector() as source:
        items = list(source.read())
    kinds = Counter(type(i).__name__ for i in items)
    assert kinds["Class"] == kinds["Course"] > 0
    assert kinds["Person"] == len({i.key for i in items if isinstance(i, Person)})
    classes = [i for i in items if isinstance(i, Class)]
    assert all(c.school_key != "unassigned" for c in classes)
    roles = Counter(i.role for i in items if isinstance(i, Enrollment))
    assert roles[EnrollmentRole.STUDENT] > 0 and roles[EnrollmentRole.TEACHER] > 0
    areas = {a for i in items if isinstance(i, Course) for a in i.competence_areas}
    assert CompetenceArea.INFORMATION_SECURITY in areas
    people = [i for i in items if isinstance(i, Person)]
    assert all(p.email and "@" in p.email for p in people)
    assert "$deltatoken=" in source.bookmarks["deltaLink"]  # the whole link, kept as given


def test_an_incremental_read_follows_the_delta_link_and_deletes_only_what_it_removes(
    graph_education_sandbox: GraphEducationSandbox,
):
    """A member who left is a delete from `members@delta`; unchanged classes are not read."""
    sandbox = graph_education_sandbox
    with sandbox.connector() as source:
        items = list(source.read())
    bookmarks = dict(source.bookmarks)
    enrolment = next(i for i in items if isinstance(i, Enrollment))
    sandbox.app.control(
        sandbox.tenant,
        "remove_member",
        {"class": enrolment.class_key, "user": enrolment.person_key},
    )
    gone = next(i for i in items if isinstance(i, Class) and i.key != enrolment.class_key)
    sandbox.app.control(sandbox.tenant, "delete_class", {"class": gone.key})
    with sandbox.connector() as again:
        again.bookmarks = dict(bookmarks)
        again.full_snapshot = False
        changes = list(again.read())
    removed = {(r.entity_type, r.key) for r in changes if isinstance(r, Removed)}
    assert {
        (Enrollment, enrolment.key),
        (Class, gone.key),
        (Course, gone.key),
    } == removed
    assert [enrolment.class_key] == [i.key for i in changes if isinstance(i, Class)]
    assert enrolment.key not in {i.key for i in changes if isinstance(i, Enrollment)}
    assert again.bookmarks != bookmarks


@pytest.mark.parametrize(
    "stored",
    [
        "{server}/education/classes/delta?$deltatoken=expired",  # Graph: 400 syncStateNotFound
        "https://graph.elsewhere.example/v1.0/education/classes/delta?$deltatoken=x",
    ],
)
def test_a_delta_link_graph_refuses_or_on_another_host_turns_the_read_full(
    graph_education_sandbox: GraphEducationSandbox, stored: str
):
    """An expired (or foreign) delta link is dropped with a note; the round starts anew.

    The read is then full, so the runner reconciles; the link on another host is never
    asked (it would carry the access token there).
    """
    sandbox = graph_education_sandbox
    with sandbox.connector() as source:
        full = {(type(i), i.key) for i in source.read() if not isinstance(i, Removed)}
        server = source.settings.base_url.rstrip("/")
    with sandbox.connector() as again:
        again.bookmarks = {"deltaLink": stored.format(server=server)}
        again.full_snapshot = False
        items = list(again.read())
        assert again.full_snapshot
        assert [n for n in again.notes if "classes' delta link" in n]
        assert again.bookmarks["deltaLink"].startswith(server)
    assert full == {(type(i), i.key) for i in items}


def test_a_full_read_never_yields_deletes(graph_education_sandbox: GraphEducationSandbox):
    """A full round lists what exists; the runner's reconciliation deletes the rest."""
    sandbox = graph_education_sandbox
    with sandbox.connector() as source:
        first = next(i for i in source.read() if isinstance(i, Class))
    sandbox.app.control(sandbox.tenant, "delete_class", {"class": first.key})
    with sandbox.connector() as source:
        items = list(source.read())
    assert not [i for i in items if isinstance(i, Removed)]
    assert first.key not in {i.key for i in items if isinstance(i, Class)}


def test_an_identity_number_as_external_id_never_leaves_the_connector():
    """A personnummer used as a student's externalId is dropped; the person keeps its HMAC."""
    from tests.fuzz.harnesses import graph_education_harness

    harness = graph_education_harness()
    member = {
        "id": "u-1",
        "userPrincipalName": "elslin@solberga.se",
        "primaryRole": "student",
        "student": {"externalId": "199901019802"},
    }
    items = harness.parse("members", json.dumps(member))
    (person,) = [i for i in items if isinstance(i, Person)]
    assert "199901019802" not in json.dumps(person.model_dump(mode="json"))
    assert ["upn:elslin@solberga.se"] == list(person.external_ids)


def test_a_delta_link_that_is_no_text_is_not_saved():
    """A page whose `@odata.deltaLink` is not text keeps no bookmark and logs why."""
    settings = source_settings(
        {
            "type": "graph_education",
            "id": "teams",
            "auth": {
                "kind": "oauth_client_credentials",
                "token_url": "https://login.microsoftonline.com/d1/oauth2/v2.0/token",
                "client_id": "c1",
                "secret": {"env": "UNUSED"},
                "scope": "https://graph.microsoft.com/.default",
            },
        }
    )
    stream = _Classes(GraphEducation(settings, tenant="t", secret="s"))
    with capture_logs() as logs:
        assert [] == stream.records_in({"value": [], "@odata.deltaLink": 42})
    assert {} == stream.source.bookmarks
    assert ["delta_link_unusable"] == [e["event"] for e in logs]
    link = "https://graph.microsoft.com/v1.0/education/classes/delta?$deltatoken=a"
    stream.records_in({"value": [], "@odata.deltaLink": link})
    assert {"deltaLink": link} == stream.source.bookmarks


# -- assignments, submissions and completion -----------------------------------------------


def _submission(status: str, **moments: str) -> _Submission:
    return _Submission.model_validate(
        {"id": f"s-{status}", "status": status, "recipient": {"userId": "u1"}, **moments}
    )


def test_a_class_is_completed_when_every_assignment_given_is_done():
    """Submitted, returned and excused are done; the completion is dated by the last done."""
    progress = Progress()
    progress.add(_submission("submitted", submittedDateTime="2026-01-10T09:00:00Z"))
    progress.add(
        _submission(
            "returned",
            submittedDateTime="2026-01-11T09:00:00Z",
            returnedDateTime="2026-01-20T15:30:00.1234567Z",
        )
    )
    progress.add(_submission("excused", excusedDateTime="2026-01-15T08:00:00Z"))
    assert (ScoreStatus.FULLY_GRADED, 3, 3) == (progress.status, progress.done, progress.assigned)
    assert datetime(2026, 1, 20, 15, 30, 0, 123456, tzinfo=UTC) == progress.done_at
    assert datetime(2026, 1, 11, 9, tzinfo=UTC) == progress.active_at


@pytest.mark.parametrize("status", ["working", "reassigned", "unknownFutureValue", ""])
def test_work_not_turned_in_leaves_a_class_unfinished(status: str):
    """Working, reassigned (sent back) or an unknown status is not done: partly completed."""
    progress = Progress()
    progress.add(_submission("returned", returnedDateTime="2026-01-20T15:30:00Z"))
    progress.add(_submission(status))
    assert (ScoreStatus.PARTIALLY_GRADED, 1, 2) == (
        progress.status,
        progress.done,
        progress.assigned,
    )
    untouched = Progress()
    untouched.add(_submission(status))
    assert ScoreStatus.NOT_SUBMITTED == untouched.status


def test_only_assignments_given_to_students_count(graph_education_sandbox: GraphEducationSandbox):
    """Drafts and scheduled assignments have no submissions yet; every other status counts."""
    source = graph_education_sandbox.connector()
    source.prepare()
    stream = _Assignments(source, "c1")
    for n, status in enumerate(["draft", "scheduled", "assigned", "published", "inactive", None]):
        assert [] == stream.parse({"id": f"a{n}", "status": status}, n)
    assert {"c1": ["a2", "a3", "a4", "a5"]} == source.given


def test_a_submission_without_its_student_is_a_dead_letter(
    graph_education_sandbox: GraphEducationSandbox,
):
    """A submission whose recipient names no user cannot be counted for anyone."""
    source = graph_education_sandbox.connector()
    source.prepare()
    stream = _Submissions(source, "a1", class_id="c1")
    [rejected] = stream.parse({"id": "s1", "status": "returned", "recipient": {}}, 0)
    assert isinstance(rejected, Rejected) and "recipient" in rejected.reason
    assert {} == source.progress


def _completions(items: list[Any]) -> dict[str, Result]:
    return {i.key: i for i in items if isinstance(i, Result)}


def test_assignments_and_submissions_are_paged_and_throttling_is_waited_out(
    graph_education_sandbox: GraphEducationSandbox,
):
    """Pages of two, and a 429 with Retry-After on submissions, give the same completions."""
    sandbox = graph_education_sandbox
    with sandbox.connector() as source:
        expected = _completions(list(source.read()))
    assert {ScoreStatus.FULLY_GRADED, ScoreStatus.NOT_SUBMITTED} <= {
        r.score_status for r in expected.values()
    }
    waits = Waits()
    sandbox.server.add_fault(
        vendor="graph_education", kind="status", status=429, retry_after=7, path="/submissions",
        after=3, times=2,
    )  # fmt: skip
    before = sandbox.server.count("/submissions")
    with sandbox.connector(page_size=2, retry=waits.policy()) as source:
        paged = _completions(list(source.read()))
    assert expected == paged
    assert [7.0, 7.0] == waits.seconds
    assert sandbox.server.count("/submissions", 429) == 2
    assert sandbox.server.count("/submissions") - before > 2 * len(
        {r.class_key for r in expected.values()}
    )


def _unfinished(sandbox: GraphEducationSandbox, items: list[Any]) -> tuple[Result, str]:
    """A student's unfinished completion of a class with one assignment, and that assignment."""
    view = sandbox.app.data[sandbox.tenant].view
    for result in _completions(items).values():
        if result.score_status is ScoreStatus.NOT_SUBMITTED and result.score_max == 1.0:
            klass = view.data.index_of("classes", str(result.class_key))
            [item] = view.line_items_of[klass]
            return result, view.data.sourced_id("lineItems", item)
    raise AssertionError("no unfinished completion in the sandbox")


def test_a_returned_submission_completes_the_class_on_the_next_incremental_run(
    graph_education_sandbox: GraphEducationSandbox,
):
    """The class delta does not show submissions: an incremental run reads them anyway."""
    sandbox = graph_education_sandbox
    with sandbox.connector() as source:
        items = list(source.read())
    bookmarks = dict(source.bookmarks)
    result, assignment = _unfinished(sandbox, items)
    sandbox.app.control(
        sandbox.tenant,
        "set_submission",
        {"class": result.class_key, "assignment": assignment, "user": result.person_key,
         "status": "returned"},
    )  # fmt: skip
    with sandbox.connector() as again:
        again.bookmarks = dict(bookmarks)
        again.full_snapshot = False
        changes = list(again.read())
    assert [] == [i for i in changes if isinstance(i, Removed | Class)]
    done = _completions(changes)[result.key]
    assert (ScoreStatus.FULLY_GRADED, 1.0, datetime.now(UTC).date()) == (
        done.score_status,
        done.score,
        done.score_date,
    )


@pytest.mark.parametrize(
    ("status", "expected"),
    [("excused", ScoreStatus.FULLY_GRADED), ("reassigned", ScoreStatus.NOT_SUBMITTED)],
)
def test_excused_work_is_done_and_reassigned_work_is_not(
    graph_education_sandbox: GraphEducationSandbox, status: str, expected: ScoreStatus
):
    """Graph shows both only when asked (`Prefer`); the connector asks, and counts them."""
    sandbox = graph_education_sandbox
    with sandbox.connector() as source:
        result, assignment = _unfinished(sandbox, list(source.read()))
    sandbox.app.control(
        sandbox.tenant,
        "set_submission",
        {"class": result.class_key, "assignment": assignment, "user": result.person_key,
         "status": status},
    )  # fmt: skip
    with sandbox.connector() as source:
        assert expected == _completions(list(source.read()))[result.key].score_status


def test_without_the_assignment_permission_the_read_fails_unless_assignments_are_off(
    graph_education_sandbox: GraphEducationSandbox,
):
    """A 403 on assignments is an AuthError; `assignments: false` reads none and keeps results."""
    sandbox = graph_education_sandbox
    sandbox.app.control(sandbox.tenant, "deny_assignments", {})
    with pytest.raises(AuthError) as caught, sandbox.connector(retry=Waits().policy()) as source:
        list(source.read())
    assert (403, True) == (caught.value.status, "/assignments" in str(caught.value.path))
    with sandbox.connector(assignments=False) as source:
        items = list(source.read())
    assert not _completions(items) and any(isinstance(i, Enrollment) for i in items)
    assert "result" in source.not_read
