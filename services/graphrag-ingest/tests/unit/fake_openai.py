"""A scripted OpenAI-compatible endpoint for the model-backed ports' tests (no network)."""

from __future__ import annotations

import json
from typing import Any, TypeVar

import httpx2

from coagent_graphrag_ingest.adapters.openai_client import StructuredChatModel

Port = TypeVar("Port", bound=StructuredChatModel)


def completion(content: str) -> httpx2.Response:
    """A chat completion whose message is ``content``."""
    return httpx2.Response(200, json={
        "id": "c1", "object": "chat.completion", "created": 0, "model": "small",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    })  # fmt: skip


class FakeServer:
    """Answers each request with the next scripted reply (then 500) and keeps the bodies."""

    def __init__(self, *replies: httpx2.Response) -> None:
        self.replies = list(replies)
        self.bodies: list[Any] = []

    def handle(self, request: httpx2.Request) -> httpx2.Response:
        self.bodies.append(json.loads(request.content))
        return self.replies.pop(0) if self.replies else httpx2.Response(500, json={})

    def client(self) -> httpx2.AsyncClient:
        return httpx2.AsyncClient(transport=httpx2.MockTransport(self.handle))

    def port(self, kind: type[Port], retries: int = 2) -> Port:
        """A ``kind`` port (model ``small``) talking to this server."""
        return kind(api_key="k", model="small", base_url="http://fake/v1",
                    max_retries=retries, http_client=self.client())  # fmt: skip

    def prompt(self, index: int = 0) -> str:
        return json.dumps(self.bodies[index]["messages"])
