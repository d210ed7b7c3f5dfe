"""Microsoft 365 licences over HTTP against the sandbox: the users' delta round and its links."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from connectors._graph import DELTA_BOOKMARK
from connectors.base import Item, Removed
from connectors.licences.microsoft import MicrosoftLicences
from hub.dev.sandbox.licences.book import MicrosoftUser
from schemas.licences import LicencePool
from tests.fixtures.licences import LicenceSandbox, assignments


@pytest.fixture
def sandbox(licence_sandbox: LicenceSandbox) -> LicenceSandbox:
    """The licence sandbox with delta pages of 20 users, so a round spans several pages."""
    licence_sandbox.m365.delta_page_size = 20
    return licence_sandbox


def read(
    sandbox: LicenceSandbox, bookmarks: dict[str, str] | None = None
) -> tuple[MicrosoftLicences, list[Item]]:
    """One read: a new round without bookmarks, else the changes since the stored link."""
    source, items = sandbox.read("m365", bookmarks)
    assert isinstance(source, MicrosoftLicences)
    return source, items


def removed(items: list[Item]) -> set[str]:
    """The keys a read reported removed."""
    return {i.key for i in items if isinstance(i, Removed)}


def users(sandbox: LicenceSandbox) -> list[MicrosoftUser]:
    """The tenant's Entra ID users with licences."""
    return sandbox.m365.books[sandbox.tenant].users


def sku_ids(sandbox: LicenceSandbox) -> list[str]:
    """The tenant's subscribed SKUs."""
    return [s.sku_id for s in sandbox.m365.books[sandbox.tenant].skus]


def unheld(sandbox: LicenceSandbox, user: MicrosoftUser) -> str:
    """A subscribed SKU the user does not hold."""
    return next(s for s in sku_ids(sandbox) if s not in user.sku_ids)


def test_a_full_read_lists_every_licence_and_keeps_the_delta_link_whole(
    sandbox: LicenceSandbox,
) -> None:
    """The round without a token lists every user's licences; its last link is the bookmark."""
    source, items = read(sandbox)
    expected = {f"{u.object_id}|{s}" for u in users(sandbox) for s in u.sku_ids}
    assert expected == {a.key for a in assignments(items)}
    assert set() == removed(items)
    (link,) = source.bookmarks.values()
    assert {DELTA_BOOKMARK} == set(source.bookmarks)
    assert link.startswith(f"{sandbox.server.url}/{sandbox.tenant}/m365/v1.0/users/delta?")
    assert "$deltatoken=" in link and len(link) > 60


def test_an_unchanged_directory_reads_no_assignment(sandbox: LicenceSandbox) -> None:
    """Since the stored link nothing changed: pools are read, no assignment, nothing removed."""
    marks = read(sandbox)[0].bookmarks
    again, items = read(sandbox, marks)
    assert ([], set()) == (assignments(items), removed(items))
    assert any(isinstance(i, LicencePool) for i in items)
    assert not again.full_snapshot
    assert {DELTA_BOOKMARK} == set(again.bookmarks)


def test_an_unassigned_licence_is_removed_and_the_users_others_stay(
    sandbox: LicenceSandbox,
) -> None:
    """The changed user's remaining licences are read again; the one taken back is `Removed`."""
    marks = read(sandbox)[0].bookmarks
    user = next(u for u in users(sandbox) if len(u.sku_ids) >= 2)
    gone, kept = user.sku_ids[0], user.sku_ids[1:]
    sandbox.m365.unassign(sandbox.tenant, user.object_id, gone)
    items = read(sandbox, marks)[1]
    assert {f"{user.object_id}|{s}" for s in kept} == {a.key for a in assignments(items)}
    expected = {f"{user.object_id}|{s}" for s in sku_ids(sandbox) if s not in kept}
    assert expected == removed(items)


def test_a_new_assignment_is_read(sandbox: LicenceSandbox) -> None:
    """A licence assigned since the link is read with the user's others; nothing else is."""
    marks = read(sandbox)[0].bookmarks
    user = users(sandbox)[0]
    sku = unheld(sandbox, user)
    sandbox.m365.assign(sandbox.tenant, user.object_id, sku)
    items = read(sandbox, marks)[1]
    made = {a.key: a for a in assignments(items)}
    assert {f"{user.object_id}|{s}" for s in (*user.sku_ids, sku)} == set(made)
    assert sku == made[f"{user.object_id}|{sku}"].pool_key
    assert f"{user.object_id}|{sku}" not in removed(items)


@pytest.mark.parametrize("permanently", [False, True], ids=["restorable", "permanent"])
def test_a_removed_user_loses_every_subscribed_sku(
    sandbox: LicenceSandbox, permanently: bool
) -> None:
    """A user `@removed` (either reason) is a `Removed` of each subscribed SKU, held or not."""
    marks = read(sandbox)[0].bookmarks
    user = users(sandbox)[3]
    sandbox.m365.remove_user(sandbox.tenant, user.object_id, permanently=permanently)
    items = read(sandbox, marks)[1]
    assert [] == assignments(items)
    assert {f"{user.object_id}|{s}" for s in sku_ids(sandbox)} == removed(items)


