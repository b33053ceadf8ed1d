"""The 422 body: FastAPI-style problem list as ``detail``, code ``invalid_graph``."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from coagent_kit.errors import install_error_handlers
from coagent_workflow_engine.graphs import GraphInvalid, install_graph_errors, parse_graph

BAD: dict[str, Any] = {"nodes": [{"id": "a", "type": "bogus"}], "edges": []}


def _app(with_graph_handler: bool) -> TestClient:
    app = FastAPI()
    install_error_handlers(app)
    if with_graph_handler:
        install_graph_errors(app)

    @app.post("/graphs")
    def save(body: dict[str, Any]) -> dict[str, int]:
        return {"nodes": len(parse_graph(body).nodes)}

    return TestClient(app)


def test_handler_renders_every_problem_as_detail() -> None:
    response = _app(with_graph_handler=True).post("/graphs", json=BAD)
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "invalid_graph"
    assert {"loc": ["nodes", 0, "type"], "type": "unknown_node_type"}.items() <= body["detail"][
        0
    ].items()
    assert {p["type"] for p in body["detail"]} == {
        "unknown_node_type",
        "missing_start",
        "missing_end",
    }


def test_without_the_handler_the_kit_still_answers_422_with_a_summary() -> None:
    response = _app(with_graph_handler=False).post("/graphs", json=BAD)
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_graph"
    assert response.json()["detail"].startswith("invalid graph: nodes/0/type: unknown node type")


def test_exception_summary_is_bounded() -> None:
    problems = [{"loc": ["nodes", i], "msg": "bad", "type": "dead_end"} for i in range(10)]
    exc = GraphInvalid(problems)  # type: ignore[arg-type]
    assert exc.detail.endswith("(and 7 more)")
    assert exc.problems == problems
