"""An offline agent configured with ``offline_pace_s`` streams its reply at that pace."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from coagent_workflow_engine.domain import Run
from coagent_workflow_engine.llm import ChatMessage, ChatRequest, OfflineChatModel
from coagent_workflow_engine.runtime.deps import MAX_OFFLINE_PACE_S, AgentSpec, default_models

REQUEST = ChatRequest(messages=[ChatMessage(role="user", content="one two three four five six")])


def _spec(settings: dict[str, object]) -> AgentSpec:
    return AgentSpec("a1", "A", "teacher", "", "offline", None, 1, settings=settings)


def _run() -> Run:
    return Run("r1", "w1", 1, "running", None, None, datetime.now(UTC))


async def _stream_seconds(spec: AgentSpec) -> tuple[float, int]:
    model = default_models(spec, None, _run())
    started, chunks = time.monotonic(), 0
    async for delta in model.stream(REQUEST):
        chunks += bool(delta.text)
    return time.monotonic() - started, chunks


async def test_a_paced_agent_waits_before_every_chunk() -> None:
    paced, chunks = await _stream_seconds(_spec({"offline_pace_s": 0.05}))
    assert chunks >= 3
    assert paced >= 0.05 * chunks * 0.9


async def test_unpaced_and_invalid_paces_stream_at_once() -> None:
    cases: list[dict[str, object]] = [{}, {"offline_pace_s": "slow"}, {"offline_pace_s": -1}]
    for settings in cases:
        seconds, _ = await _stream_seconds(_spec(settings))
        assert seconds < 0.05, settings


def test_the_pace_is_capped() -> None:
    model = default_models(_spec({"offline_pace_s": 1e6}), None, _run())
    assert isinstance(model, OfflineChatModel)
    assert model._pace_s == MAX_OFFLINE_PACE_S
