"""The Graph education connector: mapping, the delta round and its bookmark, deletes."""

from __future__ import annotations

import json
from collections import Counter

from structlog.testing import capture_logs

from connectors.base import Removed
from connectors.lms.graph_education import GraphEducation, _Class, _Classes, class_words
from schemas.entities import Person
from schemas.lms import Class, CompetenceArea, Course, Enrollment, EnrollmentRole
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