@pytest.mark.parametrize(("spoil", "status"), [("expire_delta_tokens", 400), ("reset_delta", 410)])
def test_a_refused_delta_link_reads_the_users_in_full(
    sandbox: LicenceSandbox, spoil: str, status: int
) -> None:
    """An expired (400) or reset (410) link is dropped: the read turns full, noted, newly linked."""
    marks = read(sandbox)[0].bookmarks
    sandbox.m365.control(sandbox.tenant, spoil, {})
    with capture_logs() as logs:
        source, items = read(sandbox, marks)
    assert source.full_snapshot
    assert len({f"{u.object_id}|{s}" for u in users(sandbox) for s in u.sku_ids}) == len(
        assignments(items)
    )
    assert set() == removed(items)
    assert marks.keys() == source.bookmarks.keys() and marks != source.bookmarks
    assert [status] == [e["status"] for e in logs if e["event"] == "delta_link_refused"]
    assert [f"HTTP {status}"] == [n[n.index("HTTP") : n.index(")")] for n in source.notes]


def test_a_delta_link_on_another_host_is_not_kept() -> None:
    """Only a link on the configured Graph host is stored: the bearer token goes nowhere else."""
    from tests.unit.connectors.test_licence_parsing import microsoft

    source = microsoft()
    with capture_logs() as logs:
        source.keep_delta_link("https://elsewhere.example/v1.0/users/delta?$deltatoken=x")
        source.keep_delta_link("/v1.0/users/delta?$deltatoken=x")
        source.keep_delta_link(["not", "text"])
    assert {} == source.bookmarks
    assert 3 == sum(e["event"] == "delta_link_unusable" for e in logs)
    link = "https://graph.microsoft.com/v1.0/users/delta?$deltatoken=" + "t" * 3000
    source.keep_delta_link(link)
    assert {DELTA_BOOKMARK: link} == source.bookmarks


def test_a_stored_link_to_another_host_reads_in_full(sandbox: LicenceSandbox) -> None:
    """A link kept before `base_url` changed is not followed: the read turns full, noted."""
    elsewhere = {DELTA_BOOKMARK: "https://graph.elsewhere.example/v1.0/users/delta?$deltatoken=x"}
    with capture_logs() as logs:
        source, items = read(sandbox, elsewhere)
    assert source.full_snapshot and len(assignments(items)) > 0
    assert source.bookmarks[DELTA_BOOKMARK].startswith(sandbox.server.url)
    assert ["delta_link_unusable"] == [e["event"] for e in logs if "delta_link" in e["event"]]
    assert any("not on the configured Graph host" in note for note in source.notes)


def test_the_sandbox_controls_change_licences_and_counts(sandbox: LicenceSandbox) -> None:
    """`assign` and `unassign` move the SKU's consumed units; a wrong change is a ValueError."""
    m365, tenant = sandbox.m365, sandbox.tenant
    user = users(sandbox)[0]
    sku = unheld(sandbox, user)

    def consumed() -> int:
        (found,) = [s for s in m365.books[tenant].skus if s.sku_id == sku]
        return found.consumed

    before = consumed()
    first = m365.control(tenant, "assign", {"user": user.object_id, "sku": sku})
    assert before + 1 == consumed()
    second = m365.control(tenant, "unassign", {"user": user.object_id, "sku": sku})
    assert (before, True) == (consumed(), second["sequence"] > first["sequence"])
    with pytest.raises(ValueError, match="does not hold"):
        m365.control(tenant, "unassign", {"user": user.object_id, "sku": sku})
    with pytest.raises(ValueError, match="no user"):
        m365.control(tenant, "remove_user", {"user": "nobody"})
    with pytest.raises(ValueError, match="unknown action"):
        m365.control(tenant, "rename", {})


def test_the_runner_publishes_delta_changes_and_falls_back_to_full(
    sandbox: LicenceSandbox, tmp_path: Path
) -> None:
    """Through the runner: full, then one created and the removed ones deleted, then nothing.

    Last, an expired link: the run reads in full, reconciles, and keeps a new link.
    """
    runner, store, publisher = sandbox.runner("m365", tmp_path / "state.db")

    def sync(full: bool | None = None) -> tuple[bool, set[tuple[str, str]], list[str]]:
        start = len(publisher.records)
        report = runner.sync(sandbox.tenant, "m365", source=sandbox.connector("m365"), full=full)
        assert "success" == report.status, report.error
        events = {
            (json.loads(r.value)["op"], str(r.key).split(":", 3)[-1])
            for r in publisher.records[start:]
            if r.value is not None and r.topic.endswith("assignment.v1")
        }
        return report.full, events, report.notes

    try:
        full, first, _ = sync()
        assert full and {"c"} == {op for op, _ in first}
        assert {DELTA_BOOKMARK} == set(store.bookmarks(sandbox.tenant, "m365"))
        m365, tenant = sandbox.m365, sandbox.tenant
        holder, leaver, newcomer = users(sandbox)[0], users(sandbox)[1], users(sandbox)[2]
        new_sku = unheld(sandbox, newcomer)
        m365.unassign(tenant, holder.object_id, holder.sku_ids[0])
        m365.remove_user(tenant, leaver.object_id)
        m365.assign(tenant, newcomer.object_id, new_sku)
        full, second, _ = sync()
        assert not full
        assert {
            ("d", f"{holder.object_id}|{holder.sku_ids[0]}"),
            *(("d", f"{leaver.object_id}|{s}") for s in leaver.sku_ids),
            ("c", f"{newcomer.object_id}|{new_sku}"),
        } == second
        assert (False, set(), []) == sync()  # nothing changed since
        link = store.bookmarks(tenant, "m365")[DELTA_BOOKMARK]
        m365.expire_delta_tokens(tenant)
        full, fourth, notes = sync()
        assert (True, set()) == (full, fourth)
        assert any("delta link (HTTP 400)" in note for note in notes)
        assert link != store.bookmarks(tenant, "m365")[DELTA_BOOKMARK]
    finally:
        store.close()
