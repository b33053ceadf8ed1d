"""The reference editor's shapes (seed-runtime §1.2.2) become the canonical document."""

from __future__ import annotations

from typing import Any

from coagent_workflow_engine.graphs import check_graph, normalise, parse_graph
from coagent_workflow_engine.graphs.model import (
    ActionNode,
    AgentNode,
    JoinNode,
    RouterNode,
)


def _editor(nodes: list[dict[str, Any]], edges: list[dict[str, Any]]) -> dict[str, Any]:
    return {"nodes": nodes, "edges": edges}


def _wrap(*middle: dict[str, Any]) -> dict[str, Any]:
    """start → middle… → end, chained with editor edges (no ids, as a client might send)."""
    nodes = [{"id": "s", "type": "start"}, *middle, {"id": "e", "type": "end"}]
    ids = [node["id"] for node in nodes]
    edges = [
        {"source": a, "target": b, "type": "forward"} for a, b in zip(ids, ids[1:], strict=False)
    ]
    return _editor(nodes, edges)


def test_nested_panel_config_wins_and_editor_noise_is_sorted_out() -> None:
    agent = {
        "id": "n1",
        "type": "agent",
        "position": {"x": 10, "y": 20},
        "config": {
            "label": "Teacher",
            "agentId": "t-1",
            "agent_id": "t-1",
            "agentType": "teacher",
            "isActive": True,
            "output_behavior": "proposal",  # stale top-level value
            "config": {"output_behavior": "evaluation", "temperature": 0.2},
        },
    }
    graph = parse_graph(_wrap(agent))
    node = graph.nodes[1]
    assert isinstance(node, AgentNode)
    assert node.config.agent_id == "t-1"
    assert node.config.output_behavior == "evaluation"
    assert node.label == "Teacher"
    assert node.position is not None
    assert (node.position.x, node.position.y) == (10, 20)
    assert node.ui == {"agentType": "teacher", "config": {"temperature": 0.2}}
    assert "isActive" not in str(node.model_dump())


def test_agent_id_comes_from_agent_id_alias_when_only_it_is_set() -> None:
    graph = parse_graph(_wrap({"id": "a", "type": "agent", "config": {"agentId": "x-9"}}))
    assert isinstance(graph.nodes[1], AgentNode)
    assert graph.nodes[1].config.agent_id == "x-9"


def test_router_condition_and_max_cycles_from_the_panel() -> None:
    doc = _editor(
        [
            {"id": "s", "type": "start"},
            {"id": "a", "type": "agent", "config": {"agentId": "x"}},
            {
                "id": "r",
                "type": "router",
                "config": {"config": {"condition": "cycle_limit"}, "max_cycles": 4},
            },
            {"id": "e", "type": "end"},
        ],
        [
            {"id": "1", "source": "s", "target": "a"},
            {"id": "2", "source": "a", "target": "r"},
            {"id": "3", "source": "r", "target": "e", "type": "evaluate", "condition": "exceeded"},
            {"id": "4", "source": "r", "target": "a", "type": "evaluate", "condition": "continue"},
        ],
    )
    router = parse_graph(doc).nodes[2]
    assert isinstance(router, RouterNode)
    assert router.config.evaluation == "cycle_limit"
    assert router.config.max_cycles == 4
    assert router.config.branches == ["exceeded", "continue"]


def test_legacy_type_spellings() -> None:
    norm = normalise(
        _editor(
            [
                {"id": "a"},
                {"id": "b", "type": "merge"},
                {"id": "c", "type": "Agent"},
                {"id": "d", "type": "agentNode"},
                {"id": "e", "type": "human-input"},
                {"id": "f", "type": "fan_out"},
                {"id": "g", "type": "broadcast"},
                {"id": "h", "type": "sub_workflow"},
            ],
            [],
        )
    )
    types = [node["type"] for node in norm.doc["nodes"]]
    assert types == [
        "agent",
        "join",
        "agent",
        "agent",
        "human_input",
        "parallel",
        "action",
        "subworkflow",
    ]


def test_merge_is_a_real_join_after_fanout() -> None:
    doc = _editor(
        [
            {"id": "s", "type": "start"},
            {"id": "p", "type": "parallel"},
            {"id": "a", "type": "agent", "config": {"agentId": "x"}},
            {"id": "b", "type": "agent", "config": {"agentId": "y"}},
            {"id": "m", "type": "merge"},
            {"id": "e", "type": "end"},
        ],
        [
            {"source": "s", "target": "p"},
            {"source": "p", "target": "a"},
            {"source": "p", "target": "b"},
            {"source": "a", "target": "m"},
            {"source": "b", "target": "m"},
            {"source": "m", "target": "e"},
        ],
    )
    assert isinstance(parse_graph(doc).nodes[4], JoinNode)


def test_broadcast_action_posts_the_current_proposal() -> None:
    for config in ({"label": "BROADCAST"}, {"action_type": "broadcast"}, None):
        node: dict[str, Any] = {"id": "b", "type": "action"}
        if config is not None:
            node["config"] = config
        action = parse_graph(_wrap(node)).nodes[1]
        assert isinstance(action, ActionNode)
        assert action.config.action_type == "post_to_room"
        assert action.config.from_key == "current_proposal"


