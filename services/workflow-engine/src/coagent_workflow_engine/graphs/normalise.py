"""Turn a submitted graph (canonical, or the reference editor's shape) into the canonical shape.

A document with ``schema_version`` is canonical and is copied as is: the models then reject
anything unknown. A document without it is the reference editor's ``graph_data`` (seed-runtime
§1.2) and gets the leniency that editor needs:

* node ``config.config`` (where its Properties panel stores ``output_behavior`` and the router
  ``condition``) is folded into ``config``, the nested value winning because it is the one the
  user edited; ``agentId`` becomes ``agent_id``; ``label`` moves to the node; ``isActive`` (live
  trace state) is dropped;
* legacy spellings: a missing type is ``agent`` (the reference's default), ``merge`` is ``join``,
  the router's ``condition`` is ``evaluation`` with its implied ``branches``, the action
  ``broadcast`` is ``post_to_room`` of ``current_proposal``;
* missing node and edge ids are generated; an edge's ``condition`` is its branch label and its
  ``type`` its ``kind``;
* every other key is kept in ``ui`` so the editor gets it back.

Because keys move, :class:`Origins` records where each canonical path came from, so problems
point at what the user submitted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from coagent_workflow_engine.graphs.errors import Loc, Problem, problem
from coagent_workflow_engine.graphs.model import FIXED_OUTCOMES, NODE_TYPES, config_class

__all__ = ["Normalised", "Origins", "is_editor_shape", "normalise", "node_type_of"]

_TYPE_ALIASES = {
    "merge": "join",
    "fanout": "parallel",
    "fan_out": "parallel",
    "human": "human_input",
    "humaninput": "human_input",
    "interrupt": "human_input",
    "broadcast": "action",
    "subgraph": "subworkflow",
    "sub_workflow": "subworkflow",
    "http_request": "http",
}
#: Node keys the canonical shape knows; in the editor shape anything else goes to ``ui``.
_NODE_KEYS = frozenset({"id", "type", "label", "position", "config", "ui"})
_EDGE_KEYS = frozenset({"id", "source", "target", "condition", "type", "ui"})
_GRAPH_KEYS = frozenset({"nodes", "edges", "limits", "ui", "schema_version"})
#: Editor data keys with a canonical home or no value to keep.
_EDITOR_NOISE = frozenset({"isActive"})


@dataclass
class Origins:
    """Where each moved canonical path came from in the submitted document."""

    moved: dict[Loc, Loc] = field(default_factory=dict)
    """Prefix → prefix; the rest of the path is kept."""
    collapsed: dict[Loc, Loc] = field(default_factory=dict)
    """Prefix → path; the rest is dropped (the value was derived, e.g. implied branches)."""

    def submitted(self, loc: Loc) -> list[str | int]:
        """The submitted-document path of canonical path ``loc``."""
        for size in range(len(loc), 0, -1):
            prefix = loc[:size]
            if prefix in self.collapsed:
                return list(self.collapsed[prefix])
            if prefix in self.moved:
                return [*self.moved[prefix], *loc[size:]]
        return list(loc)


@dataclass
class Normalised:
    """The canonical document (plain data, not yet validated) and how to map problems back."""

    doc: dict[str, Any]
    origins: Origins
    editor_shape: bool
    problems: list[Problem]


def is_editor_shape(raw: dict[str, Any]) -> bool:
    """The reference editor never writes ``schema_version``; canonical documents always do."""
    return "schema_version" not in raw


def node_type_of(value: object) -> object:
    """The canonical spelling of an editor node type; non-strings are returned unchanged."""
    if value is None:
        return "agent"  # the reference compiler's default
    if not isinstance(value, str):
        return value
    key = value.strip().lower().replace("-", "_")
    if key.endswith("node") and key[:-4].rstrip("_") in NODE_TYPES:
        key = key[:-4].rstrip("_")  # Vue Flow style "agentNode"
    return _TYPE_ALIASES.get(key, key)


def normalise(raw: dict[str, Any]) -> Normalised:
    """The canonical form of ``raw`` (which must be a dict); never raises on bad content."""
    problems: list[Problem] = []
    nodes = _list_of(raw, "nodes", problems)
    edges = _list_of(raw, "edges", problems)
    if not is_editor_shape(raw):
        canonical = {**raw, "nodes": nodes, "edges": edges}
        return Normalised(canonical, Origins(), editor_shape=False, problems=problems)
    origins = Origins()
    node_ids = _ids(nodes, "node")
    edge_ids = _ids(edges, "edge")
    doc: dict[str, Any] = {
        "schema_version": 1,
        "nodes": [_node(i, n, node_ids[i], origins) for i, n in enumerate(nodes)],
        "edges": [_edge(j, e, edge_ids[j], origins) for j, e in enumerate(edges)],
    }
    if "limits" in raw:
        doc["limits"] = raw["limits"]
    ui = raw["ui"] if isinstance(raw.get("ui"), dict) else {}
    extra = {k: v for k, v in raw.items() if k not in _GRAPH_KEYS}
    if ui or extra:
        doc["ui"] = {**extra, **ui}
    return Normalised(doc, origins, editor_shape=True, problems=problems)


def _known(node_type: object) -> bool:
    return isinstance(node_type, str) and node_type in NODE_TYPES


def _list_of(raw: dict[str, Any], key: str, problems: list[Problem]) -> list[Any]:
    value = raw.get(key, [])
    if value is None:
        return []
    if not isinstance(value, list):
        problems.append(problem((key,), f"{key} must be a list", "invalid_document"))
        return []
    return value


def _as_id(value: object) -> object:
    # Ids typed as numbers by a client are still ids; booleans are not.
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _ids(items: list[Any], prefix: str) -> list[object]:
    """Each item's id, generating ``<prefix>-<n>`` (unused) for items that have none."""
    given = [_as_id(item.get("id")) if isinstance(item, dict) else None for item in items]
    taken = {value for value in given if isinstance(value, str)}
    ids: list[object] = []
    counter = 0
    for item, value in zip(items, given, strict=True):
        if isinstance(item, dict) and value is None:
            counter += 1
            while f"{prefix}-{counter}" in taken:
                counter += 1
            value = f"{prefix}-{counter}"
            taken.add(value)
        ids.append(value)
    return ids


