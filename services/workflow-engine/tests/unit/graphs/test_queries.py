"""The lookups the compiler relies on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from coagent_workflow_engine.graphs import GraphIndex, parse_graph
from coagent_workflow_engine.graphs.model import AgentNode

CORPUS = Path(__file__).parent / "corpus"


def _index(name: str) -> GraphIndex:
    document: dict[str, Any] = json.loads((CORPUS / f"{name}.json").read_text())["document"]
    return GraphIndex(parse_graph(document))


def test_entry_successors_and_branches_of_the_reference_loop() -> None:
    index = _index("valid_reference_loop")
    student, teacher = (
        "6f1c2a3e-0b7d-4c59-9a51-2f8e4d7c1b01",
        "9a4e7d21-5c3b-4f8a-b6e2-7d1c0f9e3a02",
    )
    assert index.entry.id == "start"
    assert [end.id for end in index.ends] == ["end"]
    assert index.successors("start") == [student]
    assert index.predecessors(student) == ["start", "router-teacher-eval"]
    assert index.branches("router-teacher-eval") == {"approved": "end", "rejected": student}
    assert [e.id for e in index.incoming("end")] == ["edge-router-end"]
    assert [n.id for n in index.nodes_of(AgentNode)] == [student, teacher]
    assert index.agent_refs() == [(student, None), (teacher, None)]
    with pytest.raises(ValueError, match="not a router"):
        index.branches(student)
    with pytest.raises(KeyError):
        index.node("ghost")


def test_condition_branches_and_agent_choice_refs() -> None:
    assert _index("valid_condition_branches").branches("passed") == {
        "true": "route",
        "false": "fix",
    }
    assert _index("valid_human_input").agent_refs() == [("moderator", None)]


def test_join_of_a_parallel_node() -> None:
    index = _index("valid_fanout_join")
    assert index.join_of("fan") == "join"
    assert sorted(index.successors("fan")) == ["a", "b", "c"]
    assert _index("valid_linear_agents").agent_refs() == [("writer", None), ("reviewer", 3)]


def test_subworkflow_refs() -> None:
    assert _index("valid_subworkflow").subworkflow_refs() == [("wf-grading", 2)]
