"""Round trips through the web client: editor → canonical → editor → canonical loses nothing."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from coagent_workflow_engine.graphs import parse_graph, to_editor
from coagent_workflow_engine.graphs.model import AgentNode, RouterNode

CORPUS = Path(__file__).parent / "corpus"
VALID = sorted(p.stem for p in CORPUS.glob("valid_*.json"))


def _document(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((CORPUS / f"{name}.json").read_text())["document"]
    return document


@pytest.mark.parametrize("name", VALID)
def test_canonical_survives_the_editor(name: str) -> None:
    graph = parse_graph(_document(name))
    editor = to_editor(graph)
    assert "schema_version" not in editor  # the editor's saves must stay editor-shaped
    again = parse_graph(json.loads(json.dumps(editor)))
    # Positions are the one thing the editor adds (a default layout for nodes that had none).
    assert again.model_dump(exclude={"nodes": {"__all__": {"position"}}}) == graph.model_dump(
        exclude={"nodes": {"__all__": {"position"}}}
    )
    assert to_editor(again) == editor  # a fixed point: saving without edits changes nothing


@pytest.mark.parametrize("name", VALID)
def test_editor_shape_is_what_the_client_reads(name: str) -> None:
    editor = to_editor(parse_graph(_document(name)))
    assert set(editor) >= {"nodes", "edges"}
    for node in editor["nodes"]:
        assert set(node) == {"id", "type", "position", "config"}
        assert set(node["position"]) == {"x", "y"}
    for edge in editor["edges"]:
        assert set(edge) - {"condition"} == {"id", "source", "target", "type"}


def test_editor_document_comes_back_as_the_editor_saved_it() -> None:
    saved = _document("valid_editor_ui")
    back = to_editor(parse_graph(copy.deepcopy(saved)))
    assert [n["id"] for n in back["nodes"]] == [n["id"] for n in saved["nodes"]]
    assert [n["position"] for n in back["nodes"]] == [n["position"] for n in saved["nodes"]]
    assert back["edges"] == saved["edges"]
    student = back["nodes"][1]["config"]
    assert student["label"] == "Student"
    assert student["agentId"] == student["agent_id"] == saved["nodes"][1]["config"]["agentId"]
    assert student["agentType"] == "student"
    assert student["config"] == {"output_behavior": "proposal"}
    assert "isActive" not in student
    teacher = back["nodes"][2]["config"]
    assert teacher["config"] == {"output_behavior": "evaluation"}
    router = back["nodes"][3]["config"]
    assert router["config"] == {"condition": "cycle_limit"}
    assert router["max_cycles"] == 3
    assert "branches" not in router  # implied by the condition, so the panel can change it


def test_changing_the_router_in_the_panel_rederives_its_branches() -> None:
    editor = to_editor(parse_graph(_document("valid_reference_loop")))
    router = next(n for n in editor["nodes"] if n["type"] == "router")
    router["config"]["config"]["condition"] = "cycle_limit"
    for edge in editor["edges"]:
        if edge["source"] == router["id"]:
            edge["condition"] = {"approved": "exceeded", "rejected": "continue"}[edge["condition"]]
    node = parse_graph(editor).nodes[3]
    assert isinstance(node, RouterNode)
    assert node.config.branches == ["exceeded", "continue"]


def test_changing_the_agent_behaviour_in_the_panel_sticks() -> None:
    editor = to_editor(parse_graph(_document("valid_reference_loop")))
    teacher = editor["nodes"][2]
    teacher["config"]["config"]["output_behavior"] = "evaluation"
    node = parse_graph(editor).nodes[2]
    assert isinstance(node, AgentNode)
    assert node.config.output_behavior == "evaluation"


def test_non_default_limits_travel_with_the_editor_document() -> None:
    graph = parse_graph(_document("valid_linear_agents"))
    editor = to_editor(graph)
    assert editor["limits"]["max_steps"] == 20
    assert parse_graph(editor).limits == graph.limits
    assert "limits" not in to_editor(parse_graph(_document("valid_subworkflow")))


def test_missing_positions_get_a_layout() -> None:
    editor = to_editor(parse_graph(_document("valid_subworkflow")))
    positions = [(n["position"]["x"], n["position"]["y"]) for n in editor["nodes"]]
    assert len(set(positions)) == len(positions)
