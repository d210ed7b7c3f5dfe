"""An independent convergence check: what the topics say against what the source holds.

Nothing here uses the hub code under test for the fold. The topics are read from the
beginning with a plain kafka-python consumer (`tests.support.consume_all`) and folded by
hand: the latest value per record key, a null value (tombstone) removing the key. The
source's content is read from the LDAP directory itself (ldap3, as the admin) and turned
into the entity keys the Feide mapping documents (README: the Feide LDAP connector):
organisations by `NO<org number>`, people by eppn, groups `<org>:<type>:<id>` and
memberships `<group key>|<eppn>` from the group entitlements. Topic names and record keys
are not parsed for meaning, so `*.v1` or `*.v2` and either record-key layout fold alike.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kafka import KafkaAdminClient

from tests.support import Record, consume_all

GROUP_URN = "urn:mace:feide.no:go:group:"
#: Person fields compared with the directory's attributes, beside the keys.
PERSON_FIELDS = {"given_name": "givenName", "family_name": "sn", "email": "mail"}

#: entity name → entity key → the fields compared (empty for all but people).
Content = dict[str, dict[str, dict[str, Any]]]


def entity_topics(bootstrap: str, prefix: str) -> list[str]:
    """The entity topics of a topic prefix, whatever their version: not the DLQ or follow-up."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="fault-suite-check")
    try:
        names = admin.list_topics()
    finally:
        admin.close()
    return sorted(
        name
        for name in names
        if name.startswith(f"{prefix}.")
        and not name.startswith((f"{prefix}.dlq.", f"{prefix}.followup."))
    )


def read_events(bootstrap: str, prefix: str) -> list[Record]:
    """Every record on the prefix's entity topics, from the beginning, in partition order."""
    return consume_all(bootstrap, entity_topics(bootstrap, prefix))


def entity_of(topic: str) -> str:
    """The entity a topic carries: `<prefix>.<domain>.<entity>.v<N>`."""
    return topic.split(".")[-2]


def value_of(record: Record) -> dict[str, Any]:
    """A change event's JSON value."""
    assert record.value is not None
    return dict(json.loads(record.value))


def subject_key(record: Record) -> str:
    """The entity key a change event is about (its `after`, or `before` for a delete)."""
    value = value_of(record)
    body = value["after"] if value["op"] != "d" else value["before"]
    return str(body["key"])


def fold(records: Iterable[Record]) -> Content:
    """Latest value per (topic, record key); a tombstone removes the key, so does a `d`.

    A `d` is always followed by its tombstone; should a crash leave a `d` as the latest
    value, the entity is still deleted, so the fold leaves it out as well.
    """
    latest: dict[tuple[str, str], Record] = {}
    for record in records:
        if record.value is None:
            latest.pop((record.topic, record.key), None)
        else:
            latest[(record.topic, record.key)] = record
    content: Content = defaultdict(dict)
    for record in latest.values():
        value = value_of(record)
        if value["op"] == "d":
            continue
        after, entity = value["after"], entity_of(record.topic)
        fields = {f: after.get(f) for f in PERSON_FIELDS} if entity == "person" else {}
        content[entity][str(after["key"])] = fields
    return dict(content)


def _first(attributes: dict[str, Any], name: str) -> str | None:
    values = attributes.get(name) or []
    if isinstance(values, str):
        return values
    return str(values[0]) if values else None


