"""Incremental reads of the Feide directory: real slapd, the connector, the runner, real Kafka."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import ldap3
import pytest

from connectors.base import bookmark_text
from connectors.identity.feide_ldap import PEOPLE_STREAM
from hub.dev.sandbox.ldif import person_attributes
from tests.support import Hub

pytestmark = pytest.mark.integration


@pytest.fixture
def ldap_password(monkeypatch: pytest.MonkeyPatch, slapd_server: Any) -> str:
    monkeypatch.setenv("TEST_LDAP_PASSWORD", slapd_server.reader_password)
    return str(slapd_server.reader_password)


@pytest.fixture
def hub(directory: Any, kafka_bootstrap: str, tmp_path: Path, ldap_password: str) -> Hub:
    source = {"incremental": True, "incremental_overlap": 0}
    h = Hub(directory, kafka_bootstrap, tmp_path, source=source)
    yield h
    h.close()


def add_copy(hub: Hub, ldap_admin: ldap3.Connection, person: Any, username: str) -> str:
    """Add a new person shaped like `person` under another uid and eppn; return the eppn."""
    eppn = f"{username}@{person.eppn.split('@')[1]}"
    attributes: dict[str, list[str]] = {}
    for name, value in person_attributes(hub.loaded.owner, person, hub.loaded.server.suffix):
        if name == "uid":
            value = username
        elif name == "eduPersonPrincipalName":
            value = eppn
        elif name == "mail":
            value = f"{username}@example.no"
        elif name == "norEduPersonNIN":
            continue
        attributes.setdefault(name, []).append(value)
    classes = attributes.pop("objectClass")
    assert ldap_admin.add(f"uid={username},{hub.loaded.people_dn}", classes, attributes)
    return eppn


def test_an_incremental_run_reads_changes_only_and_a_full_run_still_deletes(
    hub: Hub, ldap_admin: ldap3.Connection
):
    """Incremental: the modified and the added person, no delete; the next full run deletes."""
    first = hub.sync()
    assert ("success", True) == (first.status, first.full)
    # The last run saw changes up to now: the entries loaded before it are not read again.
    hub.store.save_bookmarks(hub.tenant, "feide", {PEOPLE_STREAM: bookmark_text(datetime.now(UTC))})
    people = [p for p in hub.loaded.owner.people() if p.has_feide_account and p.memberships]
    changed, template, gone = people[0], people[1], people[2]
    dn = f"uid={changed.username},{hub.loaded.people_dn}"
    assert ldap_admin.modify(dn, {"mail": [(ldap3.MODIFY_REPLACE, ["ny.adresse@example.no"])]})
    added = add_copy(hub, ldap_admin, template, "nyelev")
    assert ldap_admin.delete(f"uid={gone.username},{hub.loaded.people_dn}")
    earlier = hub.records()

    incremental = hub.sync()

    new = hub.records_after(earlier)
    assert ("success", False) == (incremental.status, incremental.full)
    assert (1, 0) == (incremental.updated, incremental.deleted)
    assert 1 + len(template.memberships) == incremental.created
    assert any("incremental read of 2 people" in note for note in incremental.notes)
    ops = {(r.key.split(":")[2], r.key.split(":", 3)[3]): json.loads(r.value)["op"] for r in new}
    assert "u" == ops[("person", changed.eppn)]
    assert "c" == ops[("person", added)]
    assert not any(r.value is None or json.loads(r.value)["op"] == "d" for r in new)

    earlier = hub.records()
    full = hub.sync(full=True)

    new = hub.records_after(earlier)
    assert ("success", True) == (full.status, full.full)
    assert (0, 0, 1 + len(gone.memberships)) == (full.created, full.updated, full.deleted)
    deleted = {r.key.split(":", 3)[3] for r in new if r.value is not None}
    assert gone.eppn in deleted


def test_a_full_read_is_due_after_the_configured_number_of_incremental_runs(
    directory: Any, kafka_bootstrap: str, tmp_path: Path, ldap_password: str
):
    """With `full_sync_every_runs: 2`, runs go full, incremental, incremental, full."""
    hub = Hub(
        directory,
        kafka_bootstrap,
        tmp_path,
        source={"incremental": True, "full_sync_every_runs": 2},
    )
    try:
        runs = [hub.sync() for _ in range(4)]
    finally:
        hub.close()
    assert [("success", True), ("success", False), ("success", False), ("success", True)] == [
        (r.status, r.full) for r in runs
    ]
