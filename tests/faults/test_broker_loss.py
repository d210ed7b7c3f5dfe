"""Scenarios a and b: a broker SIGKILLed while `hub sync` publishes."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from kafka import KafkaAdminClient

from hub.dev.kafka_local import LocalKafka
from hub.dev.kafka_local_cluster import LocalKafkaCluster
from tests.faults.conftest import EXIT_FAILED, EXIT_OK, FaultHub, Finished
from tests.faults.convergence import (
    compare,
    entity_topics,
    fold,
    invented_deletes,
    unrecognisable_duplicates,
)
from tests.fixtures.slapd import LoadedTenant

pytestmark = [pytest.mark.faults, pytest.mark.integration]

#: Records that must be on the topics before a broker is killed: the run is mid-publish.
PUBLISHED_BEFORE_KILL = 60


def assert_converged(hub: FaultHub) -> None:
    """The topics fold to the directory, republished events keep their ids, no invented delete."""
    events = hub.events()
    source = hub.source_content()
    verdict = compare(fold(events), source)
    assert verdict.converged, str(verdict)
    assert [] == unrecognisable_duplicates(events)
    assert [] == invented_deletes(events, source)


def assert_failed_cleanly(run: Finished) -> None:
    """Exit 1 with the run's status and reason in the summary, not a traceback."""
    assert EXIT_FAILED == run.returncode, str(run)
    summary = run.summary()
    assert summary is not None, str(run)
    assert [("failed", True)] == [(s["status"], bool(s["error"])) for s in summary["syncs"]]
    assert "Traceback" not in run.stderr, str(run)


def test_broker_killed_mid_publish_and_restarted_the_next_run_completes(
    fault_directory: LoadedTenant, private_kafka: LocalKafka, tmp_path: Path
) -> None:
    """The only broker SIGKILLed mid-publish: the run fails cleanly, the next one converges."""
    status = private_kafka.status()
    assert status is not None and status["pid"] is not None
    hub = FaultHub(
        fault_directory, status["bootstrap"], tmp_path, batch_size=5, ack_timeout_seconds=5
    )

    run = hub.start_sync()
    hub.wait_until_publishing(run, beyond=PUBLISHED_BEFORE_KILL)
    os.kill(status["pid"], signal.SIGKILL)
    assert_failed_cleanly(run.wait())
    private_kafka.up()
    rerun = hub.sync_after_lease_expiry()

    assert EXIT_OK == rerun.returncode, str(rerun)
    assert_converged(hub)


def test_one_of_three_brokers_killed_mid_publish_loses_nothing(
    fault_directory: LoadedTenant, kafka_cluster: LocalKafkaCluster, tmp_path: Path
) -> None:
    """One node of three SIGKILLed mid-publish: the run succeeds or fails cleanly; no loss."""
    # Topics have three replicas and `min.insync.replicas=2`, so acknowledged records
    # survive the node; after it is restarted, at most one more run makes the topics equal
    # the source.
    hub = FaultHub(
        fault_directory,
        kafka_cluster.bootstrap,
        tmp_path,
        batch_size=5,
        replication_factor=3,
        ack_timeout_seconds=30,
    )

    run = hub.start_sync()
    hub.wait_until_publishing(run, beyond=PUBLISHED_BEFORE_KILL)
    kafka_cluster.kill(2)
    assert run.running(), "the run had ended before the node was killed"
    first = run.wait()
    if first.returncode != EXIT_OK:
        assert_failed_cleanly(first)
    kafka_cluster.restart(2)
    if first.returncode != EXIT_OK:
        rerun = hub.sync_after_lease_expiry()
        assert EXIT_OK == rerun.returncode, str(rerun)

    admin = KafkaAdminClient(bootstrap_servers=kafka_cluster.bootstrap)
    try:
        described = admin.describe_topics(entity_topics(hub.bootstrap, hub.prefix))
    finally:
        admin.close()
    assert {3} == {len(p["replica_nodes"]) for t in described for p in t["partitions"]}
    assert_converged(hub)
