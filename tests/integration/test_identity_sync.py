"""The identity directory end to end: real slapd, the Feide connector, real Kafka."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import ldap3
import pytest
from structlog.testing import capture_logs

from connectors.base import bookmark_text
from connectors.identity.feide_ldap import PEOPLE_STREAM
from hub.dev.sandbox.ldif import person_attributes
from hub.kafka_io import Publisher
from tests.conftest import TEST_HMAC_KEY
from tests.support import Hub, Record, ldap_source, settings_for, unique_prefix

pytestmark = pytest.mark.integration


@pytest.fixture
def ldap_password(monkeypatch: pytest.MonkeyPatch, slapd_server: Any) -> str:
    monkeypatch.setenv("TEST_LDAP_PASSWORD", slapd_server.reader_password)
    return str(slapd_server.reader_password)


@pytest.fixture
def hub(directory: Any, kafka_bootstrap: str, tmp_path: Path, ldap_password: str) -> Hub:
    h = Hub(directory, kafka_bootstrap, tmp_path)
    yield h
    h.close()


def expected_counts(owner: Any) -> dict[str, int]:
    """Entity counts computed from the generator's own model of the tenant."""
    people = [p for p in owner.people() if p.has_feide_account]
    groups = {
        (m.group.unit_org_number, m.group.type, m.group.local_id)
        for p in people
        for m in p.memberships
    }
    return {
        "organisation": len(owner.units) + 1,
        "person": len(people),
        "group": len(groups),
        "membership": sum(len(p.memberships) for p in people),
    }


def by_entity(records: list[Record]) -> dict[str, list[Record]]:
    out: dict[str, list[Record]] = {}
    for r in records:
        out.setdefault(r.key.split(":")[2], []).append(r)
    return out


def test_first_sync_publishes_one_event_per_entity_with_headers_and_keys(hub: Hub):
    """The first sync creates every entity once, keyed and headed as the envelope says."""
    report = hub.sync()
    assert "success" == report.status
    records = hub.records()
    counts = {name: len(rs) for name, rs in by_entity(records).items()}
    assert expected_counts(hub.loaded.owner) == counts
    assert len(records) == len({r.headers["ce_id"] for r in records})
    person = next(r for r in records if ":person:" in r.key)
    value = json.loads(person.value)
    key = value["after"]["key"]
    assert f"{hub.tenant}:feide:person:{key}" == person.key
    assert key.encode() == person.headers["ce_subject"]
    assert b"no.skolehub.identity.person.created" == person.headers["ce_type"]
    assert f"/tenants/{hub.tenant}/feide_ldap/feide".encode() == person.headers["ce_source"]
    assert b"1.0" == person.headers["ce_specversion"]
    assert ("c", None, []) == (value["op"], value["before"], value["changed"])


def test_second_sync_publishes_nothing(hub: Hub):
    """An unchanged directory publishes no events the second time."""
    hub.sync()
    before = len(hub.records())
    report = hub.sync()
    assert (0, 0, 0) == (report.created, report.updated, report.deleted)
    assert report.unchanged > 0
    assert before == len(hub.records())


def test_changed_attribute_publishes_one_update_naming_it(hub: Hub, ldap_admin: ldap3.Connection):
    """Changing one person's mail gives exactly one `u` event whose changed is ["email"]."""
    hub.sync()
    person = next(p for p in hub.loaded.owner.people() if p.has_feide_account)
    dn = f"uid={person.username},{hub.loaded.people_dn}"
    assert ldap_admin.modify(dn, {"mail": [(ldap3.MODIFY_REPLACE, ["ny.adresse@example.no"])]})
    earlier = hub.records()
    report = hub.sync()
    new = hub.records_after(earlier)
    assert 1 == report.updated
    (event,) = new
    value = json.loads(event.value)
    assert ("u", ["email"]) == (value["op"], value["changed"])
    assert "ny.adresse@example.no" == value["after"]["email"]
    assert person.mail == value["before"]["email"]


def test_deleted_entry_publishes_delete_then_tombstone(hub: Hub, ldap_admin: ldap3.Connection):
    """Deleting a person publishes `d` then a null tombstone, for it and its memberships."""
    hub.sync()
    person = next(p for p in hub.loaded.owner.people() if p.has_feide_account and p.memberships)
    assert ldap_admin.delete(f"uid={person.username},{hub.loaded.people_dn}")
    earlier = hub.records()
    report = hub.sync()
    new = [r for r in hub.records_after(earlier) if r.key.endswith(person.eppn)]
    assert "success" == report.status
    assert 1 + len(person.memberships) == report.deleted
    delete, tombstone = sorted((r for r in new if ":person:" in r.key), key=lambda r: r.offset)
    assert "d" == json.loads(delete.value)["op"]
    assert (delete.key, None) == (tombstone.key, tombstone.value)


