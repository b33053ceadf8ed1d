"""The one entry point: submitted document → canonical :class:`WorkflowGraph`, or every problem.

Validation deliberately does not stop at the first error: nodes, edges, limits and structure are
checked independently and all problems are returned, each located in the submitted document.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ValidationError

from coagent_workflow_engine.graphs.errors import GraphInvalid, Loc, Problem, problem
from coagent_workflow_engine.graphs.expressions import ExpressionError, compile_expression
from coagent_workflow_engine.graphs.model import (
    CONDITION_BRANCHES,
    MAX_EDGES,
    MAX_NODES,
    NODE_CLASSES,
    NODE_ID_PATTERN,
    RESERVED_NODE_IDS,
    SCHEMA_VERSION,
    Edge,
    RunLimits,
    WorkflowGraph,
)
from coagent_workflow_engine.graphs.normalise import Normalised, Origins, normalise
from coagent_workflow_engine.graphs.structure import EdgeView, NodeView, structural_problems

__all__ = ["check_graph", "parse_graph"]

_NODE_ID = re.compile(NODE_ID_PATTERN)
_KNOWN_TYPES = ", ".join(sorted(NODE_CLASSES))
_CANONICAL_KEYS = frozenset(WorkflowGraph.model_fields)


def parse_graph(raw: object, *, runnable: bool = True) -> WorkflowGraph:
    """The canonical graph of ``raw``; raises :class:`GraphInvalid` listing every problem.

    ``runnable=False`` checks only what a draft needs (types, configs, ids, edges that point at
    nodes), so an editor can save a half-drawn graph; a version that runs needs the default.
    """
    graph, problems = check_graph(raw, runnable=runnable)
    if graph is None:
        raise GraphInvalid(problems)
    return graph


def check_graph(
    raw: object, *, runnable: bool = True
) -> tuple[WorkflowGraph | None, list[Problem]]:
    """``(graph, [])`` for a valid document, ``(None, problems)`` otherwise."""
    if not isinstance(raw, dict):
        return None, [problem((), "the graph must be a JSON object", "invalid_document")]
    if _too_long(raw.get("nodes"), MAX_NODES) or _too_long(raw.get("edges"), MAX_EDGES):
        msg = f"a graph holds at most {MAX_NODES} nodes and {MAX_EDGES} edges"
        return None, [problem((), msg, "graph_too_large")]  # before any per-item work
    norm = normalise(raw)
    found = list(norm.problems)
    doc = norm.doc
    found += _document_problems(norm)
    views = _nodes(doc["nodes"], norm.origins, found)
    node_ids = {view.id for view in views}
    edges = _edges(doc["edges"], node_ids, norm.origins, found)
    if runnable:
        found += [_mapped(p, norm.origins) for p in structural_problems(views, edges)]
    if found:
        return None, found
    try:
        return WorkflowGraph.model_validate(doc), []
    except ValidationError as exc:  # pragma: no cover - every part was validated above
        return None, _pydantic(exc, (), norm.origins, "invalid_document")


def _too_long(items: object, limit: int) -> bool:
    return isinstance(items, list) and len(items) > limit


def _mapped(found: Problem, origins: Origins) -> Problem:
    return problem(origins.submitted(tuple(found["loc"])), found["msg"], found["type"])


def _pydantic(exc: ValidationError, base: Loc, origins: Origins, code: str) -> list[Problem]:
    return [
        problem(origins.submitted((*base, *err["loc"])), err["msg"], code)
        for err in exc.errors(include_url=False)
    ]


def _validated(
    model: type[BaseModel], data: Any, base: Loc, origins: Origins, code: str, found: list[Problem]
) -> BaseModel | None:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        found += _pydantic(exc, base, origins, code)
        return None


def _document_problems(norm: Normalised) -> list[Problem]:
    found: list[Problem] = []
    doc = norm.doc
    if not norm.editor_shape:
        if doc.get("schema_version") != SCHEMA_VERSION:
            msg = f"schema_version {doc.get('schema_version')!r} is not supported (expected 1)"
            found.append(problem(("schema_version",), msg, "unsupported_schema_version"))
        for key in doc:
            if key not in _CANONICAL_KEYS:
                found.append(problem((key,), f"unknown key {key!r}", "invalid_document"))
    if "limits" in doc:
        _validated(RunLimits, doc["limits"], ("limits",), norm.origins, "invalid_limits", found)
    if not isinstance(doc.get("ui", {}), dict):
        found.append(problem(("ui",), "ui must be an object", "invalid_document"))
    return found


def _node_id_problem(value: object) -> str | None:
    if not isinstance(value, str):
        return "a node id must be a string"
    if value in RESERVED_NODE_IDS:
        return f"node id {value!r} is reserved"
    if not _NODE_ID.fullmatch(value):
        return "a node id is 1-128 characters without spaces, '|' or ':'"
    return None


def _nodes(nodes: list[Any], origins: Origins, found: list[Problem]) -> list[NodeView]:
    """Validate each node; return views of those with a usable, first-seen id."""
    views: list[NodeView] = []
    seen: set[str] = set()
    for i, node in enumerate(nodes):
        base: Loc = ("nodes", i)
        if not isinstance(node, dict):
            found.append(problem(base, "a node must be an object", "invalid_node"))
            continue
        node_id = node.get("id")
        if (reason := _node_id_problem(node_id)) is not None:
            found.append(problem(origins.submitted((*base, "id")), reason, "invalid_node_id"))
            node_id = None
        elif node_id in seen:
            msg = f"node id {node_id!r} is used by an earlier node"
            found.append(problem(origins.submitted((*base, "id")), msg, "duplicate_node_id"))
            node_id = None
        view_type = _node(i, node, origins, found)
        if isinstance(node_id, str):
            seen.add(node_id)
            views.append(_view(i, node_id, view_type, node))
    return views


def _node(i: int, node: dict[str, Any], origins: Origins, found: list[Problem]) -> str | None:
    """Validate one node's fields and config; its type if known."""
    base: Loc = ("nodes", i)
    node_type = node.get("type")
    if not isinstance(node_type, str) or node_type not in NODE_CLASSES:
        msg = f"unknown node type {node_type!r}; expected one of {_KNOWN_TYPES}"
        found.append(problem(origins.submitted((*base, "type")), msg, "unknown_node_type"))
        return None
    try:
        typed = NODE_CLASSES[node_type].model_validate(node)
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            loc: Loc = tuple(err["loc"])
            if loc[:1] == ("id",):
                continue  # reported as invalid_node_id
            code = "invalid_config" if loc[:1] == ("config",) else "invalid_node"
            found.append(problem(origins.submitted((*base, *loc)), err["msg"], code))
        return node_type
    config = getattr(typed, "config", None)
    for sub_loc, source in config.expressions() if config is not None else []:
        try:
            compile_expression(source)
        except ExpressionError as exc:
            where = origins.submitted((*base, "config", *sub_loc))
            found.append(problem(where, str(exc), "invalid_expression"))
    return node_type