def test_missing_ids_are_generated_without_collisions() -> None:
    doc = _editor(
        [{"id": "node-1", "type": "start"}, {"type": "end", "position": {"x": 0, "y": 0}}],
        [
            {"source": "node-1", "target": "node-2", "id": "edge-1"},
            {"source": "node-1", "target": "node-2"},
        ],
    )
    norm = normalise(doc)
    assert [n["id"] for n in norm.doc["nodes"]] == ["node-1", "node-2"]
    assert [e["id"] for e in norm.doc["edges"]] == ["edge-1", "edge-2"]


def test_numeric_ids_are_strings() -> None:
    doc = _editor(
        [{"id": 1, "type": "start"}, {"id": 2, "type": "end"}],
        [{"id": 3, "source": 1, "target": 2}],
    )
    graph = parse_graph(doc)
    assert [n.id for n in graph.nodes] == ["1", "2"]
    assert (graph.edges[0].id, graph.edges[0].source, graph.edges[0].target) == ("3", "1", "2")


def test_edges_condition_is_the_label_and_type_the_kind() -> None:
    norm = normalise(
        _editor(
            [],
            [
                {
                    "id": "a",
                    "source": "x",
                    "target": "y",
                    "type": "evaluate",
                    "condition": "approved",
                },
                {"id": "b", "source": "x", "target": "y", "condition": "", "animated": True},
                {"id": "c", "source": "x", "target": "y", "condition": None},
            ],
        )
    )
    assert norm.doc["edges"] == [
        {"id": "a", "source": "x", "target": "y", "label": "approved", "kind": "evaluate"},
        {"id": "b", "source": "x", "target": "y", "ui": {"animated": True}},
        {"id": "c", "source": "x", "target": "y"},
    ]


def test_unknown_top_level_keys_are_kept_and_limits_honoured() -> None:
    doc = _wrap()
    doc["viewport"] = {"zoom": 1.5}
    doc["limits"] = {"max_steps": 12}
    graph = parse_graph(doc)
    assert graph.ui == {"viewport": {"zoom": 1.5}}
    assert graph.limits.max_steps == 12
    assert graph.limits.timeout_s == 1800


def test_canonical_documents_get_no_editor_leniency() -> None:
    doc = {
        "schema_version": 1,
        "nodes": [
            {"id": "s", "type": "start"},
            {"id": "a", "type": "agent", "config": {"agentId": "x", "config": {}}},
            {"id": "e", "type": "end"},
        ],
        "edges": [
            {"id": "1", "source": "s", "target": "a"},
            {"id": "2", "source": "a", "target": "e", "condition": "x"},
        ],
        "viewport": {},
    }
    _, problems = check_graph(doc)
    assert sorted((p["type"], p["loc"]) for p in problems) == [
        ("invalid_config", ["nodes", 1, "config", "agentId"]),
        ("invalid_config", ["nodes", 1, "config", "agent_id"]),
        ("invalid_config", ["nodes", 1, "config", "config"]),
        ("invalid_document", ["viewport"]),
        ("invalid_edge", ["edges", 1, "condition"]),
    ]


def test_problem_locations_follow_the_editor_keys() -> None:
    doc = _editor(
        [
            {"id": "s", "type": "start"},
            {"id": "a", "type": "agent", "config": {"agentId": "", "label": "x" * 300}},
            {"id": "r", "type": "router", "config": {"condition": "is_approved"}},
            {"id": "e", "type": "end"},
        ],
        [
            {"id": "1", "source": "s", "target": "a"},
            {"id": "2", "source": "a", "target": "r"},
            {"id": "3", "source": "r", "target": "e", "condition": 5},
            {"id": "4", "source": "r", "target": "a", "condition": "rejected", "type": 7},
        ],
    )
    _, problems = check_graph(doc)
    assert sorted((p["type"], p["loc"]) for p in problems) == [
        ("invalid_config", ["nodes", 1, "config", "agent_id"]),  # agentId "" is no agent
        ("invalid_edge", ["edges", 2, "condition"]),
        ("invalid_edge", ["edges", 3, "type"]),
        ("invalid_node", ["nodes", 1, "config", "label"]),
        ("router_missing_branch", ["edges", 2, "condition"]),  # label "5" is not a branch
        ("router_missing_branch", ["nodes", 2, "config", "condition"]),  # nor is approved drawn
    ]


def test_garbage_never_raises() -> None:
    junk: list[Any] = [None, 1, "x", [], {}, [1], {"a": [1]}, True, 1.5]
    shapes = [
        {"nodes": junk, "edges": junk},
        {"nodes": [{"id": j, "type": j, "config": j, "position": j} for j in junk]},
        {
            "nodes": [
                {"id": "r", "type": "router", "config": {"condition": j, "branches": j}}
                for j in junk
            ]
        },
        {"edges": [{"id": j, "source": j, "target": j, "condition": j, "type": j} for j in junk]},
        {
            "schema_version": 1,
            "nodes": [{"id": j, "type": j, "config": j} for j in junk],
            "edges": junk,
        },
        {"nodes": "x", "edges": 5, "limits": "fast", "ui": 3},
        {"schema_version": [], "limits": {"max_steps": "many"}},
    ]
    for shape in shapes:
        graph, problems = check_graph(shape)
        assert graph is None
        assert problems
        assert all(isinstance(p["loc"], list) and p["msg"] and p["type"] for p in problems)
