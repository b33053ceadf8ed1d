"""The pool's dispatcher: at most ``concurrency`` runs at once, and one claim per idle poll."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from coagent_workflow_engine.domain import Run
from coagent_workflow_engine.runtime.worker import WorkerPool
from coagent_workflow_engine.workflows.domain import Caller

OWNER = Caller("u1", "teacher")
START = {"id": "start", "type": "start"}
END = {"id": "end", "type": "end"}


class CountingPool(WorkerPool):
    """Counts claim queries and the most runs it ever ran at once."""

    claims = 0
    busiest = 0

    async def _claim(self) -> Run | None:
        self.claims += 1
        return await super()._claim()

    async def _run(self, run: Run) -> None:
        self.busiest = max(self.busiest, len(self.running) + 1)
        await super()._run(run)


async def _until(check: Any, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


async def test_an_idle_pool_polls_once_per_interval_not_once_per_slot(env: Any) -> None:
    pool = CountingPool(env.executor, concurrency=16, lease_s=5, poll_s=0.1)
    await pool.start()
    try:
        await asyncio.sleep(1.0)
    finally:
        await pool.stop()
    assert 1 <= pool.claims <= 15  # about ten polls, where one loop per slot made ~160


async def test_a_backlog_runs_at_most_concurrency_at_once_and_drains(slow_env: Any) -> None:
    env = slow_env
    graph = env.graph([START, env.agent_node("slow"), END], [("start", "slow"), ("slow", "end")])
    workflow = await env.workflow(graph)
    runs = [await env.runs.execute(OWNER, workflow, "r1", {"content": "hi"}) for _ in range(5)]
    pool = CountingPool(env.executor, concurrency=2, lease_s=5, poll_s=10)
    await pool.start()
    pool.wake()
    try:
        finished = lambda: all(env.store.runs[r.id].status == "succeeded" for r in runs)  # noqa: E731
        # The poll interval is far longer than the test: freed slots claim without waiting.
        await _until(finished, 15.0)
    finally:
        await pool.stop()
    assert pool.busiest == 2
