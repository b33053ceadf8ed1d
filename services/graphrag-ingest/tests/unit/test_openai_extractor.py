"""The OpenAI-compatible extractor against a scripted fake server (no network, no model)."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest
from pydantic import SecretStr

from coagent_graphrag_ingest.adapters.offline_extractor import OfflineExtractor
from coagent_graphrag_ingest.adapters.openai_extractor import ExtractionFailed, OpenAIExtractor
from coagent_graphrag_ingest.chunking import SourceRecord, chunk_sources
from coagent_graphrag_ingest.model_choice import extractor
from coagent_graphrag_ingest.settings import GraphragIngestSettings

CHUNK = chunk_sources([SourceRecord("message", "m1", "Ada", "human", "Neo4j runs Leiden.", 1)])[0]


def completion(content: str) -> httpx2.Response:
    return httpx2.Response(200, json={
        "id": "c1", "object": "chat.completion", "created": 0, "model": "small",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    })  # fmt: skip


class FakeServer:
    def __init__(self, *replies: httpx2.Response) -> None:
        self.replies = list(replies)
        self.bodies: list[Any] = []

    def handle(self, request: httpx2.Request) -> httpx2.Response:
        self.bodies.append(json.loads(request.content))
        return self.replies.pop(0) if self.replies else httpx2.Response(500, json={})

    def extractor(self, retries: int = 2) -> OpenAIExtractor:
        client = httpx2.AsyncClient(transport=httpx2.MockTransport(self.handle))
        return OpenAIExtractor(api_key="k", model="small", base_url="http://fake/v1",
                               max_retries=retries, http_client=client)  # fmt: skip


GOOD = json.dumps({
    "entities": [{"name": "Neo4j", "type": "TECHNOLOGY", "description": "A graph database"}],
    "relations": [{"source": "Neo4j", "target": "Leiden", "relation": "USES",
                   "evidence": "Neo4j runs Leiden."}],
})  # fmt: skip


async def test_a_valid_reply_becomes_an_extraction_and_the_prompt_holds_the_chunk() -> None:
    server = FakeServer(completion(GOOD))

    result = await server.extractor().extract(CHUNK)

    assert [e.name for e in result.entities] == ["Neo4j"]
    assert result.relations[0].relation == "USES"
    sent = json.dumps(server.bodies[0]["messages"])
    assert "Ada (human): Neo4j runs Leiden." in sent


async def test_a_reply_that_does_not_fit_the_schema_is_repaired_by_asking_again() -> None:
    server = FakeServer(completion('{"entities": [{"type": "CONCEPT"}]}'), completion(GOOD))

    result = await server.extractor().extract(CHUNK)

    assert len(server.bodies) == 2  # the second request carries the validation error
    assert "name" in json.dumps(server.bodies[1]["messages"][-1])
    assert result.entities[0].name == "Neo4j"


async def test_a_reply_that_never_fits_is_a_clear_failure() -> None:
    server = FakeServer(*(completion("not json") for _ in range(3)))

    with pytest.raises(ExtractionFailed, match="small"):
        await server.extractor(retries=1).extract(CHUNK)


def test_the_model_extractor_is_used_only_with_a_key() -> None:
    assert isinstance(extractor(GraphragIngestSettings(env="test")), OfflineExtractor)
    keyed = GraphragIngestSettings(
        env="test", llm_api_key=SecretStr("k"), llm_base_url="http://x/v1"
    )
    chosen = extractor(keyed)
    assert isinstance(chosen, OpenAIExtractor)
    assert chosen.version.startswith("openai-")
    assert chosen.version != OfflineExtractor().version
