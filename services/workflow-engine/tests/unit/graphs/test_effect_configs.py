"""Save-time validation of http, tool, action and subworkflow node configs (JSON paths)."""

from __future__ import annotations

from typing import Any

import pytest

from coagent_workflow_engine.graphs import check_graph


def document(node: dict[str, Any]) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "nodes": [{"id": "start", "type": "start"}, node, {"id": "end", "type": "end"}],
        "edges": [
            {"id": "e1", "source": "start", "target": node["id"]},
            {"id": "e2", "source": node["id"], "target": "end"},
        ],
    }


def problems_of(node_type: str, config: dict[str, Any]) -> list[dict[str, Any]]:
    graph, problems = check_graph(document({"id": "n", "type": node_type, "config": config}))
    assert (graph is None) == bool(problems)
    return [dict(p) for p in problems]


CONFIG = ["nodes", 1, "config"]
URL = "https://example.org"
SAVE = {"action_type": "update_artifact"}


def at(*tail: str) -> list[Any]:
    return [*CONFIG, *tail]


BAD = [
    ("http", {"url": "ftp://example.org"}, at("url"), "pattern"),
    ("http", {"url": URL, "timeout_s": 600}, at("timeout_s"), "60"),
    ("http", {"url": URL, "headers": {"Host": "x"}}, CONFIG, "cannot be overridden"),
    ("http", {"url": URL, "headers": {"bad name": "x"}}, CONFIG, "invalid header name"),
    ("http", {"url": URL, "headers": {"X": "a\r\nB: c"}}, CONFIG, "line break"),
    ("http", {"url": "https://u:p@example.org"}, CONFIG, "credentials"),
    ("http", {"url": "https://example.org:99999/"}, CONFIG, "invalid url"),
    ("http", {"url": URL, "body": {"a": 1}}, CONFIG, "GET request cannot have a body"),
    ("http", {"url": URL, "method": "TRACE"}, at("method"), "GET"),
    ("tool", {"tool_name": "search"}, CONFIG, "unknown tool 'search'"),
    ("tool", {"tool_name": "template", "arguments": {}}, CONFIG, "template: Field required"),
    (
        "tool",
        {"tool_name": "http_request", "arguments": {"url": "gopher://x"}},
        CONFIG,
        "invalid arguments: url",
    ),
    ("action", {**SAVE, "text": "x"}, CONFIG, "artifact_id (update) or title (create)"),
    ("action", {**SAVE, "title": "T"}, CONFIG, "needs text or from_key"),
    (
        "action",
        {**SAVE, "title": "T", "text": "x", "artifact_type": "card"},
        at("artifact_type"),
        "doc",
    ),
    (
        "action",
        {**SAVE, "title": "T", "text": "x", "artifact_type": "task", "mode": "append"},
        CONFIG,
        "doc artifacts only",
    ),
    ("subworkflow", {}, at("workflow_id"), "required"),
    ("subworkflow", {"workflow_id": "w", "version": 0}, at("version"), "greater than or equal"),
    (
        "subworkflow",
        {"workflow_id": "w", "inputs": {"9bad": "x"}},
        at("inputs", "9bad", "[key]"),
        "pattern",
    ),
]


@pytest.mark.parametrize(("node_type", "config", "loc", "message"), BAD)
def test_bad_configs_are_reported_at_their_path(
    node_type: str, config: dict[str, Any], loc: list[Any], message: str
) -> None:
    problems = problems_of(node_type, config)
    assert [p["loc"] for p in problems] == [loc], problems
    assert message in problems[0]["msg"]


GOOD = [
    ("http", {"url": "https://{{host}}/items/{{id}}", "headers": {"Authorization": "B {{t}}"}}),
    ("http", {"url": "https://api.example/x", "method": "POST", "body": {"q": "{{q}}"}}),
    ("tool", {"tool_name": "template", "arguments": {"template": "hi {{name}}"}}),
    ("tool", {"tool_name": "http_request", "arguments": {"url": "https://api.example/"}}),
    ("action", {**SAVE, "title": "Notes {{x}}", "from_key": "x"}),
    ("action", {**SAVE, "artifact_id": "a1", "text": "t", "mode": "append"}),
    ("subworkflow", {"workflow_id": "w", "version": 2, "inputs": {"essay": "draft"}}),
]


@pytest.mark.parametrize(("node_type", "config"), GOOD)
def test_good_configs_pass(node_type: str, config: dict[str, Any]) -> None:
    assert problems_of(node_type, config) == []