def directory_content(conn: Any, base_dn: str) -> Content:
    """The entities a Feide directory holds under `base_dn`, read with an ldap3 connection."""
    content: Content = defaultdict(dict)
    conn.search(base_dn, "(objectClass=norEduOrg)", attributes=["norEduOrgNIN"])
    for entry in conn.response:
        content["organisation"][str(_first(entry["attributes"], "norEduOrgNIN"))] = {}
    unit_key = "norEduOrgUnitUniqueIdentifier"
    conn.search(base_dn, "(objectClass=norEduOrgUnit)", attributes=[unit_key])
    for entry in conn.response:
        content["organisation"][str(_first(entry["attributes"], unit_key))] = {}
    people = conn.extend.standard.paged_search(
        base_dn,
        "(objectClass=eduPerson)",
        attributes=["eduPersonPrincipalName", "eduPersonEntitlement", *PERSON_FIELDS.values()],
        paged_size=500,
        generator=True,
    )
    for entry in people:
        if entry.get("type") != "searchResEntry":
            continue
        attributes = entry["attributes"]
        eppn = str(_first(attributes, "eduPersonPrincipalName"))
        content["person"][eppn] = {f: _first(attributes, a) for f, a in PERSON_FIELDS.items()}
        for value in attributes.get("eduPersonEntitlement") or []:
            if not value.startswith(GROUP_URN):
                continue
            kind, _grep, org, local_id = value[len(GROUP_URN) :].split(":")[:4]
            group = f"{org}:{kind}:{local_id}"
            content["group"][group] = {}
            content["membership"][f"{group}|{eppn}"] = {}
    return dict(content)


@dataclass
class Verdict:
    """What the independent checks found; empty lists mean converged."""

    missing: list[tuple[str, str]] = field(default_factory=list)
    extra: list[tuple[str, str]] = field(default_factory=list)
    different: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = field(default_factory=list)

    @property
    def converged(self) -> bool:
        """Whether the fold equals the source."""
        return not (self.missing or self.extra or self.different)

    def __str__(self) -> str:
        return (
            f"missing from the topics ({len(self.missing)}): {self.missing[:5]}; "
            f"on the topics but not in the source ({len(self.extra)}): {self.extra[:5]}; "
            f"different ({len(self.different)}): {self.different[:3]}"
        )


def compare(folded: Content, source: Content) -> Verdict:
    """Compare a fold with the source, entity by entity and key by key."""
    verdict = Verdict()
    for entity in sorted(set(folded) | set(source)):
        on_topic, in_source = folded.get(entity, {}), source.get(entity, {})
        verdict.missing += [(entity, k) for k in sorted(set(in_source) - set(on_topic))]
        verdict.extra += [(entity, k) for k in sorted(set(on_topic) - set(in_source))]
        verdict.different += [
            (entity, k, on_topic[k], in_source[k])
            for k in sorted(set(on_topic) & set(in_source))
            if on_topic[k] != in_source[k]
        ]
    return verdict


def unrecognisable_duplicates(records: Iterable[Record]) -> list[tuple[str, str]]:
    """Republished events whose `ce_id` differs from their twin's, and ids used for two changes.

    A republish is the same value on the same record key with no other change between; a
    consumer can only drop it if it carries the same `ce_id`. An id may repeat only in such
    a run of twins: seen again after another change of the key (create, delete, create
    again; or A, B, A), or on another key or value, it names two changes.
    """
    problems: list[tuple[str, str]] = []
    previous: dict[tuple[str, str], Record] = {}
    ids_of_key: dict[tuple[str, str], set[bytes]] = defaultdict(set)
    first_of_id: dict[bytes, Record] = {}
    for record in records:
        if record.value is None:  # a tombstone belongs to the `d` before it
            continue
        where = (record.topic, record.key)
        twin, ce_id = previous.get(where), record.headers.get("ce_id", b"")
        if twin is not None and twin.value == record.value:
            if twin.headers.get("ce_id", b"") != ce_id:
                problems.append(("republished with another ce_id", record.key))
        elif ce_id in ids_of_key[where]:
            problems.append((f"ce_id {ce_id.decode()} used again for a later change", record.key))
        first = first_of_id.setdefault(ce_id, record)
        if (first.topic, first.key, first.value) != (record.topic, record.key, record.value):
            problems.append((f"ce_id {ce_id.decode()} names two changes", record.key))
        ids_of_key[where].add(ce_id)
        previous[where] = record
    return problems


def invented_deletes(records: Iterable[Record], source: Content) -> list[tuple[str, str]]:
    """`d` events published for entities the source still holds."""
    return [
        (entity_of(r.topic), subject_key(r))
        for r in records
        if r.value is not None
        and value_of(r)["op"] == "d"
        and subject_key(r) in source.get(entity_of(r.topic), {})
    ]
