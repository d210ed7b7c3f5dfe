"""A local three-node Apache Kafka cluster for the fault suite (development only).

Three combined broker and controller nodes in KRaft mode form one cluster on loopback
ports: a static voter set of all three, every node's storage formatted with the same
cluster id, three replicas for the default, offsets and transaction topics, and
`min.insync.replicas=2`, as the production cluster in docker/ has. A test SIGKILLs one
node (`kill`) as a lost machine would, and starts it again (`restart`) on its old ports
and data, while the other two keep the cluster available.

Each node is a `LocalKafka` home of its own (`<home>/node-<id>`) with a smaller heap, so
three JVMs fit beside the rest of the suite. The jars come from the same Maven cache.

    cluster.json        cluster id and every node's ports (chosen once, kept on restart)
    node-1/ node-2/ node-3/    one broker home each (see `hub.dev.kafka_local`)
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import structlog

from hub.dev._services import file_lock, free_port, port_free, wait_for_exit
from hub.dev.kafka_local import (
    KafkaLocalError,
    KafkaStartError,
    KafkaState,
    KafkaStopError,
    LocalKafka,
    new_cluster_id,
    render_log4j2_properties,
    render_server_properties,
)

log = structlog.get_logger(__name__)

_HOST = "127.0.0.1"
_NODE_COUNT = 3
_POLL_INTERVAL_S = 0.2
_KILL_WAIT_S = 10.0
#: Failure detection in seconds, not the production defaults' tens of seconds: a killed
#: node is fenced, and leaves the in-sync replicas, about 3 s after its last heartbeat.
_FAST_FAILOVER = {
    "broker.heartbeat.interval.ms": "500",
    "broker.session.timeout.ms": "3000",
    "replica.lag.time.max.ms": "5000",
    "controller.quorum.fetch.timeout.ms": "2000",
    "controller.quorum.election.timeout.ms": "1000",
    "unclean.leader.election.enable": "false",
}


@dataclass(frozen=True)
class NodeLayout:
    """One node's id and loopback ports."""

    node_id: int
    broker_port: int
    controller_port: int


@dataclass(frozen=True)
class ClusterLayout:
    """The cluster id and every node's ports, chosen once and kept across restarts."""

    cluster_id: str
    nodes: tuple[NodeLayout, ...]

    @property
    def voters(self) -> str:
        """`controller.quorum.voters`: the static voter set, the same on every node."""
        return ",".join(f"{n.node_id}@{_HOST}:{n.controller_port}" for n in self.nodes)

    @property
    def bootstrap(self) -> str:
        """Every broker's address, as clients bootstrap from a cluster."""
        return ",".join(f"{_HOST}:{n.broker_port}" for n in self.nodes)

    def to_json(self) -> str:
        """Serialise as `cluster.json`."""
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> ClusterLayout:
        """Parse `cluster.json`."""
        raw = json.loads(text)
        nodes = tuple(
            NodeLayout(int(n["node_id"]), int(n["broker_port"]), int(n["controller_port"]))
            for n in raw["nodes"]
        )
        return cls(cluster_id=str(raw["cluster_id"]), nodes=nodes)

    @classmethod
    def choose(cls, count: int = _NODE_COUNT) -> ClusterLayout:
        """A new cluster id and two free loopback ports per node, all distinct."""
        taken: set[int] = set()
        nodes = []
        for node_id in range(1, count + 1):
            broker = free_port(_HOST, exclude=taken)
            taken.add(broker)
            controller = free_port(_HOST, exclude=taken)
            taken.add(controller)
            nodes.append(NodeLayout(node_id, broker, controller))
        return cls(cluster_id=new_cluster_id(), nodes=tuple(nodes))


class ClusterNode(LocalKafka):
    """One combined broker and controller of a `LocalKafkaCluster`."""

    heap_options = ("-Xms128m", "-Xmx384m")

    def __init__(self, home: Path, cache_dir: Path, layout: ClusterLayout, node_id: int) -> None:
        super().__init__(home, cache_dir)
        self.layout = layout
        self.node = next(n for n in layout.nodes if n.node_id == node_id)

    @property
    def node_id(self) -> int:
        """The node's KRaft id (1, 2 or 3)."""
        return self.node.node_id

    @property
    def pid(self) -> int | None:
        """The pid of the running node, or None."""
        status = self.status()
        return status["pid"] if status else None

    def spawn(self) -> int:
        """Format the node's storage once and start its JVM; do not wait for it to answer.

        A node alone cannot elect a controller, so the cluster starts all nodes first and
        waits for them after.
        """
        self.home.mkdir(parents=True, exist_ok=True)
        with file_lock(self.home / ".lock", 60, KafkaLocalError):
            state = self.read_state()
            if state is not None and state.pid is not None and self._is_broker_process(state.pid):
                return state.pid
            _, pid = self._launch(state)
        return pid

    def wait_ready(self, deadline: float) -> None:
        """Poll until this node answers and the cluster's metadata lists a broker."""
        state = self.read_state()
        if state is None or state.pid is None:
            raise KafkaStartError(f"node {self.node_id} was never started", self.log_file)
        self._wait_until_ready(state.pid, state, deadline)

    def kill(self) -> int:
        """SIGKILL the node, as a lost machine; return the pid that was killed."""
        state = self.read_state()
        if state is None or state.pid is None or not self._is_broker_process(state.pid):
            raise KafkaStopError(f"node {self.node_id} is not running")
        os.kill(state.pid, signal.SIGKILL)
        if not wait_for_exit(state.pid, time.monotonic() + _KILL_WAIT_S):
            raise KafkaStopError(f"node {self.node_id} (pid {state.pid}) survived SIGKILL")
        self._write_state(replace(state, pid=None))
        log.info("kafka_node_killed", node_id=self.node_id, pid=state.pid)
        return state.pid

    def _prepare(self, state: KafkaState | None) -> KafkaState:
        """Write the node's config for the cluster's fixed ports and voter set."""
        node = self.node
        for port in (node.broker_port, node.controller_port):
            if not port_free(_HOST, port):
                raise KafkaStartError(f"node {node.node_id}: port {port} on {_HOST} is in use")
        state = KafkaState(
            cluster_id=self.layout.cluster_id,
            broker_port=node.broker_port,
            controller_port=node.controller_port,
        )
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.properties_file.write_text(
            render_server_properties(
                state,
                self.data_dir,
                node_id=node.node_id,
                voters=self.layout.voters,
                replicas=len(self.layout.nodes),
                extra=_FAST_FAILOVER,
            ),
            encoding="utf-8",
        )
        (self.home / "log4j2.properties").write_text(
            render_log4j2_properties(self.log_file), encoding="utf-8"
        )
        self._write_state(state)
        return state


