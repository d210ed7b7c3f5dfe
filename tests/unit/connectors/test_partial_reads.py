"""Partial reads are never deletions: OneRoster and Jamf against their sandboxes' faults."""

from __future__ import annotations

import pytest

from connectors.errors import PartialReadError
from connectors.lms.oneroster import OneRoster
from connectors.mdm.jamf import JamfPro
from hub.dev.sandbox.mdm import Table
from schemas.entities import Entity, Organisation, Person
from schemas.lms import AcademicSession, Class, Course, Enrollment, Result
from schemas.mdm import Device
from tests.fixtures.lms import LmsSandbox
from tests.fixtures.mdm import MdmSandbox

USERS = "/ims/oneroster/rostering/v1p2/users"
COMPUTERS = "/api/v1/computers-inventory"


def keys_of(source: OneRoster | JamfPro, entity_type: type[Entity]) -> list[str]:
    """The keys of one entity type that a full read of `source` yields."""
    return [i.key for i in source.read() if isinstance(i, entity_type)]


def user_ids(sandbox: LmsSandbox) -> list[str]:
    """Every user's sourcedId, in the order the provider lists them."""
    return [sandbox.data.sourced_id("users", i) for i in range(sandbox.data.count("users"))]


# -- OneRoster ----------------------------------------------------------------------------


def test_oneroster_declares_every_entity_type_it_reads_by_offset():
    """Every OneRoster collection pages by offset, so each of its entity types is listed."""
    expected = {t.entity for t in (Organisation, Person, AcademicSession, Course, Class)}
    assert expected | {Enrollment.entity, Result.entity} == OneRoster.offset_paged


@pytest.mark.parametrize("removal", ["vanish", "mark_tobedeleted"])
def test_oneroster_confirms_a_removed_user_gone_and_a_live_one_alive(
    lms_sandbox: LmsSandbox, removal: str
):
    """A lookup by sourcedId that answers 404 or `tobedeleted` confirms it; a live one stays."""
    ids = user_ids(lms_sandbox)
    with lms_sandbox.connector() as source:
        keys_of(source, Person)
        getattr(lms_sandbox.data, removal)("users", ids[3])
        assert {ids[3]} == source.confirm_gone(Person, [ids[3], ids[4]])


def test_oneroster_cannot_confirm_when_a_user_it_read_is_not_found_either(
    lms_sandbox: LmsSandbox,
):
    """If the lookup answers 404 for a user read in this run, no 404 proves a delete: None."""
    ids = user_ids(lms_sandbox)
    with lms_sandbox.connector() as source:
        keys_of(source, Person)
        lms_sandbox.server.add_fault(kind="status", status=404, path=f"{USERS}/", times=-1)
        assert None is source.confirm_gone(Person, [ids[1]])


def test_oneroster_cannot_confirm_when_the_lookup_is_refused(lms_sandbox: LmsSandbox):
    """A lookup the provider refuses (403) confirms nothing and fails nothing: None."""
    ids = user_ids(lms_sandbox)
    with lms_sandbox.connector() as source:
        keys_of(source, Person)
        lms_sandbox.server.add_fault(kind="status", status=403, path=f"{USERS}/", after=1)
        assert None is source.confirm_gone(Person, [ids[1], ids[2]])


def test_oneroster_a_user_deleted_between_pages_hides_a_live_one_that_the_lookup_keeps(
    lms_sandbox: LmsSandbox,
):
    """A hard delete on page one shifts a live user out of the read; confirm_gone keeps it."""
    ids = user_ids(lms_sandbox)
    lms_sandbox.server.add_fault(
        kind="change", action="vanish", body={"kind": "users", "sourcedId": ids[0]}, path=USERS
    )
    with lms_sandbox.connector(page_size=10) as source:
        unseen = sorted(set(ids) - set(keys_of(source, Person)))
        assert ([ids[10]], set()) == (unseen, source.confirm_gone(Person, unseen))


def test_oneroster_reads_past_an_empty_page_that_carries_a_next_link(lms_sandbox: LmsSandbox):
    """An empty users page with a `Link: rel="next"` does not end the read: every user comes."""
    lms_sandbox.server.add_fault(kind="empty_page", path=USERS, after=1)
    with lms_sandbox.connector(page_size=10) as source:
        assert sorted(user_ids(lms_sandbox)) == sorted(keys_of(source, Person))


def test_oneroster_a_read_short_of_x_total_count_fails(lms_sandbox: LmsSandbox):
    """A users page that ends the read early, short of X-Total-Count, fails the stream."""
    lms_sandbox.server.add_fault(kind="truncate", index=4, path=USERS, after=1)
    with lms_sandbox.connector(page_size=10) as source, pytest.raises(PartialReadError) as caught:
        keys_of(source, Person)
    assert ("users", lms_sandbox.data.count("users"), 14) == (
        caught.value.stream,
        caught.value.expected,
        caught.value.read,
    )


