"""The model composer against a scripted in-process chat-completions server (no network)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest
from pydantic import SecretStr

from coagent_graphrag_query.adapters.extractive import ExtractiveChatModel
from coagent_graphrag_query.adapters.openai_chat import ModelUnavailable, OpenAIChatModel
from coagent_graphrag_query.answers import Answer, Passage
from coagent_graphrag_query.composer import chat_model
from coagent_graphrag_query.settings import GraphragQuerySettings
from coagent_graphrag_query.streaming import Delta, grounded_stream

DEMO = Passage(1, "c1", "The demo is on Friday in room 204.", 0.9, ("m1",))
DB = Passage(2, "c2", "We decided the database will be PostgreSQL.", 0.5, ("m2",))


def _chunk(content: str) -> bytes:
    body = {
        "id": "c1", "object": "chat.completion.chunk", "created": 0, "model": "small",
        "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": None}],
    }  # fmt: skip
    return f"data: {json.dumps(body)}\n\n".encode()


class FakeServer:
    """Streams ``pieces`` as server-sent chunks; waits for ``gate`` before the last one."""

    def __init__(self, *pieces: str, status: int = 200, break_off: bool = False) -> None:
        self.pieces, self.status, self.break_off = pieces, status, break_off
        self.gate = asyncio.Event()
        self.gate.set()
        self.bodies: list[dict[str, Any]] = []
        self.finished = False

    async def _events(self) -> AsyncIterator[bytes]:
        for piece in self.pieces[:-1]:
            yield _chunk(piece)
        await self.gate.wait()
        if self.break_off:
            raise httpx2.ReadError("connection reset")
        yield _chunk(self.pieces[-1])
        yield b"data: [DONE]\n\n"
        self.finished = True

    async def handle(self, request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        self.bodies.append(body)
        if self.status != 200:
            return httpx2.Response(self.status, json={"error": {"message": "bad key"}})
        if not body.get("stream"):
            text = "".join(self.pieces)
            return httpx2.Response(200, json={
                "id": "c1", "object": "chat.completion", "created": 0, "model": "small",
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": text}}],
            })  # fmt: skip
        return httpx2.Response(
            200, headers={"content-type": "text/event-stream"}, content=self._events()
        )

    def model(self) -> OpenAIChatModel:
        client = httpx2.AsyncClient(transport=httpx2.MockTransport(self.handle))
        return OpenAIChatModel(
            api_key="k", model="small", base_url="http://fake/v1", http_client=client
        )


async def test_the_answer_streams_as_the_endpoint_sends_it() -> None:
    server = FakeServer("The demo is on ", "Friday [", "1].")
    pieces = [p async for p in server.model().stream("When is the demo?", [DEMO, DB])]
    assert pieces == ["The demo is on ", "Friday [", "1]."]
    body = server.bodies[0]
    assert (body["model"], body["stream"], body["temperature"]) == ("small", True, 0)
    assert "[1] The demo is on Friday in room 204." in body["messages"][1]["content"]
    assert "[2] We decided" in body["messages"][1]["content"]
    assert "Question: When is the demo?" in body["messages"][1]["content"]


async def test_the_plain_answer_is_one_call_without_streaming() -> None:
    server = FakeServer("The demo is on ", "Friday [1].")
    assert await server.model().answer("When?", [DEMO]) == "The demo is on Friday [1]."
    assert "stream" not in server.bodies[0] or server.bodies[0]["stream"] is False


async def test_a_grounded_claim_goes_out_while_the_model_is_still_writing() -> None:
    server = FakeServer("The demo is on Friday [1]. ", "The database", " is PostgreSQL [2].")
    server.gate.clear()
    stream = grounded_stream("basic", server.model().stream("q", [DEMO, DB]), [DEMO, DB])
    first = await asyncio.wait_for(anext(stream), 10)
    assert isinstance(first, Delta)
    assert first.text == "The demo is on Friday. [1]"
    assert not server.finished
    server.gate.set()
    rest = [item async for item in stream]
    assert isinstance(rest[-1], Answer)
    assert rest[-1].text == "The demo is on Friday. [1] The database is PostgreSQL. [2]"


async def test_a_refusal_or_a_broken_stream_is_model_unavailable() -> None:
    with pytest.raises(ModelUnavailable):
        await FakeServer("x", status=401).model().answer("q", [DEMO])
    with pytest.raises(ModelUnavailable):
        [p async for p in FakeServer("x", status=400).model().stream("q", [DEMO])]
    broken = FakeServer("The demo is on Friday [1]. ", "never sent", break_off=True)
    received: list[str] = []
    with pytest.raises(ModelUnavailable, match="mid-answer"):
        await _drain(broken.model().stream("q", [DEMO]), received)
    assert received == ["The demo is on Friday [1]. "]


async def _drain(pieces: AsyncIterator[str], into: list[str]) -> None:
    async for piece in pieces:
        into.append(piece)


def test_the_model_composer_is_used_only_with_a_key() -> None:
    assert isinstance(chat_model(GraphragQuerySettings(env="test")), ExtractiveChatModel)
    keyed = GraphragQuerySettings(
        env="test", llm_api_key=SecretStr("k"), llm_base_url="http://x/v1"
    )
    assert isinstance(chat_model(keyed), OpenAIChatModel)
