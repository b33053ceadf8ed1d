"""Worker pool semantics on memory adapters: cancel mid-stream, crash recovery from checkpoints."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from datetime import timedelta
from typing import Any

from coagent_contracts.workflow import AgentMessageProducedV1, RunCancelledV1
from coagent_workflow_engine.runtime.worker import WorkerPool
from coagent_workflow_engine.workflows.domain import Caller

OWNER = Caller("u1", "teacher")
START = {"id": "start", "type": "start"}
END = {"id": "end", "type": "end"}


async def _until(check: Any, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


async def test_cancel_stops_a_streaming_agent_within_two_seconds(slow_env: Any) -> None:
    env = slow_env
    graph = env.graph([START, env.agent_node("slow"), END], [("start", "slow"), ("slow", "end")])
    workflow = await env.workflow(graph)
    pool = WorkerPool(env.executor, concurrency=1, lease_s=5, poll_s=0.05)
    env.runs.on_cancel = lambda run_id: _cancel(pool, run_id)
    await pool.start()
    try:
        run = await env.runs.execute(OWNER, workflow, "r1", {"content": "tell me a long story"})
        await _until(lambda: len(env.live.sent) >= 2)  # the model is streaming
        asked = time.monotonic()
        await env.runs.cancel(OWNER, workflow, run.id)
        await _until(lambda: env.store.runs[run.id].status == "cancelled", 2.0)
        assert time.monotonic() - asked < 2.0
    finally:
        await pool.stop()
    stopped = env.store.runs[run.id]
    assert stopped.lease_owner is None
    assert stopped.finished_at is not None
    assert len(env.events(RunCancelledV1, run.id)) == 1
    assert env.events(AgentMessageProducedV1, run.id) == []  # the half reply is never posted


async def _cancel(pool: WorkerPool, run_id: str) -> None:
    pool.cancel_local(run_id)


async def test_a_run_whose_worker_died_resumes_from_its_checkpoint_and_posts_once(
    slow_env: Any,
) -> None:
    env = slow_env
    graph = env.graph(
        [START, env.agent_node("a"), env.agent_node("slow"), END],
        [("start", "a"), ("a", "slow"), ("slow", "end")],
    )
    workflow = await env.workflow(graph)
    first = WorkerPool(env.executor, concurrency=1, lease_s=30, poll_s=0.05, owner="w1")
    await first.start()
    run = await env.runs.execute(OWNER, workflow, "r1", {"content": "hello"})
    await _until(lambda: _streaming(env, run.id))  # a is done, slow is mid-stream
    await first.stop()  # the worker dies mid-call: no terminal state, the lease stays
    dead = env.store.runs[run.id]
    assert (dead.status, dead.lease_owner) == ("running", "w1")

    env.store.runs[run.id] = replace(
        dead, lease_expires_at=dead.lease_expires_at - timedelta(seconds=60)
    )
    second = WorkerPool(env.executor, concurrency=1, lease_s=30, poll_s=0.05, owner="w2")
    await second.start()
    try:
        await _until(lambda: env.store.runs[run.id].status == "succeeded", 10.0)
    finally:
        await second.stop()
    done = env.store.runs[run.id]
    assert (done.attempt, done.lease_owner) == (2, None)
    replies = env.events(AgentMessageProducedV1, run.id)
    assert [r.data.stream_id for r in replies] == [f"{run.id}.a.2", f"{run.id}.slow.3"]
    assert env.models.calls.count("a") == 1  # a was checkpointed: not asked again


def _streaming(env: Any, run_id: str) -> bool:
    return any(f'"stream_id":"{run_id}.slow.3"'.encode() in data for _, data in env.live.sent)
