"""The typed LangGraph state of one workflow version, with a reducer on every key.

The reference used ``StateGraph(dict)``: a single last-value channel, so two parallel branches
crashed with ``InvalidUpdateError``. Here every key is its own channel with a reducer: messages
append, routes merge, counters add, join-configured keys use their declared reducer, and every
other key keeps the last write (so parallel writes never crash). The schema is built per graph
because output keys are declared by the graph's nodes.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Annotated, Any, TypedDict

from coagent_workflow_engine.graphs import WorkflowGraph
from coagent_workflow_engine.graphs.model import (
    ActionNode,
    AgentNode,
    EndNode,
    HttpNode,
    HumanInputNode,
    JoinNode,
    RouterNode,
    SubworkflowNode,
    ToolNode,
)

#: Keys every run has; graph-declared keys may not shadow them with another reducer.
BASE_KEYS = ("input", "messages", "current_proposal", "evaluation_result", "cycle_count", "routes")


def last(_: Any, new: Any) -> Any:
    """Keep the newest write (parallel writes in one step: the later branch wins)."""
    return new


def merge(old: dict[str, Any] | None, new: dict[str, Any] | None) -> dict[str, Any]:
    return {**(old or {}), **(new or {})}


def _append(old: list[Any] | None, new: Any) -> list[Any]:
    return [*(old or []), new]


def _extend(old: list[Any] | None, new: Any) -> list[Any]:
    return [*(old or []), *(new if isinstance(new, list) else [new])]


def _num(op: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def reduce(old: Any, new: Any) -> Any:
        return new if old is None else op(old, new)

    return reduce


#: ``JoinConfig.reducers`` names → (channel type, reducer).
REDUCERS: dict[str, tuple[type, Callable[[Any, Any], Any]]] = {
    "append": (list, _append),
    "extend": (list, _extend),
    "merge": (dict, merge),
    "sum": (float, operator.add),
    "max": (object, _num(max)),
    "min": (object, _num(min)),
    "last": (object, last),
}


def declared_keys(graph: WorkflowGraph) -> dict[str, str]:
    """``state key → reducer name`` for every key the graph's nodes read or write."""
    keys: dict[str, str] = {}
    for node in graph.nodes:
        for key in _keys_of(node):
            keys.setdefault(key, "last")
    for node in graph.nodes:
        if isinstance(node, JoinNode):
            keys.update(node.config.reducers)
    return {k: v for k, v in keys.items() if k not in BASE_KEYS}


def _keys_of(node: Any) -> list[str]:
    config = node.config
    if isinstance(node, AgentNode | ToolNode | HttpNode | SubworkflowNode):
        return [config.output_key] if config.output_key else []
    if isinstance(node, HumanInputNode):
        return [config.output_key]
    if isinstance(node, RouterNode):
        return [config.key]
    if isinstance(node, EndNode):
        return [config.result_key] if config.result_key else []
    if isinstance(node, ActionNode):
        return [config.from_key] if config.from_key else []
    return []


def state_schema(graph: WorkflowGraph) -> type:
    """A ``TypedDict`` for ``StateGraph`` with a reducer on every channel."""
    fields: dict[str, Any] = {
        "input": Annotated[dict, last],
        "messages": Annotated[list, operator.add],
        "current_proposal": Annotated[Any, last],
        "evaluation_result": Annotated[Any, last],
        "cycle_count": Annotated[int, operator.add],
        "routes": Annotated[dict, merge],
    }
    for key, name in declared_keys(graph).items():
        typ, reducer = REDUCERS[name]
        fields[key] = Annotated[typ if typ is not object else Any, reducer]
    schema: type = TypedDict("RunState", fields, total=False)  # type: ignore[misc]
    return schema
