"""The ``subworkflow`` node: another workflow's version as a child run, executed inline.

The child is a run of its own (own id, own timeline and checkpoints, ``parent_run_id`` pointing
back) that the parent's worker executes inside the node, under a lease it renews, so no other
worker claims it and cancelling the parent's task cancels the child's too. Its budgets are its
graph's, bounded by what the parent has left; the child's tokens and cost are charged to the
parent's step. A parent resumed after a crash finds its child by a key derived from the node
execution and continues it (or waits for the worker that took it over) instead of starting a
second one. Cycles: a workflow already running above in the chain, or a chain deeper than
``MAX_DEPTH``, fails the node.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import replace
from datetime import timedelta
from typing import Any

from coagent_contracts.envelope import uuid7
from coagent_workflow_engine.domain import Run
from coagent_workflow_engine.graphs.model import RunLimits, SubworkflowNode
from coagent_workflow_engine.lifecycle import cancelled
from coagent_workflow_engine.runtime.context import NodeResult, RunContext
from coagent_workflow_engine.runtime.deps import BudgetExceeded, ChildRunner, NodeError
from coagent_workflow_engine.service import run_queued
from coagent_workflow_engine.workflows.domain import WorkflowNotRunnable
from coagent_workflow_engine.workflows.service import runnable_graph

State = dict[str, Any]
#: Parent → child → … chains longer than this fail (the run-time backstop for cycles).
MAX_DEPTH = 5
CHILD_LEASE_S = 15.0
#: How often a parent waiting on a child that another worker executes looks at it again.
WAIT_POLL_S = 0.5


def child_key(parent: Run, node_id: str, step: int) -> str:
    """The idempotency key of the child started by one node execution."""
    return f"subworkflow:{parent.id}:{node_id}:{step}"


async def ancestry(ctx: RunContext) -> list[Run]:
    """This run and its ancestors, nearest first (at most ``MAX_DEPTH + 1`` runs)."""
    chain = [ctx.run]
    async with ctx.deps.uow() as uow:
        while chain[-1].parent_run_id is not None and len(chain) <= MAX_DEPTH:
            parent = await uow.runs.by_id(chain[-1].parent_run_id)
            if parent is None:
                break
            chain.append(parent)
    return chain


def bounded_limits(ctx: RunContext, own: RunLimits) -> RunLimits:
    """The child's own limits, tightened to what the parent has left."""
    parent = ctx.limits
    tokens_left = parent.max_tokens - ctx.tokens_used
    cost_left = parent.max_cost_usd - ctx.cost_used
    elapsed = (ctx.now() - (ctx.run.started_at or ctx.now())).total_seconds()
    time_left = parent.timeout_s - elapsed
    if tokens_left <= 0 or cost_left <= 0 or time_left <= 0:
        raise BudgetExceeded("no budget left for the subworkflow")
    return RunLimits(
        max_steps=min(own.max_steps, parent.max_steps),
        max_tokens=min(own.max_tokens, tokens_left),
        max_cost_usd=min(own.max_cost_usd, cost_left),
        timeout_s=min(own.timeout_s, time_left),
    )


async def _new_child(ctx: RunContext, node: SubworkflowNode, state: State, key: str) -> Run:
    cfg, parent = node.config, ctx.run
    chain = await ancestry(ctx)
    if len(chain) > MAX_DEPTH:
        raise NodeError(f"subworkflows nest deeper than {MAX_DEPTH} levels")
    if cfg.workflow_id in {run.workflow_id for run in chain}:
        raise NodeError(f"workflow {cfg.workflow_id} is already running above (a cycle)")
    async with ctx.deps.uow() as uow:
        workflow = await uow.workflows.get(cfg.workflow_id)
        if workflow is None or workflow.created_by != parent.created_by:
            raise NodeError(f"workflow {cfg.workflow_id} does not exist")
        number = cfg.version or workflow.current_version
        version = await uow.workflows.version(cfg.workflow_id, number)
    if version is None:
        raise NodeError(f"workflow {cfg.workflow_id} has no version {number}")
    try:
        limits = bounded_limits(ctx, runnable_graph(version).limits)
    except WorkflowNotRunnable as exc:
        raise NodeError(exc.detail) from exc
    now = ctx.now()
    child = Run.queued(
        str(uuid7()),
        cfg.workflow_id,
        None,
        parent.room_id,
        now,
        number,
        created_by=parent.created_by,
        input={child: state.get(source) for child, source in cfg.inputs.items()},
        idempotency_key=key,
    )
    return replace(
        child,
        status="running",  # held by this worker from the start: no claim loop takes it
        started_at=now,
        attempt=1,
        lease_owner=parent.lease_owner or f"parent-{parent.id}",
        lease_expires_at=now + timedelta(seconds=CHILD_LEASE_S),
        parent_run_id=parent.id,
        limits=limits.model_dump(),
    )


async def _keep_lease(ctx: RunContext, child: Run) -> None:
    owner = child.lease_owner or ""
    while True:
        await asyncio.sleep(CHILD_LEASE_S / 3)
        with contextlib.suppress(Exception):  # a missed renewal is retried at the next beat
            async with ctx.deps.uow() as uow:
                await uow.runs.renew(child.id, owner, CHILD_LEASE_S, ctx.now())
                await uow.commit()


