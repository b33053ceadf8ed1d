"""Which model the factory builds for an agent config."""

from __future__ import annotations

import httpx2
import pytest

from coagent_workflow_engine.llm import (
    BadRequest,
    BreakerRegistry,
    ChatMessage,
    ChatRequest,
    MeteredChatModel,
    OfflineChatModel,
    ResilientChatModel,
    UsageLedger,
    key_fingerprint,
    model_for,
)

REQ = ChatRequest(messages=[ChatMessage(role="user", content="hi")])


@pytest.mark.parametrize("provider", ["openai", "gemini", "google", "offline"])
async def test_no_key_means_offline(provider: str) -> None:
    llm = model_for(provider, None, None, None, "t1")
    assert isinstance(llm, OfflineChatModel)
    assert (await llm.complete(REQ)).offline


def test_offline_even_with_a_key() -> None:
    assert isinstance(model_for("offline", None, "sk-x", None, "t1"), OfflineChatModel)


@pytest.mark.parametrize(
    ("provider", "default"), [("openai", "gpt-4o-mini"), ("gemini", "gemini-2.5-flash")]
)
def test_real_providers_are_resilient_with_a_per_key_breaker(provider: str, default: str) -> None:
    registry = BreakerRegistry()
    llm = model_for(provider, None, "secret-key", None, "tenant-9", breakers=registry)
    assert isinstance(llm, ResilientChatModel)
    assert llm.default_model == default
    assert llm.breaker.key.tenant_id == "tenant-9"
    assert llm.breaker.key.key_fingerprint == key_fingerprint("secret-key")
    assert llm.breaker is registry.get("tenant-9", llm.provider, "secret-key")


async def test_compatible_base_url_without_key_is_not_offline() -> None:
    seen: list[str] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(str(request.url))
        return httpx2.Response(
            200,
            json={
                "id": "1",
                "object": "chat.completion",
                "created": 1,
                "model": "llama3",
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": "local"},
                    }
                ],
            },
        )

    client = httpx2.AsyncClient(transport=httpx2.MockTransport(handler))
    llm = model_for(
        "openai", "llama3", None, "http://ollama.local:11434/v1", "t1", http_client=client
    )
    done = await llm.complete(REQ)
    assert done.text == "local"
    assert not done.offline
    assert not done.priced
    assert done.cost_usd == 0
    assert seen == ["http://ollama.local:11434/v1/chat/completions"]


def test_ledger_wraps_outermost() -> None:
    llm = model_for("openai", None, "k", None, "t1", ledger=UsageLedger(), run_id="r")
    assert isinstance(llm, MeteredChatModel)
    assert llm.provider == "openai"


def test_unknown_provider_is_rejected() -> None:
    with pytest.raises(BadRequest):
        model_for("anthropic", None, "k", None, "t1")


def test_keyless_servers_get_a_breaker_per_url() -> None:
    registry = BreakerRegistry()
    one = model_for("openai", "m", None, "http://a.local/v1", "t1", breakers=registry)
    two = model_for("openai", "m", None, "http://b.local/v1", "t1", breakers=registry)
    assert isinstance(one, ResilientChatModel)
    assert isinstance(two, ResilientChatModel)
    assert one.breaker is not two.breaker