def test_oneroster_a_404_on_page_three_fails_the_stream(lms_sandbox: LmsSandbox):
    """A 404 on the third users page is a partial read, not an unknown endpoint."""
    lms_sandbox.server.add_fault(kind="status", status=404, path=USERS, after=2)
    with lms_sandbox.connector(page_size=10) as source, pytest.raises(PartialReadError) as caught:
        keys_of(source, Person)
    assert ("users", 404, 20) == (caught.value.stream, caught.value.status, caught.value.read)


# -- Jamf ---------------------------------------------------------------------------------


def jamf(sandbox: MdmSandbox, **extra: object) -> JamfPro:
    """The tenant's Jamf connector."""
    source = sandbox.connector("jamf", **extra)
    assert isinstance(source, JamfPro)
    return source


def test_jamf_declares_its_devices_read_by_page_number():
    """Jamf pages by page number (an offset), so its devices are offset-paged."""
    assert {Device.entity} == JamfPro.offset_paged


def test_jamf_confirms_retired_devices_gone_and_live_ones_alive(mdm_sandbox: MdmSandbox):
    """A computer or mobile device whose lookup by id answers 404 is gone; a 200 is alive."""
    with jamf(mdm_sandbox) as source:
        keys_of(source, Device)
        mdm_sandbox.jamf.control(mdm_sandbox.tenant, "retire", {"computer_id": 2})
        mdm_sandbox.jamf.control(mdm_sandbox.tenant, "retire", {"mobile_device_id": 3})
        asked = ["computers/2", "computers/4", "mobile-devices/3", "mobile-devices/5"]
        assert {"computers/2", "mobile-devices/3"} == source.confirm_gone(Device, asked)


def test_jamf_cannot_confirm_without_the_lookup_endpoint(mdm_sandbox: MdmSandbox):
    """A server whose schema lacks the lookup by id answers None: the runner counts misses."""
    mdm_sandbox.jamf.control(
        mdm_sandbox.tenant, "remove_endpoint", {"path": "/v1/computers-inventory/{id}"}
    )
    with jamf(mdm_sandbox) as source:
        keys_of(source, Device)
        assert None is source.confirm_gone(Device, ["computers/2"])


def test_jamf_a_computer_retired_between_pages_hides_a_live_one_that_the_lookup_keeps(
    mdm_sandbox: MdmSandbox,
):
    """A retire after page one shifts a live computer out of the read; confirm_gone keeps it."""
    computers = mdm_sandbox.fleet().count(Table.JAMF_COMPUTERS)
    mdm_sandbox.server.add_fault(
        kind="change", action="retire", body={"computer_id": 1}, path=COMPUTERS
    )
    with jamf(mdm_sandbox, page_size=2) as source:
        seen = {k for k in keys_of(source, Device) if k.startswith("computers/")}
        unseen = sorted({f"computers/{n}" for n in range(1, computers + 1)} - seen)
        assert (["computers/3"], set()) == (unseen, source.confirm_gone(Device, unseen))


def test_jamf_a_read_short_of_total_count_fails(mdm_sandbox: MdmSandbox):
    """A computers page cut short, under the same totalCount, fails the stream."""
    mdm_sandbox.server.add_fault(kind="truncate", index=1, path=COMPUTERS)
    with jamf(mdm_sandbox, page_size=2) as source, pytest.raises(PartialReadError) as caught:
        keys_of(source, Device)
    assert ("computers", mdm_sandbox.fleet().count(Table.JAMF_COMPUTERS)) == (
        caught.value.stream,
        caught.value.expected,
    )


# -- cursor-paged sources ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("source_id", "path", "table"),
    [
        ("intune", "/managedDevices", Table.INTUNE),
        ("chromebooks", "/devices/chromeos", Table.GOOGLE),
    ],
)
def test_an_empty_page_with_a_next_link_or_token_does_not_end_the_read(
    mdm_sandbox: MdmSandbox, source_id: str, path: str, table: Table
):
    """Two empty pages that carry `@odata.nextLink` or `nextPageToken` lose no device."""
    mdm_sandbox.server.add_fault(kind="empty_page", path=path, after=1, times=2)
    source = mdm_sandbox.connector(source_id, page_size=5)
    with source:
        keys = [i.key for i in source.read() if isinstance(i, Device)]
    assert mdm_sandbox.fleet().count(table) == len(set(keys))
