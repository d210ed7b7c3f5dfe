"""Apple Apps and Books over HTTP against the sandbox: versions, changes since one, fallback."""

from __future__ import annotations

import json

import pytest
from structlog.testing import capture_logs

from connectors.base import Item, Removed
from connectors.licences.apple_vpp import VERSION_BOOKMARK, AppleVpp
from hub.dev.sandbox.licences.book import VppAssignment
from hub.dev.sandbox.licences.vpp import holder
from schemas.licences import LicencePool
from tests.fixtures.licences import LicenceSandbox, assignments

#: An iPad serial no sandbox fleet holds.
NEW_SERIAL = "DMPXK0NEW001"
SCRATCHJR = "895485086"


def read(
    sandbox: LicenceSandbox, bookmarks: dict[str, str] | None = None
) -> tuple[AppleVpp, list[Item]]:
    """One read of the tenant's library: full without bookmarks, else the changes since them."""
    source, items = sandbox.read("vpp", bookmarks)
    assert isinstance(source, AppleVpp)
    return source, items


def test_a_full_read_keeps_the_first_pages_version_whole(licence_sandbox: LicenceSandbox) -> None:
    """Every assignment is read, and the bookmark is the version id exactly as Apple sent it."""
    sandbox = licence_sandbox
    book = sandbox.vpp.books[sandbox.tenant]
    source, items = read(sandbox)
    assert len(book.assignments) == len(assignments(items))
    assert {VERSION_BOOKMARK: sandbox.vpp.version_id(sandbox.tenant)} == source.bookmarks


def test_an_unchanged_library_reads_no_assignment(licence_sandbox: LicenceSandbox) -> None:
    """Since the current version nothing changed: pools are read, assignments none, mark kept."""
    sandbox = licence_sandbox
    marks = read(sandbox)[0].bookmarks
    again, items = read(sandbox, marks)
    assert [] == assignments(items)
    assert any(isinstance(i, LicencePool) for i in items)
    assert marks == again.bookmarks
    assert not again.full_snapshot


def test_an_assignment_made_after_a_full_read_is_the_only_one_read_next(
    licence_sandbox: LicenceSandbox,
) -> None:
    """A licence assigned since the version is read alone; the bookmark moves to the new one."""
    sandbox = licence_sandbox
    marks = read(sandbox)[0].bookmarks
    version = sandbox.vpp.assign(sandbox.tenant, VppAssignment(SCRATCHJR, "STDQ", NEW_SERIAL))
    again, items = read(sandbox, marks)
    (made,) = assignments(items)
    assert (f"{SCRATCHJR}|STDQ|{NEW_SERIAL}", NEW_SERIAL) == (made.key, made.device_serial)
    assert {VERSION_BOOKMARK: version} == again.bookmarks


def test_changes_over_several_pages_are_all_read(licence_sandbox: LicenceSandbox) -> None:
    """`sinceVersionId` goes with every page: 45 new licences on 3 pages of 20 are all read."""
    sandbox = licence_sandbox
    marks = read(sandbox)[0].bookmarks
    serials = [f"DMPXK0NEW{n:03d}" for n in range(45)]
    for serial in serials:
        sandbox.vpp.assign(sandbox.tenant, VppAssignment(SCRATCHJR, "STDQ", serial))
    items = read(sandbox, marks)[1]
    assert sorted(serials) == sorted(a.device_serial or "" for a in assignments(items))


def test_a_revoked_licence_is_no_delete_of_an_incremental_read(
    licence_sandbox: LicenceSandbox,
) -> None:
    """Apple lists current assignments only: a revoked one is neither read nor deleted."""
    sandbox = licence_sandbox
    marks = read(sandbox)[0].bookmarks
    gone = sandbox.vpp.books[sandbox.tenant].assignments[0]
    sandbox.vpp.revoke(sandbox.tenant, gone.adam_id, holder(gone))
    again, items = read(sandbox, marks)
    assert [] == [i for i in items if isinstance(i, Removed)]
    assert [] == assignments(items)
    assert marks != again.bookmarks  # the revocation moved the version


def test_a_refused_version_reads_the_assignments_in_full(licence_sandbox: LicenceSandbox) -> None:
    """A version Apple answers 400 for is dropped: the read turns full, noted, with a new mark."""
    sandbox = licence_sandbox
    with capture_logs() as logs:
        source, items = read(sandbox, {VERSION_BOOKMARK: "0f0f0f0f-unknown-version"})
    assert source.full_snapshot
    assert len(sandbox.vpp.books[sandbox.tenant].assignments) == len(assignments(items))
    assert {VERSION_BOOKMARK: sandbox.vpp.version_id(sandbox.tenant)} == source.bookmarks
    assert ["version_refused"] == [e["event"] for e in logs if e["event"] == "version_refused"]
    assert any("versionId" in note for note in source.notes)


