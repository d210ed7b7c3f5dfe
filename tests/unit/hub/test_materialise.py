"""The materialiser's record handling: keys name the source instance, deletes stay in it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from kafka.consumer.fetcher import ConsumerRecord

from hub.materialise import MaterialiseProgress, Materialiser, materialised_rows
from hub.store import Staged
from hub.sync import out_records, stage_change
from schemas.entities import SourceRef
from schemas.mdm import Device, DeviceKind

TOPIC = "hub.mdm.device.v2"


@pytest.fixture(params=["sqlite", "postgresql"])
def materialiser(request: pytest.FixtureRequest, tmp_path: Path) -> Materialiser:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'report.db'}"
    else:
        url = request.getfixturevalue("fresh_postgres_url")
    engine = sa.create_engine(url)
    yield Materialiser(engine, "unused:9092", "hub", group="g")
    engine.dispose()


def _record(offset: int, key: str, value: dict[str, object] | None) -> ConsumerRecord:
    encoded = None if value is None else json.dumps(value).encode()
    headers = [] if value is None else [("ce_id", f"id-{offset}".encode())]
    return _polled(TOPIC, offset, key, encoded, headers)


def _polled(
    topic: str, offset: int, key: str, value: bytes | None, headers: list[tuple[str, bytes]]
) -> ConsumerRecord:
    """A record as the materialiser's consumer polls it from partition 0."""
    return ConsumerRecord(
        topic, 0, None, offset, 0, 0, key.encode(), value, headers, None, -1, -1, -1
    )


def _device(instance: str, key: str = "computers/12") -> dict[str, object]:
    return {
        "tenant": "lillevik",
        "source": {"system": "jamf_pro", "instance": instance},
        "key": key,
        "serial": f"{instance}-serial",
    }


def _created(offset: int, instance: str) -> ConsumerRecord:
    body = _device(instance)
    value = {"op": "c", "before": None, "after": body, "changed": []}
    return _record(offset, f"lillevik:{instance}:device:computers/12", value)


def _stored(materialiser: Materialiser) -> list[tuple[str, str]]:
    return [(row[2], row[3]) for row in materialised_rows(materialiser.engine)]


def test_one_key_in_two_instances_is_two_rows(materialiser: Materialiser):
    """Two Jamf instances that both have `computers/12` are materialised as two rows."""
    materialiser._apply([_created(0, "jamf"), _created(1, "jamf_lab")], MaterialiseProgress())
    assert [("jamf_pro/jamf", "computers/12"), ("jamf_pro/jamf_lab", "computers/12")] == (
        _stored(materialiser)
    )


def test_tombstone_deletes_only_in_its_own_instance(materialiser: Materialiser):
    """A tombstone of one instance's key leaves the same key of another instance in place."""
    materialiser._apply([_created(0, "jamf"), _created(1, "jamf_lab")], MaterialiseProgress())
    tombstone = _record(2, "lillevik:jamf:device:computers/12", None)
    materialiser._apply([tombstone], MaterialiseProgress())
    assert [("jamf_pro/jamf_lab", "computers/12")] == _stored(materialiser)


def test_tombstone_matches_the_instance_exactly(materialiser: Materialiser):
    """An instance whose name ends like another's, or differs in case, is not matched."""
    materialiser._apply([_created(0, "lab"), _created(1, "oldlab")], MaterialiseProgress())
    materialiser._apply(
        [
            _record(2, "lillevik:LAB:device:computers/12", None),
            _record(3, "lillevik:ab:device:computers/12", None),
        ],
        MaterialiseProgress(),
    )
    assert 2 == len(_stored(materialiser))
    materialiser._apply(
        [_record(4, "lillevik:lab:device:computers/12", None)], MaterialiseProgress()
    )
    assert [("jamf_pro/oldlab", "computers/12")] == _stored(materialiser)


def test_delete_event_deletes_only_in_its_own_instance(materialiser: Materialiser):
    """A `d` event removes its own instance's row and no other."""
    materialiser._apply([_created(0, "jamf"), _created(1, "jamf_lab")], MaterialiseProgress())
    deleted = {"op": "d", "before": _device("jamf_lab"), "after": None, "changed": []}
    progress = MaterialiseProgress()
    materialiser._apply([_record(2, "lillevik:jamf_lab:device:computers/12", deleted)], progress)
    assert 1 == progress.deletes
    assert [("jamf_pro/jamf", "computers/12")] == _stored(materialiser)


def test_record_key_colons_stay_in_the_entity_key(materialiser: Materialiser):
    """An entity key holding colons is deleted by its tombstone: the key is what follows."""
    body = _device("jamf", key="urn:jamf:12")
    created = {"op": "c", "before": None, "after": body, "changed": []}
    materialiser._apply(
        [_record(0, "lillevik:jamf:device:urn:jamf:12", created)], MaterialiseProgress()
    )
    materialiser._apply(
        [_record(1, "lillevik:jamf:device:urn:jamf:12", None)], MaterialiseProgress()
    )
    assert [] == _stored(materialiser)


def test_record_with_an_unreadable_key_is_skipped(materialiser: Materialiser):
    """A tombstone whose key lacks the instance part is skipped and counted, not applied."""
    materialiser._apply([_created(0, "jamf")], MaterialiseProgress())
    progress = MaterialiseProgress()
    materialiser._apply([_record(1, "lillevik:device:computers/12", None)], progress)
    assert 1 == progress.skipped
    assert [("jamf_pro/jamf", "computers/12")] == _stored(materialiser)


class _Jamf:
    """What `out_records` needs of a source: its reference and entity types."""

    ref = SourceRef(system="jamf_pro", instance="jamf")
    entity_types = (Device,)


def _produced(row: Staged, first_offset: int) -> list[ConsumerRecord]:
    """The sync runner's Kafka records of a staged row, as the materialiser polls them."""
    records = out_records([row], prefix="hub", tenant="lillevik", run_id="r", source=_Jamf())  # type: ignore[arg-type]
    return [
        _polled(r.topic, first_offset + n, r.key, r.value, r.headers) for n, r in enumerate(records)
    ]


def test_the_producers_records_materialise_and_its_delete_and_tombstone_remove_them(
    materialiser: Materialiser,
):
    """A create, then a delete and its tombstone, as the sync runner writes them, round-trip."""
    device = Device(tenant="lillevik", source=_Jamf.ref, key="computers/12", kind=DeviceKind.LAPTOP)
    created = stage_change(device, None, 0)
    assert created is not None
    progress = MaterialiseProgress()
    materialiser._apply(_produced(created, 0), progress)
    assert (1, 0) == (progress.upserts, progress.skipped)
    ((_, _, source, key, payload, _),) = materialised_rows(materialiser.engine)
    assert ("jamf_pro/jamf", "computers/12") == (source, key)
    assert device == Device.model_validate_json(payload)

    deleted = Staged(
        1, "device", device.key, "d", created.fingerprint, None, created.after, (), None, 2
    )
    records = _produced(deleted, 1)
    assert [False, True] == [r.value is None for r in records]  # the delete, then its tombstone
    progress = MaterialiseProgress()
    materialiser._apply(records, progress)
    assert (1, 0) == (progress.deletes, progress.skipped)
    assert [] == _stored(materialiser)
