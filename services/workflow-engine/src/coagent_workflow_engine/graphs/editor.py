"""Render a canonical graph in the shape the reference web editor reads back.

The editor (seed-runtime §1.2.2) loads ``graph_data.nodes[{id,type,position,config}]`` with
``data = config`` and ``graph_data.edges[{id,source,target,type,condition?}]``. It reads the
agent from ``config.agentId``, the label from ``config.label``, and its Properties panel reads
``output_behavior`` and the router ``condition`` from the *nested* ``config.config``; so that is
where they are written here, and ``normalise`` reads them back from there. Everything the
canonical document kept in ``ui`` is put back where it came from. ``schema_version`` is left out
on purpose: the editor saves what it loaded, and its saves must stay in the editor shape.
"""

from __future__ import annotations

from typing import Any

from coagent_workflow_engine.graphs.model import (
    FIXED_OUTCOMES,
    AnyNode,
    Edge,
    Position,
    RunLimits,
    WorkflowGraph,
)

__all__ = ["default_position", "to_editor"]

#: Canonical config field → name under the editor's nested ``config`` (its Properties panel).
_PANEL_FIELDS: dict[str, dict[str, str]] = {
    "agent": {"output_behavior": "output_behavior"},
    "router": {"evaluation": "condition"},
}


def to_editor(graph: WorkflowGraph) -> dict[str, Any]:
    """The editor-shaped ``graph_data`` of ``graph``; normalising it gives ``graph`` back."""
    doc: dict[str, Any] = dict(graph.ui)
    doc["nodes"] = [_node(i, node) for i, node in enumerate(graph.nodes)]
    doc["edges"] = [_edge(edge) for edge in graph.edges]
    if graph.limits != RunLimits():
        doc["limits"] = graph.limits.model_dump(mode="json")
    return doc


def default_position(index: int) -> Position:
    """A grid slot for nodes saved without a position, so the editor can draw them."""
    return Position(x=50 + 250 * (index % 4), y=80 + 150 * (index // 4))


def _node(index: int, node: AnyNode) -> dict[str, Any]:
    panel_names = _PANEL_FIELDS.get(node.type, {})
    fields = node.config.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
    ui = dict(node.ui)
    nested = ui.pop("config", None)
    panel: dict[str, Any] = dict(nested) if isinstance(nested, dict) else {}
    if node.type == "router" and fields.get("branches") == list(
        FIXED_OUTCOMES.get(node.config.evaluation, ())
    ):
        # Implied by the evaluation: left out so changing it in the editor's panel (which cannot
        # edit branches) re-derives them instead of leaving stale ones behind.
        fields.pop("branches")
    for canonical, editor_name in panel_names.items():
        fields.pop(canonical, None)
        panel[editor_name] = getattr(node.config, canonical)
    config: dict[str, Any] = {**ui, **fields}
    if node.label is not None:
        config["label"] = node.label
    agent_id = fields.get("agent_id")
    if node.type == "agent" and agent_id is not None:
        config["agentId"] = agent_id  # the editor selects the agent by this key
    if panel:
        config["config"] = panel
    elif nested is not None:
        config["config"] = nested
    position = node.position or default_position(index)
    return {
        "id": node.id,
        "type": node.type,
        "position": position.model_dump(mode="json"),
        "config": config,
    }


def _edge(edge: Edge) -> dict[str, Any]:
    out: dict[str, Any] = {
        **edge.ui,
        "id": edge.id,
        "source": edge.source,
        "target": edge.target,
        "type": edge.kind,
    }
    if edge.label is not None:
        out["condition"] = edge.label
    return out
