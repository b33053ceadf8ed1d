"""Run and node metrics recorded while runs execute on the memory runtime."""

from __future__ import annotations

from typing import Any

from prometheus_client import REGISTRY

from coagent_workflow_engine.workflows.domain import Caller

START = {"id": "start", "type": "start"}
END = {"id": "end", "type": "end"}
OWNER = Caller("u1", "teacher")


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _snapshot() -> dict[str, float]:
    return {
        "started": _sample("coagent_workflow_runs_started_total"),
        "succeeded": _sample("coagent_workflow_runs_finished_total", status="succeeded"),
        "failed": _sample("coagent_workflow_runs_finished_total", status="failed"),
        "cancelled": _sample("coagent_workflow_runs_finished_total", status="cancelled"),
        "succeeded_timed": _sample(
            "coagent_workflow_run_duration_seconds_count", status="succeeded"
        ),
        "cancelled_timed": _sample(
            "coagent_workflow_run_duration_seconds_count", status="cancelled"
        ),
        "agent_nodes": _sample(
            "coagent_workflow_node_duration_seconds_count", node_type="agent", status="succeeded"
        ),
        "llm_calls": _sample(
            "coagent_llm_calls_total",
            provider="offline",
            model="offline-echo",
            kind="stream",
            outcome="ok",
        ),
    }


def _delta(before: dict[str, float]) -> dict[str, float]:
    after = _snapshot()
    return {key: after[key] - before[key] for key in before if after[key] != before[key]}


async def test_a_succeeding_run_counts_its_start_end_duration_nodes_and_llm_calls(env: Any) -> None:
    graph = env.graph(
        [START, env.agent_node("a"), env.agent_node("b"), END],
        [("start", "a"), ("a", "b"), ("b", "end")],
    )
    workflow_id = await env.workflow(graph)
    before = _snapshot()
    run = await env.start(workflow_id, content="hello")
    assert run.status == "succeeded", run.error
    assert _delta(before) == {
        "started": 1,
        "succeeded": 1,
        "succeeded_timed": 1,
        "agent_nodes": 2,
        "llm_calls": 2,  # each agent turn's model call is metered
    }


async def test_a_failed_run_and_its_failed_node_are_counted_under_their_status(env: Any) -> None:
    node = {"id": "t", "type": "http", "config": {"url": "http://169.254.169.254/latest/"}}
    graph = env.graph([START, node, END], [("start", "t"), ("t", "end")])
    workflow_id = await env.workflow(graph)
    failed_nodes = _sample(
        "coagent_workflow_node_duration_seconds_count", node_type="http", status="failed"
    )
    before = _snapshot()
    run = await env.start(workflow_id)
    assert run.status == "failed"
    assert _delta(before) == {"started": 1, "failed": 1}
    assert _sample(
        "coagent_workflow_node_duration_seconds_count", node_type="http", status="failed"
    ) == (failed_nodes + 1)


async def test_a_run_cancelled_before_it_started_is_counted_without_a_duration(env: Any) -> None:
    graph = env.graph([START, END], [("start", "end")])
    workflow_id = await env.workflow(graph)
    queued = await env.runs.execute(OWNER, workflow_id, "r1", {})
    before = _snapshot()
    cancelled = await env.runs.cancel(OWNER, workflow_id, queued.id)
    assert cancelled.status == "cancelled"
    assert _delta(before) == {"cancelled": 1}
