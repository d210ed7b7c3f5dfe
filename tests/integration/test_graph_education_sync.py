"""Teams classes end to end: the sandbox Graph education, the connector, the runner, real Kafka."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.lms.graph_education import GraphEducation
from hub.dev.sandbox.mdm.credentials import secret_envs
from hub.kafka_io import entity_topic
from schemas.lms import Result
from tests.fixtures.lms_native import GraphEducationSandbox
from tests.support import SandboxHub

pytestmark = pytest.mark.integration


@pytest.fixture
def teams(
    graph_education_sandbox: GraphEducationSandbox,
    kafka_bootstrap: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[SandboxHub]:
    """The sandbox tenant's hub with Teams classes (Graph education) as its one source."""
    sandbox = graph_education_sandbox
    monkeypatch.setenv(secret_envs(sandbox.tenant)["intune"], sandbox.secret)
    hub = SandboxHub(
        sandbox.tenant,
        kafka_bootstrap,
        tmp_path,
        entity_types=GraphEducation.entity_types,
        sources=lambda **source: [sandbox.source_entry(**source)],
        source_id="teams",
    )
    yield hub
    hub.close()


def _results(hub: SandboxHub) -> list[tuple[str, dict[str, Any]]]:
    """(op, entity after the change) of every completion result event on the topic."""
    topic = entity_topic(hub.prefix, Result)
    return [
        (event["op"], event["after"])
        for event in (json.loads(r.value) for r in hub.records() if r.topic == topic and r.value)
    ]


def test_a_returned_submission_is_one_result_update_on_the_next_incremental_run(
    teams: SandboxHub, graph_education_sandbox: GraphEducationSandbox
):
    """An incremental run after one submission is returned updates that result, only.

    No class changed, so the classes' delta is empty; the completion comes from reading
    every class's submissions, and nothing is deleted.
    """
    first = teams.sync()
    assert ("success", True) == (first.status, first.full)
    published = _results(teams)
    assert {"fully graded", "not submitted"} <= {after["score_status"] for _, after in published}
    unfinished = next(
        after
        for _, after in published
        if after["score_status"] == "not submitted" and after["score_max"] == 1.0
    )
    view = graph_education_sandbox.app.data[graph_education_sandbox.tenant].view
    [item] = view.line_items_of[view.data.index_of("classes", unfinished["class_key"])]
    graph_education_sandbox.app.control(
        graph_education_sandbox.tenant,
        "set_submission",
        {"class": unfinished["class_key"], "assignment": view.data.sourced_id("lineItems", item),
         "user": unfinished["person_key"], "status": "returned"},
    )  # fmt: skip
    second = teams.sync()
    assert ("success", False, 0, 1, 0) == (
        second.status,
        second.full,
        second.created,
        second.updated,
        second.deleted,
    )
    events = _results(teams)
    ours = [(op, a["score_status"]) for op, a in events if a["key"] == unfinished["key"]]
    assert [("c", "not submitted"), ("u", "fully graded")] == ours
    assert len(published) + 1 == len(events)
