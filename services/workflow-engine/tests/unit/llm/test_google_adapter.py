"""The Google GenAI adapter against a fake Gemini API: google-genai accepts an injected httpx2
client (``HttpOptions.httpx_async_client``), so the real SDK request/response path is exercised."""

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
    ProviderUnavailable,
    RateLimited,
)
from coagent_workflow_engine.llm.google_adapter import GoogleChatModel, map_genai_error


def answer(
    text: str,
    *,
    prompt: int = 12,
    output: int = 5,
    thoughts: int | None = None,
    finish: str | None = "STOP",
) -> dict[str, Any]:
    usage: dict[str, Any] = {
        "promptTokenCount": prompt,
        "candidatesTokenCount": output,
        "totalTokenCount": prompt + output + (thoughts or 0),
    }
    if thoughts:
        usage["thoughtsTokenCount"] = thoughts
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": [{"text": text}]}}
    if finish:
        candidate["finishReason"] = finish
    return {"candidates": [candidate], "usageMetadata": usage}


def ok(body: dict[str, Any]) -> httpx2.Response:
    return httpx2.Response(200, json=body)


def failure(
    code: int,
    status: str,
    message: str,
    *,
    details: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> httpx2.Response:
    return httpx2.Response(
        code,
        headers=headers,
        json={
            "error": {"code": code, "status": status, "message": message, "details": details or []}
        },
    )


@pytest.fixture
def llm(server: Any) -> GoogleChatModel:
    return GoogleChatModel(api_key="g-key", http_client=server.client())


def req(**kw: Any) -> ChatRequest:
    return ChatRequest(
        messages=[
            ChatMessage(role="system", content="Be brief."),
            ChatMessage(role="user", content="Hi", name="alice"),
            ChatMessage(role="assistant", content="Hello!"),
            ChatMessage(role="user", content="What is 2+2?"),
        ],
        **kw,
    )


async def test_complete_builds_contents_and_parses_usage(server: Any, llm: GoogleChatModel) -> None:
    server.reply(ok(answer("Four.", prompt=1000, output=100, thoughts=400)))
    done = await llm.complete(req(temperature=0.2, max_tokens=64))
    assert done.text == "Four."
    assert done.provider == "google"
    assert done.model == "gemini-2.5-flash"
    assert done.finish_reason == "stop"
    assert done.usage.prompt_tokens == 1000
    assert done.usage.completion_tokens == 500
    assert done.cost_usd == pytest.approx((1000 * 0.30 + 500 * 2.50) / 1e6)
    sent, request = server.body(), server.requests[-1]
    assert request.url.path.endswith("/models/gemini-2.5-flash:generateContent")
    assert request.headers["x-goog-api-key"] == "g-key"
    assert sent["systemInstruction"]["parts"][0]["text"] == "Be brief."
    assert [c["role"] for c in sent["contents"]] == ["user", "model", "user"]
    assert sent["contents"][0]["parts"][0]["text"] == "[alice] Hi"
    assert sent["generationConfig"]["temperature"] == 0.2
    assert sent["generationConfig"]["maxOutputTokens"] == 64


async def test_stream(server: Any, llm: GoogleChatModel, make_sse: Callable[..., Any]) -> None:
    server.reply(
        make_sse(
            [
                answer("Two plus ", finish=None, prompt=8, output=2),
                answer("two is four.", prompt=8, output=6),
            ],
            done=False,
        )
    )
    deltas = [d async for d in llm.stream(req())]
    assert [d.text for d in deltas[:-1]] == ["Two plus ", "two is four."]
    final = deltas[-1].completion
    assert final is not None
    assert final.text == "Two plus two is four."
    assert final.usage.total_tokens == 14
    assert "streamGenerateContent" in server.requests[-1].url.path


async def test_429_uses_retry_info_delay(server: Any, llm: GoogleChatModel) -> None:
    server.reply(
        failure(
            429,
            "RESOURCE_EXHAUSTED",
            "quota",
            details=[{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "17s"}],
        )
    )
    with pytest.raises(RateLimited) as caught:
        await llm.complete(req())
    assert caught.value.retry_after_s == 17.0
    assert len(server.requests) == 1  # the SDK's own retries are off


async def test_429_retry_after_header(server: Any, llm: GoogleChatModel) -> None:
    server.reply(failure(429, "RESOURCE_EXHAUSTED", "slow", headers={"retry-after": "3"}))
    with pytest.raises(RateLimited) as caught:
        await llm.complete(req())
    assert caught.value.retry_after_s == 3.0


async def test_invalid_key_400_is_authentication(server: Any, llm: GoogleChatModel) -> None:
    server.reply(
        failure(
            400,
            "INVALID_ARGUMENT",
            "API key not valid.",
            details=[
                {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}
            ],
        )
    )
    with pytest.raises(AuthenticationFailed):
        await llm.complete(req())


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        (400, "INVALID_ARGUMENT", BadRequest),
        (404, "NOT_FOUND", BadRequest),
        (403, "PERMISSION_DENIED", AuthenticationFailed),
        (500, "INTERNAL", ProviderUnavailable),
        (503, "UNAVAILABLE", ProviderUnavailable),
    ],
)
async def test_status_mapping(
    server: Any, llm: GoogleChatModel, code: int, status: str, expected: type[Exception]
) -> None:
    server.reply(failure(code, status, "nope"))
    with pytest.raises(expected):
        await llm.complete(req())


async def test_network_error(server: Any, llm: GoogleChatModel) -> None:
    def boom(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError("refused", request=request)

    server.reply(boom)
    with pytest.raises(ProviderUnavailable):
        await llm.complete(req())


def test_unknown_exceptions_are_not_mapped() -> None:
    assert map_genai_error(ValueError("bug")) is None


class Verdict(BaseModel):
    branch: Literal["approve", "revise"]
    reason: str


async def test_structured_via_instructor_json_mode_with_repair(
    server: Any, llm: GoogleChatModel
) -> None:
    server.reply(
        ok(answer(json.dumps({"branch": "maybe", "reason": "?"}), prompt=20, output=5)),
        ok(answer(json.dumps({"branch": "revise", "reason": "typo"}), prompt=40, output=6)),
    )
    value, usage = await llm.structured(req(), Verdict)
    assert value == Verdict(branch="revise", reason="typo")
    assert usage.prompt_tokens == 60
    assert usage.completion_tokens == 11
    first = json.loads(server.requests[0].content)
    assert first["generationConfig"]["responseMimeType"] == "application/json"
    assert "systemInstruction" in first


async def test_structured_maps_errors(server: Any, llm: GoogleChatModel) -> None:
    server.reply(failure(503, "UNAVAILABLE", "overloaded"))
    with pytest.raises(ProviderUnavailable):
        await llm.structured(req(), Verdict)
