"""Agent turns: build the prompt from room history + run messages, stream the reply to the room.

The reply's ``stream_id`` is ``<run_id>.<node_id>.<step>``: deterministic, so a node re-run after
a crash announces the same id and chat stores the reply once. Evaluations and ``agent_choice``
routers use structured output (a bool verdict, or an enum of declared branch labels), never a
substring test on free text.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, Field, create_model

from coagent_contracts.envelope import Event
from coagent_contracts.live import MessageDeltaFrame, room_live
from coagent_contracts.workflow import AgentMessageProducedData, AgentMessageProducedV1
from coagent_kit.logging import get_logger
from coagent_workflow_engine.domain import HistoryMessage
from coagent_workflow_engine.graphs.model import AgentNode, RouterNode
from coagent_workflow_engine.lifecycle import PRODUCER
from coagent_workflow_engine.llm import ChatMessage, ChatModel, ChatRequest, cost_of
from coagent_workflow_engine.llm.metering import metered
from coagent_workflow_engine.llm.tracing import TracedChatModel
from coagent_workflow_engine.runtime.context import NodeResult, RunContext
from coagent_workflow_engine.runtime.deps import AgentSpec, NodeError

log = get_logger(__name__)
_NAME = re.compile(r"[^A-Za-z0-9_-]")
CONTINUE = "Continue the conversation in your role."


class Verdict(BaseModel):
    """An evaluation agent's structured answer."""

    approved: bool
    feedback: str = Field(default="", max_length=4000)


async def _agent(ctx: RunContext, agent_id: str, version: int | None) -> AgentSpec:
    spec = await ctx.deps.agents.resolve(agent_id, version)
    if spec is None:
        raise NodeError(f"agent {agent_id} not found")
    return spec


async def _model(ctx: RunContext, spec: AgentSpec) -> ChatModel:
    key = await ctx.deps.agents.api_key(spec, ctx.run.created_by)
    run = ctx.run
    model = metered(ctx.deps.models(spec, key, run), run.created_by or "anonymous", run.id)
    return TracedChatModel(model)


def _name(value: str | None) -> str | None:
    return _NAME.sub("_", value)[:64] if value else None


async def _history(ctx: RunContext, spec: AgentSpec) -> list[HistoryMessage]:
    """Room messages from before the run: the run's own messages come from its state, so a
    resumed run builds the same prompt whatever chat has stored since."""
    room = ctx.run.room_id
    if room is None or spec.context_window <= 0:
        return []
    async with ctx.deps.uow() as uow:
        recent = await uow.history.recent(room, spec.context_window)
    return [m for m in recent if m.created_at < ctx.run.created_at]


def build_request(
    spec: AgentSpec,
    instructions: str | None,
    history: list[HistoryMessage],
    state: dict[str, Any],
) -> ChatRequest:
    """System prompt, room history, trigger payload, then this run's messages."""
    system = spec.system_prompt + (f"\n\n{instructions}" if instructions else "")
    messages = [ChatMessage(role="system", content=system or f"You are {spec.name}.")]
    for m in history:
        own = m.agent_id == spec.id
        role: Literal["user", "assistant"] = "assistant" if own else "user"
        messages.append(ChatMessage(role=role, content=m.content, name=_name(m.sender_name)))
    trigger = state.get("input") or {}
    content = trigger.get("content") if isinstance(trigger, dict) else None
    if isinstance(content, str) and content and (not history or history[-1].content != content):
        messages.append(ChatMessage(role="user", content=content))
    for m in state.get("messages") or []:
        own = m.get("agent_id") == spec.id
        role = "assistant" if own else "user"
        text = str(m.get("content", ""))
        messages.append(ChatMessage(role=role, content=text, name=_name(m.get("name"))))
    if messages[-1].role != "user":
        messages.append(ChatMessage(role="user", content=CONTINUE))
    temperature = spec.settings.get("temperature")
    return ChatRequest(
        messages=messages,
        model=spec.model,
        temperature=temperature if isinstance(temperature, int | float) else None,
    )


