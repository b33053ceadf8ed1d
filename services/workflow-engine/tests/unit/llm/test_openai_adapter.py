"""The OpenAI adapter against a fake OpenAI-compatible server (httpx2 MockTransport)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Literal

import httpx2
import pytest
from pydantic import BaseModel

from coagent_workflow_engine.llm import (
    AuthenticationFailed,
    BadRequest,
    ChatMessage,
    ChatRequest,
    InvalidOutput,
    ProviderUnavailable,
    RateLimited,
    collect,
)
from coagent_workflow_engine.llm.openai_adapter import OpenAIChatModel

BASE = "http://fake-llm.test/v1"


def chat(
    text: str,
    *,
    prompt: int = 11,
    completion: int = 7,
    model: str = "gpt-4o-mini",
    tool: tuple[str, dict[str, Any]] | None = None,
) -> httpx2.Response:
    message: dict[str, Any] = {"role": "assistant", "content": None if tool else text}
    if tool:
        message["tool_calls"] = [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": tool[0], "arguments": json.dumps(tool[1])},
            }
        ]
    return httpx2.Response(
        200,
        json={
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1,
            "model": model,
            "choices": [
                {"index": 0, "message": message, "finish_reason": "tool_calls" if tool else "stop"}
            ],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
            },
        },
    )


def chunk(
    content: str | None,
    *,
    finish: str | None = None,
    usage: dict[str, int] | None = None,
    choices: bool = True,
) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [
            {"index": 0, "delta": {"content": content} if content else {}, "finish_reason": finish}
        ]
        if choices
        else [],
        "usage": usage,
    }


def error(
    status: int, message: str, *, code: str | None = None, headers: dict[str, str] | None = None
) -> httpx2.Response:
    return httpx2.Response(
        status, headers=headers, json={"error": {"message": message, "type": "error", "code": code}}
    )


@pytest.fixture
def llm(server: Any) -> OpenAIChatModel:
    return OpenAIChatModel(api_key="sk-test", base_url=BASE, http_client=server.client())


def req(text: str = "Hello there", **kw: Any) -> ChatRequest:
    return ChatRequest(
        messages=[
            ChatMessage(role="system", content="Be brief."),
            ChatMessage(role="user", content=text, name="alice"),
        ],
        **kw,
    )


async def test_complete_parses_text_usage_and_cost(server: Any, llm: OpenAIChatModel) -> None:
    server.reply(chat("Hi Alice!", prompt=1000, completion=500))
    done = await llm.complete(req(temperature=0.3, max_tokens=50, timeout=5))
    assert done.text == "Hi Alice!"
    assert done.usage.prompt_tokens == 1000
    assert done.usage.total_tokens == 1500
    assert done.provider == "openai"
    assert done.offline is False
    assert done.finish_reason == "stop"
    assert done.cost_usd == pytest.approx((1000 * 0.15 + 500 * 0.60) / 1e6)
    sent = server.body()
    assert server.requests[-1].url == f"{BASE}/chat/completions"
    assert server.requests[-1].headers["authorization"] == "Bearer sk-test"
    assert sent["messages"][1] == {"role": "user", "content": "Hello there", "name": "alice"}
    assert sent["temperature"] == 0.3
    assert sent["max_tokens"] == 50  # compatible base URL: the widely supported name


async def test_official_openai_uses_max_completion_tokens(server: Any) -> None:
    llm = OpenAIChatModel(api_key="sk-test", http_client=server.client())
    server.reply(chat("ok"))
    await llm.complete(req(max_tokens=20))
    assert server.body()["max_completion_tokens"] == 20
    assert "max_tokens" not in server.body()


async def test_stream_yields_deltas_then_completion_with_usage(
    server: Any, llm: OpenAIChatModel, make_sse: Callable[..., httpx2.Response]
) -> None:
    server.reply(
        make_sse(
            [
                chunk("Hel"),
                chunk("lo "),
                chunk("world"),
                chunk(None, finish="stop"),
                chunk(
                    None,
                    choices=False,
                    usage={"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12},
                ),
            ]
        )
    )
    deltas = [d async for d in llm.stream(req())]
    assert [d.text for d in deltas[:-1]] == ["Hel", "lo ", "world"]
    final = deltas[-1].completion
    assert final is not None
    assert final.text == "Hello world"
    assert final.usage.total_tokens == 12
    assert not final.usage.estimated
    assert final.model == "gpt-4o-mini-2024-07-18"
    assert final.priced
    assert final.finish_reason == "stop"
    sent = server.body()
    assert sent["stream"] is True
    assert sent["stream_options"] == {"include_usage": True}


async def test_stream_without_usage_is_estimated(
    server: Any, llm: OpenAIChatModel, make_sse: Callable[..., httpx2.Response]
) -> None:
    server.reply(make_sse([chunk("a b c"), chunk(None, finish="stop")]))
    final = await collect(llm.stream(req()))
    assert final.usage.estimated
    assert final.usage.completion_tokens == 3


async def test_429_with_retry_after_maps_to_rate_limited(server: Any, llm: OpenAIChatModel) -> None:
    server.reply(error(429, "slow down", headers={"retry-after": "7"}))
    with pytest.raises(RateLimited) as caught:
        await llm.complete(req())
    assert caught.value.retry_after_s == 7.0
    assert len(server.requests) == 1  # the SDK's own retries are off


async def test_429_retry_after_ms_wins(server: Any, llm: OpenAIChatModel) -> None:
    server.reply(error(429, "slow", headers={"retry-after-ms": "1500", "retry-after": "9"}))
    with pytest.raises(RateLimited) as caught:
        await llm.complete(req())
    assert caught.value.retry_after_s == 1.5


async def test_insufficient_quota_is_not_retryable(server: Any, llm: OpenAIChatModel) -> None:
    server.reply(error(429, "You exceeded your current quota", code="insufficient_quota"))
    with pytest.raises(AuthenticationFailed):
        await llm.complete(req())


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (401, AuthenticationFailed),
        (403, AuthenticationFailed),
        (400, BadRequest),
        (404, BadRequest),
        (500, ProviderUnavailable),
        (503, ProviderUnavailable),
    ],
)
async def test_status_mapping(
    server: Any, llm: OpenAIChatModel, status: int, expected: type[Exception]
) -> None:
    server.reply(error(status, "Incorrect API key provided" if status == 401 else "nope"))
    with pytest.raises(expected) as caught:
        await llm.complete(req())
    assert "All API keys failed" not in str(caught.value)


async def test_stream_error_before_first_token(server: Any, llm: OpenAIChatModel) -> None:
    server.reply(error(401, "bad key"))
    with pytest.raises(AuthenticationFailed):
        await collect(llm.stream(req()))


async def test_network_error_maps_to_unavailable(server: Any, llm: OpenAIChatModel) -> None:
    def boom(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError("refused", request=request)

    server.reply(boom)
    with pytest.raises(ProviderUnavailable):
        await llm.complete(req())


class Verdict(BaseModel):
    branch: Literal["approve", "revise"]
    reason: str


async def test_structured_via_instructor_tools(server: Any, llm: OpenAIChatModel) -> None:
    server.reply(
        chat(
            "", prompt=30, completion=10, tool=("Verdict", {"branch": "approve", "reason": "solid"})
        )
    )
    value, usage = await llm.structured(req("Evaluate: 2+2=4"), Verdict)
    assert value == Verdict(branch="approve", reason="solid")
    assert usage.total_tokens == 40
    sent = server.body()
    assert sent["tools"][0]["function"]["name"] == "Verdict"


async def test_structured_repairs_then_sums_usage(server: Any, llm: OpenAIChatModel) -> None:
    server.reply(
        chat("", prompt=30, completion=10, tool=("Verdict", {"branch": "maybe", "reason": "?"})),
        chat("", prompt=50, completion=10, tool=("Verdict", {"branch": "revise", "reason": "x"})),
    )
    value, usage = await llm.structured(req(), Verdict)
    assert value.branch == "revise"
    assert usage.prompt_tokens == 80
    assert usage.completion_tokens == 20
    repair = json.dumps(server.body())
    assert "maybe" in repair  # the validation error was sent back to the model


async def test_structured_gives_up_with_invalid_output(server: Any) -> None:
    llm = OpenAIChatModel(
        api_key="k", base_url=BASE, http_client=server.client(), structured_retries=1
    )
    bad = ("Verdict", {"branch": "nope", "reason": "?"})
    server.reply(chat("", tool=bad), chat("", tool=bad))
    with pytest.raises(InvalidOutput):
        await llm.structured(req(), Verdict)


async def test_structured_maps_provider_errors(server: Any, llm: OpenAIChatModel) -> None:
    server.reply(error(429, "slow", headers={"retry-after": "2"}))
    with pytest.raises(RateLimited) as caught:
        await llm.structured(req(), Verdict)
    assert caught.value.retry_after_s == 2.0
