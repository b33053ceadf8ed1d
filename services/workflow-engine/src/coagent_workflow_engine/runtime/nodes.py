"""Node implementations other than agent turns, and the wrapper every node runs inside.

The wrapper is where the run's guarantees live: the between-step check (cancel flag, budgets),
reuse of a step already recorded (crash recovery without repeating side effects), and one step
row + ``NodeFinishedV1`` per node execution.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.errors import GraphBubbleUp
from langgraph.types import interrupt

from coagent_contracts.workflow import AgentMessageProducedData, AgentMessageProducedV1
from coagent_kit.tracing import NODE_ID, ROOM_ID, RUN_ID, Attributes, span
from coagent_workflow_engine.graphs import compile_expression
from coagent_workflow_engine.graphs.model import (
    ActionNode,
    AgentNode,
    AnyNode,
    ConditionNode,
    EndNode,
    HumanInputNode,
    RouterNode,
)
from coagent_workflow_engine.lifecycle import PRODUCER
from coagent_workflow_engine.runtime.agent_node import choose_branch, run_agent
from coagent_workflow_engine.runtime.artifact_action import update_artifact
from coagent_workflow_engine.runtime.context import NodeResult, RunContext
from coagent_workflow_engine.runtime.deps import NodeError, NodeFailed
from coagent_workflow_engine.runtime.http_node import run_http, run_tool
from coagent_workflow_engine.runtime.subworkflow import run_subworkflow
from coagent_workflow_engine.runtime.templates import render

State = dict[str, Any]
NodeImpl = Callable[[RunContext, Any, State, int], Awaitable[NodeResult]]
LangGraphNode = Callable[[State, RunnableConfig], Awaitable[dict[str, Any]]]


def wrap(ctx: RunContext, node: AnyNode) -> LangGraphNode:
    """The LangGraph node function of ``node`` in this run."""
    impl = IMPLEMENTATIONS[node.type]

    async def run_node(state: State, config: RunnableConfig) -> dict[str, Any]:
        step = int((config.get("metadata") or {}).get("langgraph_step", 0))
        await ctx.check()
        done = await ctx.recorded(node.id, step)
        if done is not None and done.status == "succeeded":
            return done.output
        started = ctx.now()
        # The step row and the node's events (an agent reply) are written inside the node's span,
        # so what they cause downstream hangs under this node in the trace.
        with span("workflow.node", _node_attributes(ctx, node, step)):
            try:
                result = await impl(ctx, node, state, step)
            except (GraphBubbleUp, asyncio.CancelledError):
                raise  # interrupts and cancellation are not failures of the node
            except Exception as exc:
                error = str(exc) or type(exc).__name__
                await ctx.finish_step(node, step, started, None, error)
                raise NodeFailed(node.id, error) from exc
            await ctx.finish_step(node, step, started, result)
        return result.update

    return run_node


def _node_attributes(ctx: RunContext, node: AnyNode, step: int) -> Attributes:
    return {
        RUN_ID: ctx.run.id,
        ROOM_ID: ctx.run.room_id,
        NODE_ID: node.id,
        "coagent.node_type": node.type,
        "coagent.step": step,
    }


async def _passthrough(ctx: RunContext, node: AnyNode, state: State, step: int) -> NodeResult:
    return NodeResult({})


async def _end(ctx: RunContext, node: EndNode, state: State, step: int) -> NodeResult:
    key = node.config.result_key
    return NodeResult({}, {"result_key": key} if key else {})


async def _agent(ctx: RunContext, node: AgentNode, state: State, step: int) -> NodeResult:
    return await run_agent(ctx, node, state, step)


async def _router(ctx: RunContext, node: RouterNode, state: State, step: int) -> NodeResult:
    cfg, tokens, cost = node.config, 0, 0.0
    if cfg.evaluation == "is_approved":
        label = "approved" if state.get(cfg.key) is True else "rejected"
    elif cfg.evaluation == "cycle_limit":
        label = "exceeded" if int(state.get("cycle_count") or 0) >= cfg.max_cycles else "continue"
    elif cfg.evaluation == "rules":
        chosen = [r.branch for r in cfg.rules if compile_expression(r.when).test(state)]
        assert cfg.default is not None  # required by the config for "rules"
        label = chosen[0] if chosen else cfg.default
    else:
        label, tokens, cost = await choose_branch(ctx, node, state)
    return NodeResult({"routes": {node.id: label}}, {"evaluation": cfg.evaluation}, tokens, cost)


async def _condition(ctx: RunContext, node: ConditionNode, state: State, step: int) -> NodeResult:
    held = compile_expression(node.config.expression).test(state)
    return NodeResult({"routes": {node.id: "true" if held else "false"}})


async def _human_input(
    ctx: RunContext, node: HumanInputNode, state: State, step: int
) -> NodeResult:
    cfg = node.config
    asked = {"node_id": node.id, "prompt": cfg.prompt, "choices": cfg.choices}
    answer = interrupt(asked)  # pauses the run; the resume endpoint supplies ``answer``
    if cfg.choices is not None and answer not in cfg.choices:
        raise NodeError(f"answer {answer!r} is not one of {cfg.choices}")
    return NodeResult({cfg.output_key: answer}, {"prompt": cfg.prompt})


async def _action(ctx: RunContext, node: ActionNode, state: State, step: int) -> NodeResult:
    cfg, run = node.config, ctx.run
    if cfg.action_type == "update_artifact":
        return await update_artifact(ctx, node, state, step)
    if run.room_id is None:
        raise NodeError("post_to_room needs a run bound to a room")
    if cfg.from_key is not None:
        text = str(state.get(cfg.from_key) or "")
    else:
        text = render(cfg.text or "", state)
    if not text:
        raise NodeError("nothing to post: the text is empty")
    event = AgentMessageProducedV1(
        producer=PRODUCER,
        correlation_id=run.id,
        data=AgentMessageProducedData(
            run_id=run.id,
            workflow_id=run.workflow_id,
            workflow_version=run.workflow_version,
            room_id=run.room_id,
            agent_id=run.workflow_id,
            agent_name=node.label or ctx.workflow_name,
            agent_type="system",
            stream_id=f"{run.id}.{node.id}.{step}",
            content=text,
            metadata={"source": "workflow_action", "node_id": node.id},
        ),
    )
    return NodeResult({}, {"action_type": cfg.action_type}, events=[event])


IMPLEMENTATIONS: dict[str, NodeImpl] = {
    "start": _passthrough,
    "parallel": _passthrough,
    "join": _passthrough,
    "end": _end,
    "agent": _agent,
    "router": _router,
    "condition": _condition,
    "human_input": _human_input,
    "action": _action,
    "http": run_http,
    "tool": run_tool,
    "subworkflow": run_subworkflow,
}
