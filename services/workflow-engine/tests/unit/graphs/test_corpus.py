"""Every graph document in ``corpus/``: valid ones parse, invalid ones fail with exactly the
problems (code and JSON path into the submitted document) the case lists."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from coagent_workflow_engine.graphs import GraphInvalid, WorkflowGraph, check_graph, parse_graph

CORPUS = Path(__file__).parent / "corpus"
CASES = {path.stem: json.loads(path.read_text()) for path in sorted(CORPUS.glob("*.json"))}
VALID = sorted(name for name, case in CASES.items() if case["valid"])
INVALID = sorted(name for name, case in CASES.items() if not case["valid"])


def test_corpus_covers_every_problem_code() -> None:
    codes = {p["type"] for name in INVALID for p in CASES[name]["problems"]}
    assert codes >= {
        "unknown_node_type",
        "duplicate_node_id",
        "dangling_edge",
        "missing_start",
        "multiple_starts",
        "missing_end",
        "router_branch_unlabelled",
        "router_duplicate_label",
        "router_missing_branch",
        "unreachable_node",
        "cycle_without_exit",
        "join_without_fanout",
        "invalid_config",
        "invalid_expression",
    }
    assert len(VALID) >= 6


@pytest.mark.parametrize("name", VALID)
def test_valid_documents_parse(name: str) -> None:
    graph, problems = check_graph(CASES[name]["document"])
    assert problems == []
    assert isinstance(graph, WorkflowGraph)
    assert len(graph.nodes) == len(CASES[name]["document"]["nodes"])


@pytest.mark.parametrize("name", INVALID)
def test_invalid_documents_report_exact_problems(name: str) -> None:
    graph, problems = check_graph(CASES[name]["document"])
    assert graph is None
    got = sorted((p["type"], p["loc"]) for p in problems)
    want = sorted((p["type"], p["loc"]) for p in CASES[name]["problems"])
    assert got == want
    assert all(p["msg"] for p in problems)


@pytest.mark.parametrize("name", INVALID)
def test_parse_graph_raises_with_the_problems(name: str) -> None:
    with pytest.raises(GraphInvalid) as caught:
        parse_graph(CASES[name]["document"])
    assert caught.value.status == 422
    assert caught.value.code == "invalid_graph"
    assert {p["type"] for p in caught.value.problems} == {
        p["type"] for p in CASES[name]["problems"]
    }


def test_reference_loop_is_the_loop_it_claims() -> None:
    graph = parse_graph(CASES["valid_reference_loop"]["document"])
    router = next(node for node in graph.nodes if node.type == "router")
    assert router.config.model_dump(include={"evaluation", "branches"}) == {
        "evaluation": "is_approved",
        "branches": ["approved", "rejected"],
    }
    labels = {edge.label for edge in graph.edges if edge.source == router.id}
    assert labels == {"approved", "rejected"}


def test_not_an_object() -> None:
    assert check_graph([1, 2])[1] == [
        {"loc": [], "msg": "the graph must be a JSON object", "type": "invalid_document"}
    ]


def test_too_large_is_refused_before_any_work() -> None:
    nodes: list[Any] = [{"id": f"n{i}", "type": "end"} for i in range(501)]
    _, problems = check_graph({"schema_version": 1, "nodes": nodes, "edges": []})
    assert [p["type"] for p in problems] == ["graph_too_large"]


def test_drafts_skip_structure_but_not_content() -> None:
    draft = {"nodes": [{"id": "a", "type": "agent", "config": {"agentId": "x"}}], "edges": []}
    assert check_graph(draft)[0] is None
    assert check_graph(draft, runnable=False)[1] == []
    broken = {"nodes": [{"id": "a", "type": "wat"}], "edges": [{"source": "a", "target": "b"}]}
    _, problems = check_graph(broken, runnable=False)
    assert sorted(p["type"] for p in problems) == ["dangling_edge", "unknown_node_type"]
    assert check_graph({"nodes": [], "edges": []}, runnable=False)[1] == []
