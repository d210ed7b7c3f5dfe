from pathlib import Path

from hub.dev.kafka_local_cluster import ClusterLayout, LocalKafkaCluster
from tests.unit.dev.test_kafka_local import parse_properties


def test_layout_gives_every_node_distinct_loopback_ports() -> None:
    """A new layout names three nodes with six distinct ports and one voter set."""
    layout = ClusterLayout.choose()

    ports = [p for n in layout.nodes for p in (n.broker_port, n.controller_port)]
    assert 6 == len(set(ports))
    assert [1, 2, 3] == [n.node_id for n in layout.nodes]
    assert 3 == len(layout.bootstrap.split(","))
    assert layout == ClusterLayout.from_json(layout.to_json())


def test_layout_is_kept_across_cluster_objects(tmp_path: Path) -> None:
    """A second view of the same home finds the ports and cluster id the first chose."""
    first = LocalKafkaCluster(tmp_path, tmp_path / "cache")

    assert first.layout == LocalKafkaCluster(tmp_path, tmp_path / "cache").layout


def test_node_properties_form_a_replicated_three_voter_cluster(tmp_path: Path) -> None:
    """Each node has its own id and ports, the shared voters, 3 replicas and min ISR 2."""
    cluster = LocalKafkaCluster(tmp_path, tmp_path / "cache")
    node = cluster.node(2)
    node._prepare(None)

    settings = parse_properties(node.properties_file.read_text())
    layout = cluster.layout
    assert {
        "node.id": "2",
        "process.roles": "broker,controller",
        "controller.quorum.voters": layout.voters,
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{layout.nodes[1].broker_port}",
        "default.replication.factor": "3",
        "min.insync.replicas": "2",
        "offsets.topic.replication.factor": "3",
        "transaction.state.log.replication.factor": "3",
        "transaction.state.log.min.isr": "2",
    }.items() <= settings.items()
    assert "-Xmx384m" in node.heap_options
    assert layout.cluster_id == node.read_state().cluster_id