def test_mass_deletion_is_held_and_publishes_nothing(hub: Hub, ldap_admin: ldap3.Connection):
    """A directory that lost 60 % of its people trips the guard: held, nothing published."""
    hub.sync()
    people = [p for p in hub.loaded.owner.people() if p.has_feide_account]
    for person in people[: int(len(people) * 0.6)]:
        assert ldap_admin.delete(f"uid={person.username},{hub.loaded.people_dn}")
    count = len(hub.records())
    report = hub.sync()
    assert "held" == report.status
    assert report.planned_deletes > 0.5 * len(people)
    assert count == len(hub.records())
    released = hub.sync(approve_deletes=True)
    assert ("success", report.planned_deletes) == (released.status, released.deleted)


def test_malformed_entries_go_to_the_dead_letter_topic(
    directory_factory: Any, kafka_bootstrap: str, tmp_path: Path, ldap_password: str
):
    """Malformed entries are dead-lettered with a reason; a bad NIN keeps its person (flagged)."""
    loaded = directory_factory(faults=True)
    hub = Hub(loaded, kafka_bootstrap, tmp_path)
    try:
        report = hub.sync()
        faulty = [p for p in loaded.owner.people() if p.fault and p.has_feide_account]
        rejected = [p for p in faulty if p.fault != "nin_check_digit"]
        assert "success" == report.status
        assert len(rejected) == report.dead_lettered
        letters = [r for r in hub.records() if r.topic.endswith(".dlq.v1")]
        reasons = {r.headers["dlq_error"].decode() for r in letters}
        assert len(rejected) == len(letters)
        assert any("eduPersonPrincipalName" in reason for reason in reasons)
        assert not any("norEduPersonNIN" in reason for reason in reasons)
        people = [r for r in hub.records() if r.topic.endswith(".identity.person.v2")]
        assert len([p for p in loaded.owner.people() if p.has_feide_account]) - len(
            rejected
        ) == len(people)
        flagged = [r for r in people if json.loads(r.value or b"{}")["after"]["nin_invalid"]]
        assert len(faulty) - len(rejected) == len(flagged)
    finally:
        hub.close()


def test_no_nin_password_or_secret_in_events_logs_or_dead_letters(
    directory_factory: Any, kafka_bootstrap: str, tmp_path: Path, ldap_password: str
):
    """No national identity number, password or key appears in any event, log or DLQ record."""
    loaded = directory_factory(faults=True)
    hub = Hub(loaded, kafka_bootstrap, tmp_path)
    try:
        with capture_logs() as logs:
            hub.sync()
        people = list(loaded.owner.people())
        forbidden = {p.nin for p in people} | {p.password for p in people}
        forbidden |= {ldap_password, TEST_HMAC_KEY}
        texts = [json.dumps(entry, default=str) for entry in logs]
        for r in hub.records():
            texts.append(r.key)
            texts.append((r.value or b"").decode())
            texts.extend(v.decode(errors="replace") for v in r.headers.values())
        blob = "\n".join(texts)
        leaked = sorted(secret for secret in forbidden if secret in blob)
        assert [] == leaked
        assert any(r.topic.endswith(".dlq.v1") for r in hub.records())
    finally:
        hub.close()