async def _parent_ends(ctx: RunContext) -> bool:
    """Whether the parent's task was cancelled because the parent run ends (cancel request,
    wall-clock limit) rather than because its worker stops (the lease then passes it on)."""
    elapsed = (ctx.now() - (ctx.run.started_at or ctx.now())).total_seconds()
    if elapsed >= ctx.limits.timeout_s:
        return True
    async with ctx.deps.uow() as uow:
        parent = await uow.runs.by_id(ctx.run.id)
    return parent is None or parent.cancel_requested or parent.is_terminal


async def _execute_inline(ctx: RunContext, runner: ChildRunner, child: Run) -> None:
    """Run ``child`` here; if the parent run ends meanwhile, the child is recorded cancelled."""
    beat = asyncio.create_task(_keep_lease(ctx, child))
    try:
        await runner.execute(child)
    except asyncio.CancelledError:
        if await _parent_ends(ctx):
            await runner.finish_cancelled(child.id, child.lease_owner, "its parent run stopped")
        raise
    finally:
        beat.cancel()


async def _take_over(ctx: RunContext, child: Run) -> Run | None:
    """The child with this worker's lease if nobody holds it any more, else ``None``."""
    now = ctx.now()
    if child.lease_expires_at is not None and child.lease_expires_at > now:
        return None
    taken = replace(
        child,
        status="running",
        lease_owner=ctx.run.lease_owner or f"parent-{ctx.run.id}",
        lease_expires_at=now + timedelta(seconds=CHILD_LEASE_S),
        attempt=child.attempt + 1,
    )
    async with ctx.deps.uow() as uow:
        await uow.runs.save(taken)
        await uow.commit()
    return taken


async def _settled(ctx: RunContext, runner: ChildRunner, child_id: str) -> Run:
    """Drive or wait for the child until it is terminal (or waits for a human)."""
    while True:
        async with ctx.deps.uow() as uow:
            child = await uow.runs.by_id(child_id)
        assert child is not None
        if child.is_terminal or child.status == "interrupted":
            return child
        taken = await _take_over(ctx, child)
        if taken is not None:
            await _execute_inline(ctx, runner, taken)
            continue
        try:
            await asyncio.sleep(WAIT_POLL_S)  # another worker executes it
        except asyncio.CancelledError:
            if await _parent_ends(ctx):
                await _request_cancel(ctx, child_id)
            raise


async def _request_cancel(ctx: RunContext, child_id: str) -> None:
    """Flag a child another worker executes; its heartbeat stops it."""
    async with ctx.deps.uow() as uow:
        child = await uow.runs.by_id(child_id)
        if child is not None and not child.is_terminal:
            await uow.runs.save(replace(child, cancel_requested=True))
            await uow.commit()


async def _cancel_waiting(ctx: RunContext, child: Run) -> None:
    async with ctx.deps.uow() as uow:
        done, event = cancelled(child, ctx.now(), "subworkflows cannot wait for human input")
        await uow.runs.save(done)
        await uow.publish(event)
        await uow.commit()


async def run_subworkflow(
    ctx: RunContext, node: SubworkflowNode, state: State, step: int
) -> NodeResult:
    runner, cfg = ctx.children, node.config
    if runner is None:
        raise NodeError("subworkflows need a run executor")
    key = child_key(ctx.run, node.id, step)
    async with ctx.deps.uow() as uow:
        child = await uow.runs.by_idempotency_key(cfg.workflow_id, ctx.run.created_by, key)
    if child is None:
        child = await _new_child(ctx, node, state, key)
        async with ctx.deps.uow() as uow:
            added = await uow.runs.add(child)
            if added:
                await uow.publish(run_queued(child))
            await uow.commit()
        if not added:  # another execution of this node created it first: follow that one
            async with ctx.deps.uow() as uow:
                child = await uow.runs.by_idempotency_key(cfg.workflow_id, ctx.run.created_by, key)
            if child is None:
                raise NodeError("the child run could not be created")
        else:
            await _execute_inline(ctx, runner, child)
    child = await _settled(ctx, runner, child.id)
    return await _outcome(ctx, node, child)


async def _outcome(ctx: RunContext, node: SubworkflowNode, child: Run) -> NodeResult:
    if child.status == "interrupted":
        await _cancel_waiting(ctx, child)
        raise NodeError(f"child run {child.id} waits for human input, which subworkflows lack")
    if child.status != "succeeded":
        reason = f"{child.error_code}: {child.error}" if child.error else child.status
        raise NodeError(f"child run {child.id} ended {child.status} ({reason})")
    async with ctx.deps.uow() as uow:
        steps = await uow.steps.of_run(child.id)
    tokens, cost = sum(s.tokens for s in steps), sum(s.cost for s in steps)
    key = node.config.output_key
    recorded: dict[str, Any] = {"child_run_id": child.id, "workflow_id": child.workflow_id}
    recorded["workflow_version"] = child.workflow_version
    update = {key: child.output or {}} if key else {}
    return NodeResult(update, recorded, tokens, cost)