def _view(i: int, node_id: str, node_type: str | None, node: dict[str, Any]) -> NodeView:
    if node_type == "condition":
        return NodeView(i, node_id, node_type, CONDITION_BRANCHES, (("nodes", i),) * 2)
    if node_type == "router":
        config = node.get("config")
        branches = config.get("branches") if isinstance(config, dict) else None
        if isinstance(branches, list) and all(isinstance(b, str) for b in branches):
            locs = tuple(("nodes", i, "config", "branches", k) for k in range(len(branches)))
            return NodeView(i, node_id, node_type, tuple(branches), locs)
    return NodeView(i, node_id, node_type)


def _edges(
    edges: list[Any], node_ids: set[str], origins: Origins, found: list[Problem]
) -> list[EdgeView]:
    views: list[EdgeView] = []
    seen: set[str] = set()
    for j, edge in enumerate(edges):
        base: Loc = ("edges", j)
        if not isinstance(edge, dict):
            found.append(problem(base, "an edge must be an object", "invalid_edge"))
            continue
        _validated(Edge, edge, base, origins, "invalid_edge", found)
        edge_id = edge.get("id")
        if isinstance(edge_id, str) and edge_id in seen:
            msg = f"edge id {edge_id!r} is used by an earlier edge"
            found.append(problem(origins.submitted((*base, "id")), msg, "duplicate_edge_id"))
        if isinstance(edge_id, str):
            seen.add(edge_id)
        source, target = edge.get("source"), edge.get("target")
        if not (isinstance(source, str) and isinstance(target, str)):
            continue  # reported by the model
        for end, value in (("source", source), ("target", target)):
            if value not in node_ids:
                msg = f"edge {end} {value!r} is not a node of the graph"
                found.append(problem(origins.submitted((*base, end)), msg, "dangling_edge"))
        label = edge.get("label")
        views.append(EdgeView(j, source, target, None if label is None else str(label)))
    return views
