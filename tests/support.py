"""Helpers shared by the integration tests: hub settings for loaded tenants, reading topics."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from connectors.base import Item, Source
from connectors.errors import FatalError
from hub.kafka_io import Publisher, dead_letter_topic, ensure_topics, entity_topic
from hub.kafka_security import client_config
from hub.settings import HubSettings, KafkaSecurity, parse_settings
from hub.store import StateStore
from hub.sync import SyncReport, SyncRunner
from schemas import ENTITY_TYPES, Group, Person
from schemas.entities import Entity


class MemorySource(Source):
    """A source that yields whatever the test put in `items`."""

    name = "test.memory"
    system = "memory"
    entity_types = (Person, Group)

    def __init__(
        self,
        items: list[Item],
        *,
        fail_after: int | None = None,
        tenant: str = "t",
        source_id: str = "mem",
    ) -> None:
        super().__init__(tenant, source_id)
        self.items = items
        self.fail_after = fail_after

    def check(self) -> None:
        pass

    def read(self) -> Iterator[Item]:
        for number, item in enumerate(self.items):
            if self.fail_after is not None and number == self.fail_after:
                raise FatalError("source went away", connector=self.name)
            yield item


def unique_prefix() -> str:
    """A topic prefix of the test's own, so tests never read each other's events."""
    return f"t{uuid.uuid4().hex[:10]}"


def ldap_source(loaded: Any, source_id: str = "feide", **extra: Any) -> dict[str, Any]:
    """A hub.yaml source entry for a tenant loaded into the sandbox slapd."""
    return {
        "type": "feide_ldap",
        "id": source_id,
        "uri": loaded.server.uri,
        "base_dn": loaded.base_dn,
        "bind_dn": loaded.server.reader_dn,
        "secret": {"env": "TEST_LDAP_PASSWORD"},
        "page_size": 100,
        **extra,
    }


def settings_for(
    tenant: str,
    sources: list[dict[str, Any]],
    bootstrap: str,
    db_url: str,
    prefix: str,
    **tenant_extra: Any,
) -> HubSettings:
    """Hub settings with one tenant, the given sources, a topic prefix and a store."""
    return parse_settings(
        {
            "kafka": {
                "bootstrap": bootstrap,
                "topic_prefix": prefix,
                "partitions": 2,
                "batch_size": 500,
                "ack_timeout_seconds": 8,
            },
            "database_url": db_url,
            "tenants": [{"id": tenant, "name": tenant.title(), "sources": sources, **tenant_extra}],
        }
    )


@dataclass(frozen=True)
class Record:
    """A consumed record with its headers as a dict."""

    topic: str
    key: str
    value: bytes | None
    headers: dict[str, bytes]
    partition: int
    offset: int

    @property
    def position(self) -> tuple[str, int, int]:
        """Where the record sits: topic, partition, offset."""
        return (self.topic, self.partition, self.offset)


def consume_all(
    bootstrap: str,
    topics: list[str],
    timeout: float = 30.0,
    security: KafkaSecurity | None = None,
) -> list[Record]:
    """Every record currently on `topics`, read from the start to the end offsets."""
    consumer = KafkaConsumer(
        **client_config(
            bootstrap,
            security or KafkaSecurity(),
            enable_auto_commit=False,
            consumer_timeout_ms=1000,
        )
    )
    try:
        partitions = [
            TopicPartition(topic, p)
            for topic in topics
            for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        if not partitions:
            return []
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        end = consumer.end_offsets(partitions)
        records: list[Record] = []
        deadline = time.monotonic() + timeout
        while any(consumer.position(tp) < end[tp] for tp in partitions):
            if time.monotonic() > deadline:
                raise TimeoutError(f"could not read {topics} to their end in {timeout}s")
            for batch in consumer.poll(timeout_ms=500).values():
                for r in batch:
                    records.append(
                        Record(
                            r.topic,
                            r.key.decode() if r.key else "",
                            r.value,
                            {k: v for k, v in r.headers},
                            r.partition,
                            r.offset,
                        )
                    )
        return records
    finally:
        consumer.close()


class Hub:
    """One tenant's hub wired to the session's slapd and Kafka, with its own topics and store."""

    def __init__(self, loaded: Any, bootstrap: str, tmp_path: Path, **tenant: Any) -> None:
        self.loaded = loaded
        self.tenant = loaded.owner.tenant
        self.bootstrap = bootstrap
        self.settings: HubSettings = settings_for(
            self.tenant,
            [ldap_source(loaded)],
            bootstrap,
            f"sqlite:///{tmp_path / 'hub.db'}",
            unique_prefix(),
            **tenant,
        )
        ensure_topics(bootstrap, self.settings.kafka, ENTITY_TYPES)
        self.store = StateStore(self.settings.store_url)

    @property
    def topics(self) -> list[str]:
        prefix = self.settings.kafka.topic_prefix
        return [entity_topic(prefix, t) for t in ENTITY_TYPES] + [dead_letter_topic(prefix)]

    def sync(self, publisher: Publisher | None = None, **kwargs: Any) -> SyncReport:
        own = publisher is None
        publisher = publisher or Publisher(self.bootstrap, self.settings.kafka)
        try:
            return SyncRunner(self.settings, self.store, publisher).sync(
                self.tenant, "feide", **kwargs
            )
        finally:
            if own:
                publisher.close()

    def records(self) -> list[Record]:
        return consume_all(self.bootstrap, self.topics)

    def records_after(self, earlier: list[Record]) -> list[Record]:
        """Records published since `earlier` was read."""
        seen = {r.position for r in earlier}
        return [r for r in self.records() if r.position not in seen]

    def close(self) -> None:
        self.store.close()


class SandboxHub:
    """One tenant's hub wired to sandbox sources and Kafka, with its own topics and store.

    `sources(**overrides)` gives the tenant's hub.yaml source entries; `configure` rewrites
    the settings with overrides for them, as a changed hub.yaml would.
    """

    def __init__(
        self,
        tenant: str,
        bootstrap: str,
        tmp_path: Path,
        *,
        entity_types: Iterable[type[Entity]],
        sources: Callable[..., list[dict[str, Any]]],
        source_id: str | None = None,
        **tenant_fields: Any,
    ) -> None:
        self.tenant = tenant
        self.bootstrap = bootstrap
        self.prefix = unique_prefix()
        self.db_url = f"sqlite:///{tmp_path / 'hub.db'}"
        self.entity_types = sorted(set(entity_types), key=lambda t: t.entity)
        self.source_id = source_id
        self._sources = sources
        self._tenant_fields = tenant_fields
        self.settings = self.configure()
        ensure_topics(bootstrap, self.settings.kafka, self.entity_types)
        self.store = StateStore(self.settings.store_url)
        self.publisher = Publisher(bootstrap, self.settings.kafka)

    def configure(self, **source: Any) -> HubSettings:
        """(Re)write the hub settings; `source` overrides fields of the source entries."""
        self.settings = settings_for(
            self.tenant,
            self._sources(**source),
            self.bootstrap,
            self.db_url,
            self.prefix,
            **self._tenant_fields,
        )
        return self.settings

    @property
    def topics(self) -> list[str]:
        """The entity topics and the dead-letter topic of this hub."""
        entities = [entity_topic(self.prefix, t) for t in self.entity_types]
        return [*entities, dead_letter_topic(self.prefix)]

    def sync(self, source_id: str | None = None, **kwargs: Any) -> SyncReport:
        """One sync of a source (the default one unless named)."""
        source_id = source_id or self.source_id
        assert source_id is not None, "name the source to sync"
        runner = SyncRunner(self.settings, self.store, self.publisher)
        return runner.sync(self.tenant, source_id, **kwargs)

    def records(self) -> list[Record]:
        """Every record on this hub's topics."""
        return consume_all(self.bootstrap, self.topics)

    def close(self) -> None:
        """Close the publisher and the store."""
        self.publisher.close()
        self.store.close()
