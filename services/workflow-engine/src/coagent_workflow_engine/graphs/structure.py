"""Checks that involve the graph as a whole: entry and exits, branches, reachability, loops, joins.

They run on light views of the nodes and edges rather than on the typed model, so they still run
(and report) when some node's config is invalid: the user sees every problem in one answer.
Locations are canonical paths; ``validate`` maps them back to the submitted document.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from coagent_workflow_engine.graphs.errors import Loc, Problem, problem
from coagent_workflow_engine.graphs.model import BRANCHING_TYPES
from coagent_workflow_engine.graphs.topology import (
    is_cycle,
    reachable,
    reverse,
    strongly_connected,
)

__all__ = ["EdgeView", "NodeView", "structural_problems"]


@dataclass(frozen=True)
class NodeView:
    """What the structural checks need of a node. ``type`` is ``None`` for unknown types, which
    are then treated as plain pass-through nodes so one typo does not cascade into more problems.
    ``branches`` is ``None`` when they are unknown (an invalid router config)."""

    index: int
    id: str
    type: str | None
    branches: tuple[str, ...] | None = None
    branch_locs: tuple[Loc, ...] = ()


@dataclass(frozen=True)
class EdgeView:
    index: int
    source: str
    target: str
    label: str | None


def structural_problems(nodes: Sequence[NodeView], edges: Sequence[EdgeView]) -> list[Problem]:
    """Every structural problem; ``nodes`` must have unique ids, ``edges`` may dangle."""
    by_id = {node.id: node for node in nodes}
    found: list[Problem] = []
    _terminals(nodes, found)
    outgoing: dict[str, list[EdgeView]] = {node.id: [] for node in nodes}
    for edge in edges:
        if edge.source in by_id:
            outgoing[edge.source].append(edge)
    for node in nodes:
        if node.type in BRANCHING_TYPES:
            _branches(node, outgoing[node.id], found)
        elif node.type is not None:
            _plain_exits(node, outgoing[node.id], set(by_id), found)
    adjacency: dict[str, list[str]] = {node.id: [] for node in nodes}
    for edge in edges:
        if edge.source in by_id and edge.target in by_id:
            adjacency[edge.source].append(edge.target)
    _reachability(nodes, adjacency, found)
    _joins(nodes, by_id, adjacency, found)
    _cycles(nodes, by_id, adjacency, found)
    return found


def _terminals(nodes: Sequence[NodeView], found: list[Problem]) -> None:
    starts = [node for node in nodes if node.type == "start"]
    if not starts:
        found.append(problem(("nodes",), "the graph has no start node", "missing_start"))
    for extra in starts[1:]:
        msg = f"node {extra.id!r} is a second start node (first: {starts[0].id!r})"
        found.append(problem(("nodes", extra.index, "type"), msg, "multiple_starts"))
    if not any(node.type == "end" for node in nodes):
        found.append(problem(("nodes",), "the graph has no end node", "missing_end"))


def _branches(node: NodeView, edges: list[EdgeView], found: list[Problem]) -> None:
    """Each edge leaving a router/condition carries one distinct, declared label, and each
    declared branch has an edge: the reference silently lost branches on all of these."""
    kind = node.type
    labels: set[str] = set()
    for edge in edges:
        loc: Loc = ("edges", edge.index, "label")
        if edge.label is None:
            msg = f"edge {edge.index} leaves {kind} {node.id!r} without a branch label"
            found.append(problem(loc, msg, "router_branch_unlabelled"))
        elif edge.label in labels:
            msg = f"branch {edge.label!r} of {kind} {node.id!r} has more than one edge"
            found.append(problem(loc, msg, "router_duplicate_label"))
        elif node.branches is not None and edge.label not in node.branches:
            declared = ", ".join(node.branches)
            msg = f"{kind} {node.id!r} has no branch {edge.label!r} (declared: {declared})"
            found.append(problem(loc, msg, "router_missing_branch"))
        if edge.label is not None:
            labels.add(edge.label)
    for branch, loc in zip(node.branches or (), node.branch_locs, strict=False):
        if branch not in labels:
            msg = f"branch {branch!r} of {kind} {node.id!r} has no edge"
            found.append(problem(loc, msg, "router_missing_branch"))


def _plain_exits(
    node: NodeView, edges: list[EdgeView], node_ids: set[str], found: list[Problem]
) -> None:
    """Ends do not continue, other nodes continue to exactly one node (fan-out is explicit).
    Dangling edges count as exits here: they are already reported and must not cascade."""
    targets = [edge.target for edge in edges if edge.target in node_ids]
    if node.type == "end":
        for edge in edges:
            msg = f"end node {node.id!r} has an outgoing edge to {edge.target!r}"
            found.append(problem(("edges", edge.index), msg, "end_has_outgoing_edge"))
    elif not edges:
        msg = f"node {node.id!r} has no outgoing edge and is not an end node"
        found.append(problem(("nodes", node.index), msg, "dead_end"))
    elif len(targets) > 1 and node.type != "parallel":
        # The reference ran these in one superstep and crashed; parallelism must be explicit.
        listed = ", ".join(repr(target) for target in targets)
        msg = f"node {node.id!r} has several successors ({listed}); use a parallel node"
        found.append(problem(("nodes", node.index), msg, "implicit_fanout"))


def _reachability(
    nodes: Sequence[NodeView], adjacency: dict[str, list[str]], found: list[Problem]
) -> None:
    starts = [node.id for node in nodes if node.type == "start"]
    if not starts:
        return  # missing_start says it all
    seen = set(reachable(starts, adjacency))
    for node in nodes:
        if node.id not in seen:
            msg = f"node {node.id!r} cannot be reached from the start node"
            found.append(problem(("nodes", node.index), msg, "unreachable_node"))


def _joins(
    nodes: Sequence[NodeView],
    by_id: dict[str, NodeView],
    adjacency: dict[str, list[str]],
    found: list[Problem],
) -> None:
    backwards = reverse(adjacency)
    for node in nodes:
        if node.type != "join":
            continue
        ancestors = reachable(backwards.get(node.id, []), backwards)
        if not any(by_id[a].type == "parallel" for a in ancestors):
            msg = f"join {node.id!r} has no parallel node upstream: there is nothing to wait for"
            found.append(problem(("nodes", node.index, "type"), msg, "join_without_fanout"))


def _cycles(
    nodes: Sequence[NodeView],
    by_id: dict[str, NodeView],
    adjacency: dict[str, list[str]],
    found: list[Problem],
) -> None:
    for component in strongly_connected([node.id for node in nodes], adjacency):
        if not is_cycle(component, adjacency):
            continue
        members = set(component)
        if any(
            by_id[source].type in BRANCHING_TYPES and target not in members
            for source in component
            for target in adjacency[source]
        ):
            continue
        first = min((by_id[member] for member in component), key=lambda n: n.index)
        path = " → ".join(repr(member) for member in component)
        msg = (
            f"nodes {path} form a cycle that no router or condition edge leaves; "
            "it would only stop at the step budget"
        )
        found.append(problem(("nodes", first.index), msg, "cycle_without_exit"))
