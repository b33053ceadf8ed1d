"""Read-only questions the compiler and the run recorder ask of a validated graph.

Built once per graph version (the graph is immutable), so lookups are dictionary reads.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypeVar

from coagent_workflow_engine.graphs.model import (
    BRANCHING_TYPES,
    AgentNode,
    AnyNode,
    Edge,
    EndNode,
    RouterNode,
    StartNode,
    SubworkflowNode,
    WorkflowGraph,
)
from coagent_workflow_engine.graphs.topology import reachable

__all__ = ["AgentRef", "GraphIndex"]

N = TypeVar("N", bound=AnyNode)
AgentRef = tuple[str, int | None]
"""``(agent_id, pinned version or None for the latest)``."""


class GraphIndex:
    """Lookups over one :class:`WorkflowGraph` (which ``parse_graph`` has validated)."""

    def __init__(self, graph: WorkflowGraph) -> None:
        self.graph = graph
        self._nodes: dict[str, AnyNode] = {node.id: node for node in graph.nodes}
        self._out: dict[str, list[Edge]] = {node.id: [] for node in graph.nodes}
        self._in: dict[str, list[Edge]] = {node.id: [] for node in graph.nodes}
        for edge in graph.edges:
            self._out[edge.source].append(edge)
            self._in[edge.target].append(edge)

    def node(self, node_id: str) -> AnyNode:
        """The node with this id (``KeyError`` if none)."""
        return self._nodes[node_id]

    def nodes_of(self, cls: type[N]) -> list[N]:
        """Nodes of one class, in document order (e.g. ``nodes_of(AgentNode)``)."""
        return [node for node in self.graph.nodes if isinstance(node, cls)]

    @property
    def entry(self) -> StartNode:
        """The single start node (validation guarantees exactly one)."""
        return self.nodes_of(StartNode)[0]

    @property
    def ends(self) -> list[EndNode]:
        """Every end node."""
        return self.nodes_of(EndNode)

    def outgoing(self, node_id: str) -> list[Edge]:
        """Edges leaving ``node_id``, in document order."""
        return list(self._out[node_id])

    def incoming(self, node_id: str) -> list[Edge]:
        """Edges arriving at ``node_id``, in document order."""
        return list(self._in[node_id])

    def successors(self, node_id: str) -> list[str]:
        """Targets of the edges leaving ``node_id``."""
        return [edge.target for edge in self._out[node_id]]

    def predecessors(self, node_id: str) -> list[str]:
        """Sources of the edges arriving at ``node_id``."""
        return [edge.source for edge in self._in[node_id]]

    def branches(self, node_id: str) -> dict[str, str]:
        """``label → target`` of a router or condition node (every label is unique)."""
        node = self._nodes[node_id]
        if node.type not in BRANCHING_TYPES:
            raise ValueError(f"node {node_id!r} is a {node.type}, not a router or condition")
        return {edge.label: edge.target for edge in self._out[node_id] if edge.label is not None}

    def join_of(self, parallel_id: str) -> str | None:
        """The first join reached from a parallel node's branches (breadth first), if any."""
        adjacency = {nid: [e.target for e in edges] for nid, edges in self._out.items()}
        for node_id in reachable(self.successors(parallel_id), adjacency):
            if self._nodes[node_id].type == "join":
                return node_id
        return None

    def agent_refs(self) -> list[AgentRef]:
        """Every agent the graph may run (agent nodes and ``agent_choice`` routers), deduplicated,
        so a run can resolve and record the agent versions it uses up front."""
        refs: list[AgentRef] = []
        for node in self.graph.nodes:
            ref = _agent_ref(node)
            if ref is not None and ref not in refs:
                refs.append(ref)
        return refs

    def subworkflow_refs(self) -> list[tuple[str, int | None]]:
        """``(workflow_id, pinned version)`` of every subworkflow node, deduplicated."""
        refs = [(n.config.workflow_id, n.config.version) for n in self.nodes_of(SubworkflowNode)]
        return list(dict.fromkeys(refs))

    def __iter__(self) -> Iterator[AnyNode]:
        return iter(self.graph.nodes)


def _agent_ref(node: AnyNode) -> AgentRef | None:
    if isinstance(node, AgentNode):
        return (node.config.agent_id, node.config.agent_version)
    if isinstance(node, RouterNode) and node.config.evaluation == "agent_choice":
        assert node.config.agent_id is not None  # the config requires it for agent_choice
        return (node.config.agent_id, None)
    return None
