"""Kafka I/O: topic names, topic creation, and publishing batches known to be acknowledged."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from kafka import KafkaConsumer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import AuthorizationError, KafkaError, TopicAlreadyExistsError

from hub import kafka_security
from hub._faults import fault_point
from hub.kafka_security import KafkaAccessError, denied
from hub.settings import KafkaSecurity, KafkaSettings
from schemas.entities import Entity

log = structlog.get_logger(__name__)

DLQ_SUFFIX = "dlq.v1"
#: Topic settings. Entity topics are compacted so a new consumer can rebuild the latest
#: state; the dead-letter topic keeps every failure for 30 days instead, since compaction
#: would keep only the last failure of a record.
COMPACTED = {"cleanup.policy": "compact", "min.compaction.lag.ms": "60000"}
DEAD_LETTER_CONFIG = {"cleanup.policy": "delete", "retention.ms": str(30 * 24 * 3600 * 1000)}


class PublishError(Exception):
    """Kafka did not acknowledge every record of a batch; nothing of it was committed."""


def entity_topic(prefix: str, entity_type: type[Entity]) -> str:
    """The topic of an entity type: `<prefix>.<domain>.<entity>.v<major>`."""
    return f"{prefix}.{entity_type.versioned_suffix()}"


def dead_letter_topic(prefix: str) -> str:
    """The dead-letter topic, `<prefix>.dlq.v1`."""
    return f"{prefix}.{DLQ_SUFFIX}"


def ensure_topics(
    bootstrap: str,
    settings: KafkaSettings,
    entity_types: Iterable[type[Entity]],
) -> list[str]:
    """Create the topics of these entity types and the dead-letter topic if missing.

    With `create_topics` off (the operator provisions the topics) nothing is created: a
    missing topic raises `KafkaAccessError` naming it.
    """
    wanted = {entity_topic(settings.topic_prefix, t): COMPACTED for t in entity_types}
    wanted[dead_letter_topic(settings.topic_prefix)] = DEAD_LETTER_CONFIG
    security = settings.security
    admin = kafka_security.admin_client(
        bootstrap,
        security,
        client_id="skolehub-admin",
        bootstrap_timeout_ms=int(settings.connect_timeout_seconds * 1000),
    )
    try:
        existing = set(admin.list_topics())
        absent = kafka_security.missing_topics(wanted, existing)
        if absent and not settings.create_topics:
            raise KafkaAccessError(
                f"topics missing on Kafka at {bootstrap}: {', '.join(absent)} "
                "(kafka.create_topics is false, so the operator creates them; or the "
                f"{kafka_security.who(security)} lacks Describe on them)"
            )
        missing = [
            NewTopic(
                name,
                num_partitions=settings.partitions,
                replication_factor=settings.replication_factor,
                topic_configs=wanted[name],
            )
            for name in absent
        ]
        if missing:
            try:
                admin.create_topics(missing, timeout_ms=30_000)
            except TopicAlreadyExistsError:
                pass  # another process created them first
            except AuthorizationError as exc:
                names = ", ".join(absent)
                raise KafkaAccessError(denied(exc, security, f"{names} (Create)")) from None
            log.info("topics_created", topics=[t.name for t in missing])
        return [t.name for t in missing]
    finally:
        admin.close()


def existing_topics(bootstrap: str, security: KafkaSecurity) -> set[str]:
    """The names of the topics the cluster holds (that this client may describe)."""
    admin = kafka_security.admin_client(bootstrap, security, client_id="skolehub-admin")
    try:
        return set(admin.list_topics())
    finally:
        admin.close()


@dataclass(frozen=True)
class OutRecord:
    """One record to publish; `value` None is a tombstone."""

    topic: str
    key: str
    value: bytes | None
    headers: list[tuple[str, bytes]]


#: How the producer batches: up to 256 KiB per partition, waiting at most 10 ms for a
#: batch to fill. The hub hands the producer a whole batch of records at once, so batches
#: fill long before the linger ends; measured in docs/operations.md ("Producer settings").
LINGER_MS = 100
BATCH_BYTES = 1024 * 1024


def producer_tuning(settings: KafkaSettings) -> dict[str, Any]:
    """The producer options the hub publishes with, and bench/ compares a bare producer with.

    Durability is fixed: every record acknowledged by all in-sync replicas (`acks=all`) and
    an idempotent producer (no duplicates from its own retries, order kept with five
    requests in flight). Throughput: `LINGER_MS`, `BATCH_BYTES` and `settings.compression`.
    """
    options: dict[str, Any] = {
        "acks": "all",
        "enable_idempotence": True,
        "max_in_flight_requests_per_connection": 5,
        "linger_ms": LINGER_MS,
        "batch_size": BATCH_BYTES,
    }
    if settings.compression != "none":
        options["compression_type"] = settings.compression
    return options


class Publisher:
    """An idempotent producer (acks=all) whose `publish` returns only once all are acknowledged."""

    def __init__(
        self, bootstrap: str, settings: KafkaSettings, client_id: str = "skolehub"
    ) -> None:
        self.settings = settings
        self.bootstrap = bootstrap
        delivery_ms = int(settings.ack_timeout_seconds * 1000)
        self._producer = kafka_security.producer(
            bootstrap,
            settings.security,
            client_id=client_id,
            bootstrap_timeout_ms=int(settings.connect_timeout_seconds * 1000),
            **producer_tuning(settings),
            delivery_timeout_ms=delivery_ms,
            request_timeout_ms=max(1000, min(30_000, delivery_ms // 2)),
            max_block_ms=delivery_ms,
        )

    def end_offsets(self, topics: Sequence[str]) -> dict[tuple[str, int], int]:
        """Where each partition of `topics` ends now: (topic, partition) → next offset."""
        consumer = self._reader()
        try:
            partitions = [
                TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t) or ()
            ]
            ends = consumer.end_offsets(partitions) if partitions else {}
        except KafkaError as exc:
            raise PublishError(f"could not read the topics' end offsets: {exc}") from exc
        finally:
            consumer.close()
        return {(tp.topic, tp.partition): int(offset) for tp, offset in ends.items()}

    def event_ids_since(self, marks: dict[tuple[str, int], int]) -> set[str]:
        """The `ce_id`s of every event written after `marks`, read up to the current end."""
        consumer = self._reader()
        found: set[str] = set()
        try:
            partitions = [TopicPartition(t, p) for t, p in marks]
            consumer.assign(partitions)
            for tp in partitions:
                consumer.seek(tp, marks[(tp.topic, tp.partition)])
            end = consumer.end_offsets(partitions)
            deadline = time.monotonic() + self.settings.ack_timeout_seconds * 4
            while any(consumer.position(tp) < end[tp] for tp in partitions):
                if time.monotonic() > deadline:
                    raise PublishError("could not read back what an earlier run published")
                for batch in consumer.poll(timeout_ms=500).values():
                    for record in batch:
                        for name, value in record.headers or ():
                            if name == "ce_id":
                                found.add(value.decode("utf-8", "replace"))
        except KafkaError as exc:
            raise PublishError(f"could not read back what an earlier run published: {exc}") from exc
        finally:
            consumer.close()
        return found

    def _reader(self) -> KafkaConsumer:
        timeout_ms = int(self.settings.ack_timeout_seconds * 1000)
        try:
            return kafka_security.consumer(
                self.bootstrap,
                self.settings.security,
                client_id="skolehub-recovery",
                bootstrap_timeout_ms=int(self.settings.connect_timeout_seconds * 1000),
                enable_auto_commit=False,
                request_timeout_ms=max(timeout_ms, 31_000),
                **kafka_security.TOPIC_READER_FETCH,
            )
        except KafkaError as exc:
            raise PublishError(f"Kafka is not reachable: {type(exc).__name__}: {exc}") from exc

    def publish(self, records: Sequence[OutRecord]) -> None:
        """Send every record and wait for its acknowledgement; raise `PublishError` otherwise."""
        futures = []
        try:
            for record in records:
                futures.append(
                    self._producer.send(
                        record.topic,
                        key=record.key.encode("utf-8"),
                        value=record.value,
                        headers=record.headers,
                    )
                )
            fault_point("mid_publish")
            self._producer.flush(timeout=self.settings.ack_timeout_seconds)
        except KafkaError as exc:
            raise PublishError(
                f"Kafka refused the batch: {type(exc).__name__}: {exc}" + self._cause(exc)
            ) from exc
        failed = 0
        first: BaseException | None = None
        for future in futures:
            if not future.is_done:
                failed += 1
                continue
            if future.failed():
                failed += 1
                first = first or future.exception
        if failed:
            raise PublishError(
                f"{failed} of {len(records)} records were not acknowledged"
                + (f" ({type(first).__name__}: {first})" if first else " (timed out)")
                + self._cause(first)
            )

    def _cause(self, exc: BaseException | None) -> str:
        """`: <why>` when the failure is one of access (a missing ACL, refused credentials).

        On a secured cluster a timeout is looked into too: an untrusted certificate or
        refused credentials show up as one. A plaintext cluster's timeouts are outages.
        """
        security = self.settings.security
        if isinstance(exc, AuthorizationError | KafkaAccessError):
            why = kafka_security.cause(exc, self.bootstrap, security)
        elif security.protocol != "PLAINTEXT":
            why = kafka_security.cause(exc or TimeoutError(), self.bootstrap, security)
        else:
            why = None
        return f": {why}" if why else ""

    def close(self, timeout: float = 10.0) -> None:
        """Flush what is left and close the connections.

        With the broker gone, records of a batch that `publish` already reported as failed
        (its state never committed, so the next run sends it again) can still be waiting
        for an acknowledgement; they are dropped, so that a failed run ends with its
        summary rather than a traceback from the producer.
        """
        try:
            # What Kafka has not acknowledged within the acknowledgement timeout, it will not.
            self._producer.flush(timeout=min(timeout, self.settings.ack_timeout_seconds))
        except KafkaError as exc:
            log.warning("unacknowledged_records_dropped", error=f"{type(exc).__name__}: {exc}")
            # kafka-python has no public way to drop what it still buffers.
            self._producer._sender.force_close()
        self._producer.close(timeout=timeout)


def dumps(value: object) -> bytes:
    """Compact, key-sorted JSON as UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
