"""The OpenAI-compatible extractor against a scripted fake server (no network, no model)."""

from __future__ import annotations

import json

import pytest
from pydantic import SecretStr

from coagent_graphrag_ingest.adapters.offline_extractor import OfflineExtractor
from coagent_graphrag_ingest.adapters.openai_extractor import ExtractionFailed, OpenAIExtractor
from coagent_graphrag_ingest.chunking import SourceRecord, chunk_sources
from coagent_graphrag_ingest.model_choice import extractor
from coagent_graphrag_ingest.settings import GraphragIngestSettings

from .fake_openai import FakeServer, completion

CHUNK = chunk_sources([SourceRecord("message", "m1", "Ada", "human", "Neo4j runs Leiden.", 1)])[0]


GOOD = json.dumps({
    "entities": [{"name": "Neo4j", "type": "TECHNOLOGY", "description": "A graph database"}],
    "relations": [{"source": "Neo4j", "target": "Leiden", "relation": "USES",
                   "evidence": "Neo4j runs Leiden."}],
})  # fmt: skip


async def test_a_valid_reply_becomes_an_extraction_and_the_prompt_holds_the_chunk() -> None:
    server = FakeServer(completion(GOOD))

    result = await server.port(OpenAIExtractor).extract(CHUNK)

    assert [e.name for e in result.entities] == ["Neo4j"]
    assert result.relations[0].relation == "USES"
    sent = json.dumps(server.bodies[0]["messages"])
    assert "Ada (human): Neo4j runs Leiden." in sent


async def test_a_reply_that_does_not_fit_the_schema_is_repaired_by_asking_again() -> None:
    server = FakeServer(completion('{"entities": [{"type": "CONCEPT"}]}'), completion(GOOD))

    result = await server.port(OpenAIExtractor).extract(CHUNK)

    assert len(server.bodies) == 2  # the second request carries the validation error
    assert "name" in json.dumps(server.bodies[1]["messages"][-1])
    assert result.entities[0].name == "Neo4j"


async def test_a_reply_that_never_fits_is_a_clear_failure() -> None:
    server = FakeServer(*(completion("not json") for _ in range(3)))

    with pytest.raises(ExtractionFailed, match="small"):
        await server.port(OpenAIExtractor, retries=1).extract(CHUNK)


def test_the_model_extractor_is_used_only_with_a_key() -> None:
    assert isinstance(extractor(GraphragIngestSettings(env="test")), OfflineExtractor)
    keyed = GraphragIngestSettings(
        env="test", llm_api_key=SecretStr("k"), llm_base_url="http://x/v1"
    )
    chosen = extractor(keyed)
    assert isinstance(chosen, OpenAIExtractor)
    assert chosen.version.startswith("openai-")
    assert chosen.version != OfflineExtractor().version
