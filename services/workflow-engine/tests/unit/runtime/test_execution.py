"""Compiled workflow versions running on LangGraph with the offline model (memory adapters)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from coagent_contracts.workflow import (
    AgentMessageProducedV1,
    NodeFinishedV1,
    RunCompletedV1,
    RunFailedV1,
    RunStartedV1,
)

START = {"id": "start", "type": "start"}
END = {"id": "end", "type": "end"}
CORPUS = Path(__file__).parents[1] / "graphs" / "corpus"


async def test_a_linear_agent_chain_posts_each_reply_once_and_succeeds(env: Any) -> None:
    graph = env.graph(
        [START, env.agent_node("a"), env.agent_node("b"), END],
        [("start", "a"), ("a", "b"), ("b", "end")],
    )
    run = await env.start(await env.workflow(graph), content="What is a prime number?")

    assert run.status == "succeeded", run.error
    assert [(s.node_id, s.status) for s in env.steps(run.id)] == [
        ("start", "succeeded"),
        ("a", "succeeded"),
        ("b", "succeeded"),
        ("end", "succeeded"),
    ]
    agent_steps = [s for s in env.steps(run.id) if s.node_type == "agent"]
    assert all(s.tokens > 0 for s in agent_steps)
    assert agent_steps[0].input["agent_version"] == 3
    replies = env.events(AgentMessageProducedV1, run.id)
    assert [r.data.stream_id for r in replies] == [f"{run.id}.a.2", f"{run.id}.b.3"]
    assert all(r.data.offline and r.data.room_id == "r1" for r in replies)
    # b saw a's reply: it is quoted by the offline model as the last user turn
    assert replies[0].data.content.split('"')[1] in replies[1].data.content
    deltas = [json.loads(data) for subject, data in env.live.sent]
    assert {d["stream_id"] for d in deltas} == {r.data.stream_id for r in replies}
    assert "".join(d["delta"] for d in deltas if d["stream_id"].endswith(".a.2")) == (
        replies[0].data.content
    )
    assert len(env.events(RunStartedV1, run.id)) == 1
    assert [e.data.node_id for e in env.events(NodeFinishedV1, run.id)] == [
        "start",
        "a",
        "b",
        "end",
    ]
    [completed] = env.events(RunCompletedV1, run.id)
    assert completed.data.output["last_message"] == replies[1].data.content


async def test_the_reference_loop_ends_at_its_step_budget_with_a_clear_error(env: Any) -> None:
    document = json.loads((CORPUS / "valid_reference_loop.json").read_text())["document"]
    run = await env.start(await env.workflow({**document, "limits": {"max_steps": 9}}))

    assert run.status == "failed"
    assert run.error_code == "step_budget_exceeded"
    assert "step budget of 9 steps" in (run.error or "")
    [failure] = env.events(RunFailedV1, run.id)
    assert failure.data.error_code == "step_budget_exceeded"
    # the teacher is a proposal agent, so the router never approves: it loops until the budget
    routed = [s.output["routes"] for s in env.steps(run.id) if s.node_type == "router"]
    assert routed
    assert all(set(r.values()) == {"rejected"} for r in routed)


async def test_an_approving_evaluation_leaves_the_loop(env: Any) -> None:
    graph = env.graph(
        [
            START,
            env.agent_node("student"),
            env.agent_node("teacher", output_behavior="evaluation"),
            {
                "id": "limit",
                "type": "router",
                "config": {
                    "evaluation": "cycle_limit",
                    "branches": ["exceeded", "continue"],
                    "max_cycles": 4,
                },
            },
            END,
        ],
        [
            ("start", "student"),
            ("student", "teacher"),
            ("teacher", "limit"),
            ("limit", "end", "exceeded"),
            ("limit", "student", "continue"),
        ],
    )
    run = await env.start(await env.workflow(graph))

    assert run.status == "succeeded", run.error
    agent_steps = [s for s in env.steps(run.id) if s.node_type == "agent"]
    assert len(agent_steps) == 4  # cycle_count reaches max_cycles after two rounds
    teacher = [s for s in agent_steps if s.node_id == "teacher"]
    assert all(isinstance(s.output["evaluation_result"], bool) for s in teacher)


async def test_fan_out_and_join_waits_for_both_branches_and_merges(env: Any) -> None:
    graph = env.graph(
        [
            START,
            {"id": "fan", "type": "parallel"},
            env.agent_node("a", output_key="answers"),
            env.agent_node("b1", "b"),
            env.agent_node("b2", "b", output_key="answers"),
            {"id": "join", "type": "join", "config": {"reducers": {"answers": "append"}}},
            {"id": "end", "type": "end", "config": {"result_key": "answers"}},
        ],
        [
            ("start", "fan"),
            ("fan", "a"),
            ("fan", "b1"),
            ("b1", "b2"),
            ("a", "join"),
            ("b2", "join"),
            ("join", "end"),
        ],
    )
    run = await env.start(await env.workflow(graph))

    assert run.status == "succeeded", run.error
    steps = {s.node_id: s.step for s in env.steps(run.id)}
    assert steps["a"] == steps["b1"]  # same superstep: really parallel
    assert steps["join"] > steps["b2"] > steps["a"]  # the join waited for the longer branch
    assert len([s for s in env.steps(run.id) if s.node_id == "join"]) == 1
    assert len(run.output["answers"]) == 2
    replies = {r.data.content for r in env.events(AgentMessageProducedV1, run.id)}
    assert set(run.output["answers"]) <= replies


async def test_a_condition_takes_the_branch_its_expression_selects(env: Any) -> None:
    graph = env.graph(
        [
            START,
            {"id": "check", "type": "condition", "config": {"expression": "input.kind == 'quiz'"}},
            env.agent_node("quizzer"),
            env.agent_node("helper"),
            END,
        ],
        [
            ("start", "check"),
            ("check", "quizzer", "true"),
            ("check", "helper", "false"),
            ("quizzer", "end"),
            ("helper", "end"),
        ],
    )
    workflow = await env.workflow(graph)
    quiz = await env.start(workflow, kind="quiz")
    other = await env.start(workflow, kind="chat")

    assert quiz.status == other.status == "succeeded"
    assert "quizzer" in {s.node_id for s in env.steps(quiz.id)}
    assert "helper" not in {s.node_id for s in env.steps(quiz.id)}
    assert "helper" in {s.node_id for s in env.steps(other.id)}
    assert "quizzer" not in {s.node_id for s in env.steps(other.id)}


async def test_human_input_interrupts_and_resume_continues_with_the_answer(env: Any) -> None:
    graph = env.graph(
        [
            START,
            {
                "id": "ask",
                "type": "human_input",
                "config": {"prompt": "Publish?", "choices": ["yes", "no"], "output_key": "answer"},
            },
            {"id": "check", "type": "condition", "config": {"expression": "answer == 'yes'"}},
            {"id": "post", "type": "action", "config": {"text": "Published: {{answer}}"}},
            END,
        ],
        [
            ("start", "ask"),
            ("ask", "check"),
            ("check", "post", "true"),
            ("check", "end", "false"),
            ("post", "end"),
        ],
    )
    workflow = await env.workflow(graph)
    run = await env.start(workflow)

    assert run.status == "interrupted"
    assert run.pending_input == {"node_id": "ask", "prompt": "Publish?", "choices": ["yes", "no"]}
    assert run.lease_owner is None  # no worker is held while a human thinks

    from coagent_workflow_engine.workflows.domain import Caller

    await env.runs.resume(Caller("u1", "teacher"), workflow, run.id, "yes")
    resumed = await env.drive(owner="w2")

    assert resumed.status == "succeeded", resumed.error
    assert resumed.pending_input is None
    assert resumed.resume is None
    assert [s.node_id for s in env.steps(run.id)] == ["start", "ask", "check", "post", "end"]
    [posted] = env.events(AgentMessageProducedV1, run.id)
    assert posted.data.content == "Published: yes"
    assert posted.data.agent_type == "system"
    assert len(env.events(RunStartedV1, run.id)) == 1


async def test_the_token_budget_stops_the_run(env: Any) -> None:
    graph = env.graph(
        [START, env.agent_node("a"), env.agent_node("b"), END],
        [("start", "a"), ("a", "b"), ("b", "end")],
    )
    run = await env.start(await env.workflow(graph, max_tokens=5))

    assert (run.status, run.error_code) == ("failed", "budget_exceeded")
    assert "token budget" in (run.error or "")
    assert "b" not in {s.node_id for s in env.steps(run.id)}  # stopped before the next model call


async def test_the_wall_clock_limit_times_the_run_out(slow_env: Any) -> None:
    env = slow_env
    graph = env.graph([START, env.agent_node("slow"), END], [("start", "slow"), ("slow", "end")])
    run = await env.start(await env.workflow(graph, timeout_s=0.5))

    assert (run.status, run.error_code) == ("timed_out", "timeout")
    [failure] = env.events(RunFailedV1, run.id)
    assert failure.data.status == "timed_out"


async def test_an_http_node_refused_by_the_address_rules_fails_its_step_and_the_run(
    env: Any,
) -> None:
    node = {"id": "t", "type": "http", "config": {"url": "http://169.254.169.254/latest/"}}
    graph = env.graph([START, node, END], [("start", "t"), ("t", "end")])
    run = await env.start(await env.workflow(graph))

    assert (run.status, run.error_code) == ("failed", "node_failed")
    failed_step = [s for s in env.steps(run.id) if s.node_id == "t"][0]
    assert failed_step.status == "failed"
    assert "cloud metadata address" in (failed_step.error or "")
