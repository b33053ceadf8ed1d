"""Runs one claimed run on LangGraph until it ends, waits for a human, or its task is cancelled.

The thread id is the run id, so a run claimed again after its worker died continues from its
last checkpoint (``ainvoke(None)``) instead of starting over. Every way out is a terminal state:
step budget (``recursion_limit``), token/cost budget, wall-clock limit (``timed_out``), a failed
node, a cancel request, or any unexpected error; only this task's cancellation (worker shutdown
or crash) leaves the run ``running`` under a lease that will expire.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.errors import GraphRecursionError
from langgraph.types import Command

from coagent_contracts.envelope import Event
from coagent_kit.logging import get_logger
from coagent_kit.tracing import span
from coagent_workflow_engine.domain import Run
from coagent_workflow_engine.graphs.model import EndNode
from coagent_workflow_engine.lifecycle import (
    cancelled,
    failed,
    interrupted,
    run_started,
    succeeded,
)
from coagent_workflow_engine.metrics import record_run_finished, record_run_started
from coagent_workflow_engine.runtime.compile import compile_run
from coagent_workflow_engine.runtime.context import RunContext, run_attributes
from coagent_workflow_engine.runtime.deps import RunStopped, RuntimeDeps
from coagent_workflow_engine.workflows.service import runnable_graph

log = get_logger(__name__)
Transition = Callable[[Run], tuple[Run, Event | None]]


class RunExecutor:
    """Executes claimed runs; shared by every worker of the process."""

    def __init__(self, deps: RuntimeDeps, checkpointer: BaseCheckpointSaver[Any]) -> None:
        self.deps = deps
        self._checkpointer = checkpointer

    async def execute(self, run: Run) -> None:
        """Drive ``run`` (claimed by ``run.lease_owner``) to its next resting state.

        The run's span continues the trace stored with the run by whoever queued it.
        """
        with span("workflow.run", run_attributes(run), parent=run.trace_context):
            await self._execute(run)

    async def _execute(self, run: Run) -> None:
        try:
            ctx = await self._context(run)
        except Exception as exc:
            await self._fail(run, "not_runnable", str(exc))
            return
        if run.attempt == 1:
            await self._publish(run_started(run))
            record_run_started(run)
        graph = compile_run(ctx, self._checkpointer)
        config: RunnableConfig = {
            "configurable": {"thread_id": run.id},
            "recursion_limit": ctx.limits.max_steps,
        }
        elapsed = (self._now() - (run.started_at or self._now())).total_seconds()
        timeout = asyncio.timeout(max(ctx.limits.timeout_s - elapsed, 0.001))
        outcome: tuple[str, str] | None = None  # (error_code, error) of a run that did not succeed
        try:
            async with timeout:
                await graph.ainvoke(await self._payload(run, graph, config), config)
        except TimeoutError as exc:
            outcome = (
                ("timeout", f"wall-clock limit of {ctx.limits.timeout_s:g} s reached")
                if timeout.expired()
                else ("internal_error", repr(exc))
            )
        except GraphRecursionError:
            limit = ctx.limits.max_steps
            outcome = (
                "step_budget_exceeded",
                f"step budget of {limit} steps exhausted before reaching an end node",
            )
        except RunStopped as exc:
            outcome = (exc.code, str(exc))
        except Exception as exc:
            log.exception("run_crashed", run_id=run.id)
            outcome = ("internal_error", f"{type(exc).__name__}: {exc}")
        if outcome is None:
            await self._settle(ctx, graph, config)
        elif outcome[0] == "cancelled":
            reason = outcome[1]
            await self.finish(run.id, run.lease_owner, lambda r: cancelled(r, self._now(), reason))
        else:
            await self._fail(run, *outcome)

    async def _fail(self, run: Run, code: str, error: str) -> None:
        timed_out = code == "timeout"
        await self.finish(
            run.id,
            run.lease_owner,
            lambda r: failed(r, self._now(), code, error, timed_out=timed_out),
        )

    async def finish_cancelled(self, run_id: str, owner: str | None, reason: str) -> None:
        """The run's task was cancelled on request: record it (called by the worker)."""
        await self.finish(run_id, owner, lambda r: cancelled(r, self._now(), reason))

    async def finish(self, run_id: str, owner: str | None, transition: Transition) -> bool:
        """Apply ``transition`` unless the run already ended or another worker now holds it."""
        async with self.deps.uow() as uow:
            current = await uow.runs.by_id(run_id)
            if current is None or current.is_terminal:
                return False
            if owner is not None and current.lease_owner not in (owner, None):
                return False  # lease lost: the new holder decides
            after, event = transition(current)
            await uow.runs.save(replace(after, resume=None))
            if event is not None:
                await uow.publish(event)
            await uow.commit()
        record_run_finished(after)
        return True

    # -- internals ------------------------------------------------------------------------------

    def _now(self) -> Any:
        return self.deps.clock()

    async def _context(self, run: Run) -> RunContext:
        async with self.deps.uow() as uow:
            version = await uow.workflows.version(run.workflow_id, run.workflow_version)
            workflow = await uow.workflows.get(run.workflow_id)
        if version is None:
            raise LookupError(f"workflow {run.workflow_id} has no version {run.workflow_version}")
        ctx = RunContext(
            run, workflow.name if workflow else run.workflow_id, runnable_graph(version), self.deps
        )
        ctx.children = self  # subworkflow nodes run their child runs through this executor
        await ctx.load_totals()
        return ctx

    async def _publish(self, event: Event) -> None:
        async with self.deps.uow() as uow:
            await uow.publish(event)
            await uow.commit()

    async def _payload(self, run: Run, graph: Any, config: RunnableConfig) -> Any:
        if run.resume is not None:
            return Command(resume=run.resume.get("value"))
        snapshot = await graph.aget_state(config)
        if snapshot.created_at is not None:
            return None  # a checkpoint exists: continue from it
        return {"input": run.input, "messages": [], "cycle_count": 0, "routes": {}}

    async def _settle(self, ctx: RunContext, graph: Any, config: RunnableConfig) -> None:
        snapshot = await graph.aget_state(config)
        owner = ctx.run.lease_owner
        asked = [i.value for task in snapshot.tasks for i in task.interrupts]
        if snapshot.next and asked:
            value = asked[0] if isinstance(asked[0], dict) else {"prompt": str(asked[0])}
            await self.finish(ctx.run.id, owner, lambda r: (interrupted(r, value), None))
            return
        state: dict[str, Any] = dict(snapshot.values)
        output: dict[str, Any] = {}
        for end in ctx.graph.nodes:
            if isinstance(end, EndNode) and end.config.result_key in state:
                output[end.config.result_key] = state[end.config.result_key]
        messages = state.get("messages") or []
        if messages:
            output["last_message"] = messages[-1].get("content")
        if state.get("current_proposal") is not None:
            output.setdefault("current_proposal", state["current_proposal"])
        output["tokens"], output["cost_usd"] = ctx.tokens_used, round(ctx.cost_used, 6)
        await self.finish(ctx.run.id, owner, lambda r: succeeded(r, self._now(), output))
