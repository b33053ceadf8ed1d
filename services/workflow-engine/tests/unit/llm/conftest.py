"""Fake provider servers for the LLM adapter tests: httpx2 MockTransports, never the network."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx2
import pytest

Handler = Callable[[httpx2.Request], httpx2.Response]


class FakeServer:
    """Answers each request with the next scripted response and records what was sent."""

    def __init__(self) -> None:
        self.script: list[httpx2.Response | Handler] = []
        self.requests: list[httpx2.Request] = []

    def reply(self, *responses: httpx2.Response | Handler) -> None:
        self.script.extend(responses)

    def handle(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        if not self.script:
            return httpx2.Response(500, json={"error": {"message": "script exhausted"}})
        item = self.script.pop(0)
        return item(request) if callable(item) else item

    def client(self) -> httpx2.AsyncClient:
        return httpx2.AsyncClient(transport=httpx2.MockTransport(self.handle))

    def body(self, index: int = -1) -> Any:
        return json.loads(self.requests[index].content)


@pytest.fixture
def server() -> FakeServer:
    return FakeServer()


def sse(events: list[dict[str, Any]], *, done: bool = True) -> httpx2.Response:
    """A server-sent-events body such as both OpenAI and Gemini stream."""
    body = "".join(f"data: {json.dumps(e)}\n\n" for e in events)
    if done:
        body += "data: [DONE]\n\n"
    return httpx2.Response(
        200, content=body.encode(), headers={"content-type": "text/event-stream"}
    )


@pytest.fixture
def make_sse() -> Callable[..., httpx2.Response]:
    return sse