def _node(i: int, raw: object, node_id: object, origins: Origins) -> object:
    if not isinstance(raw, dict):
        return raw  # reported by validation at the same index
    base: Loc = ("nodes", i)
    node_type = node_type_of(raw.get("type"))
    ui = dict(raw["ui"]) if isinstance(raw.get("ui"), dict) else {}
    ui.update({k: v for k, v in raw.items() if k not in _NODE_KEYS})
    node: dict[str, Any] = {"id": node_id, "type": node_type}
    if raw.get("position") is not None:
        node["position"] = raw["position"]
    if raw.get("label") is not None:
        node["label"] = raw["label"]
    config = raw.get("config")
    if config is None or not isinstance(config, dict):
        if config is not None:
            node["config"] = config  # not an object: the model reports it
        elif isinstance(node_type, str) and _known(node_type):
            node["config"] = _legacy_config(node_type, {}, {}, base, origins)
    else:
        node["config"] = _editor_config(node, config, ui, base, origins)
    if ui:
        node["ui"] = ui
    return node


def _editor_config(
    node: dict[str, Any], config: dict[str, Any], ui: dict[str, Any], base: Loc, origins: Origins
) -> dict[str, Any]:
    """Fold the editor's ``config`` (and its nested ``config``) into canonical fields."""
    flat = {k: v for k, v in config.items() if k not in _EDITOR_NOISE}
    nested = flat.pop("config", None)
    where: dict[str, Loc] = {k: (*base, "config", k) for k in flat}
    label = flat.pop("label", None)
    if label is not None and "label" not in node:
        node["label"] = label
        origins.moved[(*base, "label")] = (*base, "config", "label")
    agent_alias = flat.pop("agentId", None)
    nested_keys: set[str] = set()
    if isinstance(nested, dict):
        for key, value in nested.items():
            flat[key] = value  # the Properties panel's value wins over a stale top-level one
            where[key] = (*base, "config", "config", key)
            nested_keys.add(key)
    elif nested is not None:
        ui["config"] = nested
    if agent_alias and not flat.get("agent_id"):
        flat["agent_id"] = agent_alias
        where["agent_id"] = (*base, "config", "agentId")
    node_type = node["type"]
    if not _known(node_type):
        return flat  # unknown_node_type is reported; keep the config untouched
    canonical = _legacy_config(node_type, flat, where, base, origins)
    known = config_class(node_type).model_fields
    for key in [k for k in canonical if k not in known]:
        value = canonical.pop(key)
        if key in nested_keys:
            ui.setdefault("config", {})[key] = value
        else:
            ui[key] = value
    for key, loc in where.items():
        origins.moved.setdefault((*base, "config", key), loc)
    return canonical


def _legacy_config(
    node_type: str, flat: dict[str, Any], where: dict[str, Loc], base: Loc, origins: Origins
) -> dict[str, Any]:
    """Translate the reference's per-type config vocabulary (seed-runtime §1.2.1)."""
    config = dict(flat)
    if node_type == "router":
        if "condition" in config:
            config["evaluation"] = config.pop("condition")
            if "condition" in where:
                where["evaluation"] = where.pop("condition")
        value = config.setdefault("evaluation", "is_approved")
        evaluation = value if isinstance(value, str) else ""  # a non-string is reported later
        if "branches" not in config and evaluation not in ("rules", "agent_choice"):
            # The reference routed any other condition to "default"; that value is reported as
            # invalid, and the implied branch keeps it from cascading into branch problems.
            config["branches"] = list(FIXED_OUTCOMES.get(evaluation, ("default",)))
            # The branches were implied by the evaluation: problems about them point at it.
            origins.collapsed[(*base, "config", "branches")] = where.get(
                "evaluation", (*base, "config")
            )
    elif node_type == "action":
        if config.get("action_type") in (None, "broadcast"):
            config["action_type"] = "post_to_room"
        if config["action_type"] == "post_to_room" and not config.get("text"):
            config.setdefault("from_key", "current_proposal")
    return config


def _edge(j: int, raw: object, edge_id: object, origins: Origins) -> object:
    if not isinstance(raw, dict):
        return raw
    base: Loc = ("edges", j)
    ui = dict(raw["ui"]) if isinstance(raw.get("ui"), dict) else {}
    ui.update({k: v for k, v in raw.items() if k not in _EDGE_KEYS})
    edge: dict[str, Any] = {
        "id": edge_id,
        "source": _as_id(raw.get("source")),
        "target": _as_id(raw.get("target")),
    }
    # The reference labels router branches with ``condition``; empty means unlabelled.
    label = raw.get("condition")
    if label is not None and label != "":
        edge["label"] = label
    if raw.get("type") is not None:
        edge["kind"] = raw["type"]
    if ui:
        edge["ui"] = ui
    origins.moved[(*base, "label")] = (*base, "condition")
    origins.moved[(*base, "kind")] = (*base, "type")
    return edge