class StoppingPublisher(Publisher):
    """A publisher that stops the broker after its first acknowledged batch."""

    def __init__(self, broker: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.broker = broker
        self.batches = 0

    def publish(self, records: Any) -> None:
        if self.batches == 1:
            self.broker.down()
        self.batches += 1
        super().publish(records)


def test_broker_stopped_mid_sync_loses_nothing(
    directory: Any, private_kafka: Any, tmp_path: Path, ldap_password: str
):
    """Stopping Kafka mid-sync commits only acknowledged events; the next run completes it."""
    bootstrap = private_kafka.up()
    hub = Hub(directory, bootstrap, tmp_path)
    try:
        publisher = StoppingPublisher(private_kafka, bootstrap, hub.settings.kafka)
        report = hub.sync(publisher=publisher)
        publisher.close(timeout=15)
        assert "failed" == report.status
        committed = hub.store.count(hub.tenant, "feide")
        assert 0 < committed < sum(expected_counts(directory.owner).values())
        private_kafka.up()
        # Everything committed is on the topic: the state never ran ahead of Kafka.
        on_topic = {r.key for r in hub.records() if r.value is not None}
        assert committed <= len(on_topic)
        report = hub.sync()
        assert "success" == report.status
        records = hub.records()
        ids = {r.headers["ce_id"] for r in records if r.value is not None}
        assert sum(expected_counts(directory.owner).values()) == len(ids)
        assert len(ids) == hub.store.count(hub.tenant, "feide")
    finally:
        hub.close()


@pytest.mark.parametrize("tls", ["ldaps", "starttls"])
def test_tls_with_the_sandbox_certificate(
    directory: Any, kafka_bootstrap: str, tmp_path: Path, ldap_password: str, tls: str
):
    """The connector reads over LDAPS or StartTLS when given the server's CA certificate."""
    server = directory.server
    if server.ldaps_uri is None:
        pytest.fail("the sandbox slapd offers no TLS")
    uri = server.ldaps_uri if tls == "ldaps" else server.uri
    source = ldap_source(directory, uri=uri, tls=tls, ca_file=str(server.ca_certificate))
    settings = settings_for(
        directory.owner.tenant,
        [source],
        kafka_bootstrap,
        f"sqlite:///{tmp_path / 'tls.db'}",
        unique_prefix(),
    )
    from hub.sources import build_source

    tenant = settings.tenants[0]
    with build_source(tenant, tenant.sources[0]) as connector:
        connector.check()
        people = sum(1 for item in connector.read() if getattr(item, "entity", "") == "person")
    assert expected_counts(directory.owner)["person"] == people


def test_tls_without_the_certificate_is_refused(
    directory: Any, kafka_bootstrap: str, tmp_path: Path, ldap_password: str
):
    """A self-signed server certificate that is not trusted fails the source clearly."""
    server = directory.server
    source = ldap_source(directory, uri=server.ldaps_uri, tls="ldaps")
    settings = settings_for(
        directory.owner.tenant,
        [source],
        kafka_bootstrap,
        f"sqlite:///{tmp_path / 'x.db'}",
        unique_prefix(),
    )
    from connectors.errors import FatalError
    from hub.sources import build_source

    tenant = settings.tenants[0]
    with build_source(tenant, tenant.sources[0]) as connector:
        with pytest.raises(FatalError, match="certificate is not trusted") as caught:
            connector.check()
    assert "identity.feide_ldap" == caught.value.connector


def test_a_flat_directory_fails_from_its_organisation_entry_and_syncs_with_its_search_base(
    directory_factory: Any, kafka_bootstrap: str, tmp_path: Path, ldap_password: str
):
    """Units and people beside the organisation: base_dn alone fails, search_base syncs all."""
    loaded = directory_factory(scale=40, flat=True)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    alone = Hub(loaded, kafka_bootstrap, tmp_path / "a")
    try:
        report = alone.sync()
        assert ("failed", 0) == (report.status, report.published)
        assert "search_base" in (report.error or "")
        assert [] == alone.records()
    finally:
        alone.close()
    hub = Hub(loaded, kafka_bootstrap, tmp_path / "b", source={"search_base": loaded.search_base})
    try:
        report = hub.sync()
        assert "success" == report.status
        counts = {name: len(rs) for name, rs in by_entity(hub.records()).items()}
        assert expected_counts(loaded.owner) == counts
        people = counts["person"]
        assert [f"{len(loaded.owner.units)} units and {people} people"] == [
            n.split(": ", 1)[1].split(" under")[0] for n in report.notes
        ]
    finally:
        hub.close()


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


@pytest.fixture
def incremental_hub(
    directory: Any, kafka_bootstrap: str, tmp_path: Path, ldap_password: str
) -> Hub:
    source = {"incremental": True, "incremental_overlap": 0}
    h = Hub(directory, kafka_bootstrap, tmp_path, source=source)
    yield h
    h.close()


def test_an_incremental_run_reads_changes_only_and_a_full_run_still_deletes(
    incremental_hub: Hub, ldap_admin: ldap3.Connection
):
    """Incremental: the modified and the added person, no delete; the next full run deletes."""
    hub = incremental_hub
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
