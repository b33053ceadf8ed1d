"""LLM metrics: tokens, calls, errors and durations by provider and model, from the meter."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from coagent_workflow_engine.llm import (
    ChatMessage,
    ChatRequest,
    MeteredChatModel,
    OfflineChatModel,
    UsageLedger,
)
from coagent_workflow_engine.llm.errors import RateLimited

REQ = ChatRequest(messages=[ChatMessage(role="user", content="how many tokens is this?")])


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


class _Limited(OfflineChatModel):
    async def complete(self, request: ChatRequest):  # type: ignore[no-untyped-def]
        raise RateLimited("slow down")


async def test_a_call_adds_its_tokens_by_provider_and_model() -> None:
    model = OfflineChatModel(model="metrics-test-model")
    labels = {"provider": "offline", "model": "metrics-test-model"}
    prompt = _sample("coagent_llm_tokens_total", **labels, type="prompt")
    completion_tokens = _sample("coagent_llm_tokens_total", **labels, type="completion")
    calls = _sample("coagent_llm_calls_total", **labels, kind="complete", outcome="ok")

    completion = await MeteredChatModel(model, UsageLedger(), tenant_id="t").complete(REQ)

    assert completion.usage.prompt_tokens > 0
    assert completion.usage.completion_tokens > 0
    assert _sample("coagent_llm_tokens_total", **labels, type="prompt") == (
        prompt + completion.usage.prompt_tokens
    )
    assert _sample("coagent_llm_tokens_total", **labels, type="completion") == (
        completion_tokens + completion.usage.completion_tokens
    )
    assert _sample("coagent_llm_calls_total", **labels, kind="complete", outcome="ok") == calls + 1
    assert _sample("coagent_llm_call_duration_seconds_count", **labels) >= 1


async def test_a_failed_call_is_an_error_with_its_code() -> None:
    labels = {"provider": "offline", "model": "metrics-failing-model"}
    errors = _sample("coagent_llm_errors_total", **labels, code="llm_rate_limited")
    llm = MeteredChatModel(_Limited(model="metrics-failing-model"), UsageLedger(), tenant_id="t")
    with pytest.raises(RateLimited):
        await llm.complete(REQ)
    assert _sample("coagent_llm_errors_total", **labels, code="llm_rate_limited") == errors + 1
    assert _sample("coagent_llm_calls_total", **labels, kind="complete", outcome="error") >= 1