async def _stream(
    ctx: RunContext, model: ChatModel, request: ChatRequest, spec: AgentSpec, stream_id: str
) -> tuple[str, int, float, bool]:
    room, index, final = ctx.run.room_id, 0, None
    async for delta in model.stream(request):
        if delta.completion is not None:
            final = delta.completion
        elif delta.text and room is not None:
            frame = MessageDeltaFrame(
                room_id=room,
                stream_id=stream_id,
                index=index,
                delta=delta.text,
                run_id=ctx.run.id,
                agent_id=spec.id,
                agent_name=spec.name,
            )
            index += 1
            try:
                await ctx.deps.live.publish(room_live(room), frame.model_dump_json().encode())
            except Exception as exc:  # a lost delta is cosmetic; the stored reply follows
                log.warning("message_delta_lost", run_id=ctx.run.id, error=str(exc))
    if final is None:
        raise NodeError("the model's stream ended without a completion")
    return final.text, final.usage.total_tokens, final.cost_usd, final.offline


async def run_agent(
    ctx: RunContext, node: AgentNode, state: dict[str, Any], step: int
) -> NodeResult:
    """One agent turn; posts the reply to the run's room (if any) through the outbox."""
    cfg = node.config
    spec = await _agent(ctx, cfg.agent_id, cfg.agent_version)
    model = await _model(ctx, spec)
    request = build_request(spec, cfg.instructions, await _history(ctx, spec), state)
    stream_id = f"{ctx.run.id}.{node.id}.{step}"
    update: dict[str, Any] = {}
    if cfg.output_behavior == "evaluation":
        verdict, usage = await model.structured(request, Verdict)
        model_name = request.model or model.default_model
        offline = model.provider == "offline"
        cost, _ = cost_of(model_name, usage, offline=offline)
        text, tokens = verdict.feedback or ("Approved." if verdict.approved else "Rejected."), 0
        tokens = usage.total_tokens
        update["evaluation_result"] = verdict.approved
    else:
        text, tokens, cost, offline = await _stream(ctx, model, request, spec, stream_id)
        if cfg.output_behavior == "proposal":
            update["current_proposal"] = text
    if cfg.output_key:
        update[cfg.output_key] = text
    update["messages"] = [
        {
            "type": cfg.output_behavior,
            "node_id": node.id,
            "agent_id": spec.id,
            "name": spec.name,
            "content": text,
        }
    ]
    update["cycle_count"] = 1
    events: list[Event] = []
    if ctx.run.room_id is not None:
        events.append(_reply(ctx, spec, text, stream_id, offline, model.provider))
    recorded = {
        "agent_id": spec.id,
        "agent_version": spec.version,
        "prompt_messages": len(request.messages),
    }
    return NodeResult(update, recorded, tokens, cost, events)


def _reply(
    ctx: RunContext, spec: AgentSpec, text: str, stream_id: str, offline: bool, provider: str
) -> AgentMessageProducedV1:
    run = ctx.run
    assert run.room_id is not None
    return AgentMessageProducedV1(
        producer=PRODUCER,
        correlation_id=run.id,
        data=AgentMessageProducedData(
            run_id=run.id,
            workflow_id=run.workflow_id,
            workflow_version=run.workflow_version,
            room_id=run.room_id,
            agent_id=spec.id,
            agent_name=spec.name,
            agent_type=spec.type,
            offline=offline,
            stream_id=stream_id,
            content=text,
            metadata={"provider": provider, "agent_version": spec.version},
        ),
    )


async def choose_branch(
    ctx: RunContext, node: RouterNode, state: dict[str, Any]
) -> tuple[str, int, float]:
    """``agent_choice``: the agent answers with one of the declared labels (an enum schema)."""
    cfg = node.config
    assert cfg.agent_id is not None
    spec = await _agent(ctx, cfg.agent_id, None)
    model = await _model(ctx, spec)
    labels = tuple(cfg.branches)
    choice_model = create_model(
        "BranchChoice",
        branch=(Literal[labels], ...),  # type: ignore[arg-type]
    )
    request = build_request(
        spec,
        (cfg.instructions or "") + f"\nChoose exactly one branch among: {', '.join(labels)}.",
        await _history(ctx, spec),
        state,
    )
    value, usage = await model.structured(request, choice_model)
    offline = model.provider == "offline"
    cost, _ = cost_of(request.model or model.default_model, usage, offline=offline)
    return str(value.branch), usage.total_tokens, cost  # type: ignore[attr-defined]