def test_the_sandbox_controls_assign_and_revoke_and_move_the_version(
    licence_sandbox: LicenceSandbox,
) -> None:
    """`assign` and `revoke` change the library and its counts, each giving a new version."""
    sandbox = licence_sandbox
    vpp, tenant = sandbox.vpp, sandbox.tenant
    before = vpp.version_id(tenant)
    made = vpp.control(
        tenant, "assign", {"adam_id": SCRATCHJR, "pricing": "STDQ", "serial": NEW_SERIAL}
    )
    gone = vpp.control(tenant, "revoke", {"adam_id": SCRATCHJR, "holder": NEW_SERIAL})
    assert len({before, made["versionId"], gone["versionId"]}) == 3
    assert gone["versionId"] == vpp.version_id(tenant)
    (asset,) = [a for a in vpp.books[tenant].assets if a.adam_id == SCRATCHJR]
    assert NEW_SERIAL not in {a.serial for a in vpp.books[tenant].assignments}
    assert asset.assigned == sum(1 for a in vpp.books[tenant].assignments if a.adam_id == SCRATCHJR)


def test_a_page_without_a_version_saves_no_bookmark() -> None:
    """A full read whose first page has no `versionId` leaves no bookmark: the next run is full."""
    from connectors.licences.apple_vpp import _Assignments
    from tests.unit.connectors.test_licence_parsing import vpp

    source = vpp()
    stream = _Assignments(source)
    stream.records_in({"assignments": [], "currentPageIndex": 0, "totalPages": 1})
    with capture_logs() as logs:
        stream.finished()
    assert {} == source.bookmarks
    assert ["version_unusable"] == [e["event"] for e in logs]


@pytest.mark.parametrize("token", ["", "   ", None, 42, "lone \ud800 surrogate", "v\x002"])
def test_an_opaque_bookmark_must_be_text(token: object) -> None:
    """Empty, blank, non-text, unencodable or NUL-holding tokens are refused; the saved stays."""
    from tests.unit.connectors.test_licence_parsing import vpp

    source = vpp()
    source.set_opaque_bookmark(VERSION_BOOKMARK, "v1")
    with pytest.raises(ValueError, match="bookmark versionId"):
        source.set_opaque_bookmark(VERSION_BOOKMARK, token)
    assert {VERSION_BOOKMARK: "v1"} == source.bookmarks


def test_an_opaque_bookmark_of_any_length_is_kept_whole() -> None:
    """A token is stored as given, however long, and never read as a time."""
    from tests.unit.connectors.test_licence_parsing import vpp

    source = vpp()
    token = "https://graph.example/delta?$deltatoken=" + "x" * 5000
    source.set_opaque_bookmark("deltaLink", token)
    assert token == source.bookmarks["deltaLink"]


def test_the_runner_publishes_changes_and_deletes_only_after_full_reads(
    licence_sandbox: LicenceSandbox, tmp_path
) -> None:
    """Through the runner: full, then a new licence alone; a revoked one goes at full reads.

    Last, a stored version Apple refuses: the run reads in full and keeps the new version.
    """
    sandbox = licence_sandbox
    runner, store, publisher = sandbox.runner("vpp", tmp_path / "state.db")

    def sync(full: bool | None = None) -> tuple[bool, set[tuple[str, str]]]:
        start = len(publisher.records)
        report = runner.sync(sandbox.tenant, "vpp", source=sandbox.connector("vpp"), full=full)
        assert "success" == report.status, report.error
        events = {
            (json.loads(r.value)["op"], str(r.key).split(":", 3)[-1])
            for r in publisher.records[start:]
            if r.value is not None and r.topic.endswith("assignment.v1")
        }
        return report.full, events

    try:
        full, first = sync()
        assert full and {"c"} == {op for op, _ in first}
        assert {VERSION_BOOKMARK} == set(store.bookmarks(sandbox.tenant, "vpp"))
        sandbox.vpp.assign(sandbox.tenant, VppAssignment(SCRATCHJR, "STDQ", NEW_SERIAL))
        gone = sandbox.vpp.books[sandbox.tenant].assignments[0]
        sandbox.vpp.revoke(sandbox.tenant, gone.adam_id, holder(gone))
        full, second = sync()
        assert not full
        assert {("c", f"{SCRATCHJR}|STDQ|{NEW_SERIAL}")} == second
        assert (False, set()) == sync()  # nothing changed since
        # Offset-paged: the revoked licence is deleted once two full reads missed it.
        assert (True, set()) == sync(full=True)
        full, fourth = sync(full=True)
        gone_key = f"{gone.adam_id}|{gone.pricing}|{holder(gone)}"
        assert (True, {("d", gone_key)}) == (full, fourth)
        # A version Apple no longer knows: the runner's incremental run turns full.
        store.save_bookmarks(sandbox.tenant, "vpp", {VERSION_BOOKMARK: "forgotten-version"})
        assert (True, set()) == sync()
        current = sandbox.vpp.version_id(sandbox.tenant)
        assert {VERSION_BOOKMARK: current} == store.bookmarks(sandbox.tenant, "vpp")
    finally:
        store.close()
