from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from schemas import ChangeEvent, CloudEventHeaders, Membership, Op, Person, SourceRef
from schemas.envelope import (
    ChangeEventValue,
    RecordKey,
    decode_change,
    encode_change,
    event_id,
    record_key,
)
from schemas.export import rendered_schemas, stale_files, write

SOURCE = SourceRef(system="feide_ldap", instance="feide")


def person(**changes: object) -> Person:
    fields: dict[str, object] = {
        "tenant": "lillevik",
        "source": SOURCE,
        "key": "ola@lillevik.kommune.no",
    }
    fields.update(changes)
    return Person.model_validate(fields)


def test_entities_are_frozen_and_refuse_unknown_fields():
    """Entities cannot be changed after creation and refuse fields they do not define."""
    p = person()
    with pytest.raises(ValidationError):
        p.email = "x"  # type: ignore[misc]
    with pytest.raises(ValidationError, match="national_id"):
        person(national_id="01010112345")


def test_nin_hmac_must_be_a_hash():
    """The only national-identity field is a 64-hex HMAC; a raw number is refused."""
    with pytest.raises(ValidationError):
        person(nin_hmac="01010112345")


def test_headers_follow_cloudevents_binary_mode():
    """Headers carry the CloudEvents attributes with the documented source and type."""
    stamp = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    headers = dict(CloudEventHeaders.for_change(person(), Op.UPDATED, "f" * 64, stamp).to_kafka())
    assert b"1.0" == headers["ce_specversion"]
    assert b"/tenants/lillevik/feide_ldap/feide" == headers["ce_source"]
    assert b"no.skolehub.identity.person.updated" == headers["ce_type"]
    assert b"ola@lillevik.kommune.no" == headers["ce_subject"]
    assert b"2026-11-01T12:00:00Z" == headers["ce_time"]
    assert b"urn:skolehub:schema:identity.person.v2" == headers["ce_dataschema"]
    assert b"application/json" == headers["content-type"]


def test_event_id_is_deterministic_and_sensitive_to_each_part():
    """The same change gets the same id; any other source, key, op, print or version does not."""
    src = SourceRef(system="jamf", instance="jamf-a")
    base = event_id("t", src, "person", "k", Op.CREATED, "f1", 1)
    assert base == event_id("t", src, "person", "k", Op.CREATED, "f1", 1)
    others = {
        event_id("u", src, "person", "k", Op.CREATED, "f1", 1),
        event_id(
            "t", SourceRef(system="jamf", instance="jamf-b"), "person", "k", Op.CREATED, "f1", 1
        ),
        event_id("t", src, "group", "k", Op.CREATED, "f1", 1),
        event_id("t", src, "person", "j", Op.CREATED, "f1", 1),
        event_id("t", src, "person", "k", Op.UPDATED, "f1", 1),
        event_id("t", src, "person", "k", Op.CREATED, "f2", 1),
        event_id("t", src, "person", "k", Op.CREATED, "f1", 3),
    }
    assert base not in others
    assert 7 == len(others)


def test_record_key_names_the_source_instance_and_reads_back():
    """Entity record keys read `<tenant>:<instance>:<entity>:<key>`; the key may hold colons."""
    key = RecordKey("lillevik", "feide", Membership.entity, "urn:a:b|p")
    assert "lillevik:feide:membership:urn:a:b|p" == str(key)
    assert key == RecordKey.parse(str(key))
    with pytest.raises(ValueError, match="tenant:instance:entity:key"):
        RecordKey.parse("lillevik:membership:g|p")
    with pytest.raises(ValueError, match="no slash"):
        RecordKey.parse("lillevik:feide_ldap/feide:membership:g|p")


def test_follow_up_record_key_format():
    """Follow-up rows, whose source is the hub itself, keep `<tenant>:<record>:<key>`."""
    assert "lillevik:trend:k" == record_key("lillevik", "trend", "k")


def test_change_event_value_round_trips():
    """A change event serialises to the documented value shape and back."""
    event = ChangeEvent[Person](
        op=Op.UPDATED, before=person(), after=person(email="a@b.no"), changed=("email",)
    )
    data = event.model_dump(mode="json")
    assert {"op", "before", "after", "changed"} == set(data)
    assert "u" == data["op"]
    assert event == ChangeEvent[Person].model_validate(data)


def test_checked_in_json_schemas_are_current():
    """schemas/json matches what the models produce (run `make schemas` after a change)."""
    assert [] == stale_files()


def test_stale_schema_is_detected(tmp_path):
    """A changed or extra file in the schema folder is reported as stale."""
    write(tmp_path)
    assert [] == stale_files(tmp_path)
    name = next(iter(dict(rendered_schemas())))
    (tmp_path / name).write_text("{}")
    (tmp_path / "old.v0.json").write_text("{}")
    assert [name, "old.v0.json"] == stale_files(tmp_path)


def test_a_change_encoded_by_the_producer_decodes_on_the_consumer():
    """An update written with `encode_change` reads back with its op, entities and fields."""
    before, after = person(), person(email="ola@lillevik.no")
    value = encode_change(Op.UPDATED, before.model_dump_json(), after.model_dump_json(), ("email",))
    decoded = decode_change(value)
    assert (
        ChangeEventValue(
            op=Op.UPDATED,
            before=before.model_dump(mode="json"),
            after=after.model_dump(mode="json"),
            changed=("email",),
        )
        == decoded
    )
    assert after == Person.model_validate(decoded.entity)
    assert ChangeEvent[Person](op=Op.UPDATED, before=before, after=after, changed=("email",)) == (
        ChangeEvent[Person].model_validate_json(value)
    )


def test_a_delete_decodes_to_the_entity_before_it():
    """A delete carries no `after`; the entity it is about is its `before`."""
    gone = person()
    decoded = decode_change(encode_change(Op.DELETED, gone.model_dump_json(), None))
    assert (Op.DELETED, None, ()) == (decoded.op, decoded.after, decoded.changed)
    assert gone.model_dump(mode="json") == decoded.entity


def test_what_is_not_a_change_event_does_not_decode():
    """Not JSON, an unknown op, or a create without its entity is a ValueError, not a row."""
    with pytest.raises(ValueError):
        decode_change(b"not json")
    with pytest.raises(ValueError):
        decode_change(b'{"op":"x","before":null,"after":{},"changed":[]}')
    with pytest.raises(ValueError, match="after"):
        _ = decode_change(encode_change(Op.CREATED, None, None)).entity