class LocalKafkaCluster:
    """Three KRaft nodes (each broker and controller) on loopback ports, in `home`."""

    def __init__(self, home: Path, cache_dir: Path, size: int = _NODE_COUNT) -> None:
        self.home = home
        self.cache_dir = cache_dir
        self.size = size
        self._layout: ClusterLayout | None = None

    @property
    def layout(self) -> ClusterLayout:
        """The cluster's id and ports: read from `cluster.json`, chosen on first use."""
        if self._layout is None:
            path = self.home / "cluster.json"
            if path.is_file():
                self._layout = ClusterLayout.from_json(path.read_text(encoding="utf-8"))
            else:
                self.home.mkdir(parents=True, exist_ok=True)
                self._layout = ClusterLayout.choose(self.size)
                path.write_text(self._layout.to_json(), encoding="utf-8")
        return self._layout

    @property
    def bootstrap(self) -> str:
        """Every broker's address."""
        return self.layout.bootstrap

    @property
    def nodes(self) -> list[ClusterNode]:
        """The nodes, by id."""
        return [self.node(n.node_id) for n in self.layout.nodes]

    def node(self, node_id: int) -> ClusterNode:
        """One node of the cluster."""
        return ClusterNode(self.home / f"node-{node_id}", self.cache_dir, self.layout, node_id)

    def up(self, timeout: float = 120) -> str:
        """Start every node that is not running, wait until all brokers are registered."""
        deadline = time.monotonic() + timeout
        started = time.monotonic()
        nodes = self.nodes
        # Formatting a node's storage is a JVM start of its own: do the three side by side.
        with ThreadPoolExecutor(max_workers=len(nodes)) as pool:
            list(pool.map(ClusterNode.spawn, nodes))
        try:
            for node in nodes:
                node.wait_ready(deadline)
            self.wait_for_brokers(self.size, deadline)
        except KafkaStartError:
            self.down()
            raise
        log.info(
            "kafka_cluster_started",
            bootstrap=self.bootstrap,
            nodes=self.size,
            seconds=round(time.monotonic() - started, 1),
        )
        return self.bootstrap

    def kill(self, node_id: int) -> int:
        """SIGKILL one node; return its pid."""
        return self.node(node_id).kill()

    def restart(self, node_id: int, timeout: float = 90) -> None:
        """Start a killed node again on its ports and data; wait until it is registered."""
        deadline = time.monotonic() + timeout
        node = self.node(node_id)
        node.spawn()
        node.wait_ready(deadline)
        self.wait_for_brokers(self.size, deadline)

    def wait_for_brokers(self, count: int, deadline: float) -> None:
        """Poll until the cluster's metadata lists `count` live brokers, or raise at `deadline`."""
        while self.live_brokers() < count:
            if time.monotonic() >= deadline:
                raise KafkaStartError(
                    f"the cluster at {self.bootstrap} did not list {count} brokers in time"
                )
            time.sleep(_POLL_INTERVAL_S)

    def live_brokers(self) -> int:
        """How many brokers the cluster's metadata lists now (0 if none answers)."""
        from kafka import KafkaAdminClient  # deferred: only a running cluster needs it
        from kafka.errors import KafkaError

        try:
            admin = KafkaAdminClient(
                bootstrap_servers=self.bootstrap,
                client_id="hub-kafka-cluster",
                request_timeout_ms=5000,
            )
        except KafkaError:
            return 0
        try:
            return len(admin.describe_cluster()["brokers"])
        except KafkaError:
            return 0
        finally:
            admin.close()

    def down(self, timeout: float = 30) -> None:
        """Stop every node: SIGTERM to all at once, SIGKILL to any left after `timeout` s.

        All at once, because a node shutting down alone waits for a controller that the
        nodes stopped before it may have taken with them.
        """
        if not (self.home / "cluster.json").is_file():
            return
        running = [(node, node.pid) for node in self.nodes]
        for _, pid in running:
            if pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for node, pid in running:
            if pid is not None and not wait_for_exit(pid, deadline):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                wait_for_exit(pid, time.monotonic() + _KILL_WAIT_S)
            with contextlib.suppress(KafkaLocalError):
                node.down(timeout=1)
