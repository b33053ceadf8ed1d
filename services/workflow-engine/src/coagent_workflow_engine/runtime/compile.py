"""A workflow version → a LangGraph ``StateGraph`` bound to one run's context.

Edges: ``START`` → the start node; end nodes → ``END``; routers and conditions get conditional
edges over their labelled branches (the label is computed by the node and kept in
``state["routes"]``); a parallel node's edges all fire in one step; a join waits for *all* of its
plain predecessors (a LangGraph waiting edge), which is the wait-for-all the reference lacked.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any, cast

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from coagent_workflow_engine.graphs import GraphIndex
from coagent_workflow_engine.graphs.model import BRANCHING_TYPES
from coagent_workflow_engine.runtime.context import RunContext
from coagent_workflow_engine.runtime.nodes import wrap
from coagent_workflow_engine.runtime.state import state_schema


def _route(node_id: str) -> Any:
    def pick(state: dict[str, Any]) -> str:
        label: str = (state.get("routes") or {})[node_id]
        return label

    return pick


def compile_run(
    ctx: RunContext, checkpointer: BaseCheckpointSaver[Any] | None
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """The executable graph of ``ctx``'s workflow version (validated as runnable beforehand)."""
    index = GraphIndex(ctx.graph)
    builder: StateGraph[Any, Any, Any, Any] = StateGraph(state_schema(ctx.graph))
    for node in index:
        builder.add_node(node.id, wrap(ctx, node))  # type: ignore[call-overload]
    builder.add_edge(START, index.entry.id)
    joins: dict[str, list[str]] = {}
    for node in index:
        if node.type == "end":
            builder.add_edge(node.id, END)
        elif node.type in BRANCHING_TYPES:
            branches = cast(dict[Hashable, str], index.branches(node.id))
            builder.add_conditional_edges(node.id, _route(node.id), branches)
        else:
            for target in index.successors(node.id):
                if index.node(target).type == "join":
                    joins.setdefault(target, []).append(node.id)
                else:
                    builder.add_edge(node.id, target)
    for join, sources in joins.items():
        builder.add_edge(sources if len(sources) > 1 else sources[0], join)
    return builder.compile(checkpointer=checkpointer)
