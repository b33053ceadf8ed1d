"""The model adjudicator and summariser against a scripted fake server (no network, no model)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import SecretStr

from coagent_graphrag_ingest.adapters.openai_models import (
    ModelCallFailed,
    OpenAIAdjudicator,
    OpenAISummariser,
)
from coagent_graphrag_ingest.adjudication import OfflineAdjudicator, PairQuestion, Side
from coagent_graphrag_ingest.cascade import EntityResolver, ResolutionPolicy
from coagent_graphrag_ingest.model_choice import adjudicator, resolution_policy, summariser
from coagent_graphrag_ingest.settings import GraphragIngestSettings
from coagent_graphrag_ingest.summaries import OfflineSummariser, SummaryRequest
from coagent_graphstore.adapters.memory import MemoryGraphStore, MemoryVectorIndex
from coagent_graphstore.models import EntityUpsert, Scope, VectorItem

from .fake_openai import FakeServer, completion


def question(a: str, b: str) -> PairQuestion:
    return PairQuestion(Side(a.casefold(), a, "TECHNOLOGY", (), f"{a} in class"),
                        Side(b.casefold(), b, "TECHNOLOGY"), 0.91)  # fmt: skip


def decisions(*items: tuple[int, str, str]) -> str:
    return json.dumps({"decisions": [{"pair": p, "decision": d, "reason": r} for p, d, r in items]})


async def test_one_call_decides_a_batch_and_unanswered_pairs_are_unsure() -> None:
    server = FakeServer(completion(decisions((0, "same", "acronym"), (2, "different", "no"))))
    pairs = [question("GNN", "Graph Neural Network"), question("Kafka", "Kafka Streams"),
             question("Neo4j", "Redis")]  # fmt: skip

    verdicts = await server.port(OpenAIAdjudicator).decide(pairs)

    assert [(v.decision, v.reason) for v in verdicts] == [
        ("same", "acronym"), ("unsure", "the model did not answer this pair"), ("different", "no"),
    ]  # fmt: skip
    assert len(server.bodies) == 1
    assert "0. GNN [TECHNOLOGY]: GNN in class" in server.prompt()
    assert "2. Neo4j" in server.prompt()


async def test_a_reply_outside_the_schema_is_repaired_then_a_failure_is_clear() -> None:
    server = FakeServer(completion('{"decisions": [{"pair": 0, "decision": "maybe"}]}'),
                        completion(decisions((0, "same", "spelling"))))  # fmt: skip
    verdicts = await server.port(OpenAIAdjudicator).decide([question("Postgres", "PostgreSQL")])
    assert verdicts[0].decision == "same"
    assert len(server.bodies) == 2  # the second request carries the validation error

    broken = FakeServer(*(completion("not json") for _ in range(3)))
    with pytest.raises(ModelCallFailed, match="small"):
        await broken.port(OpenAIAdjudicator, retries=1).decide([question("A1", "B2")])


async def test_the_resolver_batches_model_calls_and_merges_what_the_model_calls_same() -> None:
    graph, vectors, room = MemoryGraphStore(), MemoryVectorIndex(4), Scope("room-m")
    names = ["GNN", "Graph Neural Network", "Kafka", "Pulsar", "Redis", "Valkey"]
    await graph.upsert_entities(room, [EntityUpsert(n, "TECHNOLOGY", "m1", n) for n in names])
    axes = {"gnn": 0, "graph neural network": 0, "kafka": 1, "pulsar": 1, "redis": 2, "valkey": 2}

    async def embed(scope: Scope, keys: Any) -> dict[str, list[float]]:
        found = {k: [1.0 if i == axes[k] else 0.0 for i in range(4)] for k in keys}
        await vectors.upsert(scope, [VectorItem(k, "entity", tuple(v)) for k, v in found.items()])
        return found

    await embed(room, list(axes))
    server = FakeServer(
        completion(decisions((0, "same", "acronym"), (1, "different", "a library of it"))),
        completion(decisions((0, "unsure", "cannot tell"))),
    )
    model = server.port(OpenAIAdjudicator)
    resolver = EntityResolver(graph, vectors, model, embed, ResolutionPolicy(adjudication_batch=2))

    resolution = await resolver.resolve(room, {"gnn", "kafka", "redis"})

    assert model.calls == 2  # 3 candidate pairs, 2 per call
    assert resolution.merges == (("gnn", "graph neural network"),)
    [record] = await graph.merge_log(room)
    assert record.reason == "adjudication:embedding 1.00: acronym"


async def test_one_call_summarises_a_batch_and_missing_items_stay_open() -> None:
    reply = {"summaries": [{"item": 1, "summary": " Kafka moves events. "}]}
    server = FakeServer(completion(json.dumps(reply)))
    requests = [
        SummaryRequest("neo4j", "Neo4j (TECHNOLOGY)", ("stores graphs", "runs Cypher")),
        SummaryRequest("kafka", "Kafka (TECHNOLOGY)", ("streams", "moves events")),
    ]

    made = await server.port(OpenAISummariser).summarise(requests)

    assert made == [None, "Kafka moves events."]
    assert len(server.bodies) == 1
    assert "1. Kafka (TECHNOLOGY)\\n   - streams\\n   - moves events" in server.prompt()


def test_model_backed_steps_are_used_only_with_a_key() -> None:
    keyless = GraphragIngestSettings(env="test", resolve_embedding=False, resolve_fuzzy_ratio=0.9)
    assert isinstance(adjudicator(keyless), OfflineAdjudicator)
    assert isinstance(summariser(keyless), OfflineSummariser)
    policy = resolution_policy(keyless)
    assert (policy.embedding, policy.fuzzy_ratio, policy.adjudication_batch) == (False, 0.9, 20)
    keyed = GraphragIngestSettings(
        env="test", llm_api_key=SecretStr("k"), llm_base_url="http://x/v1"
    )
    assert isinstance(adjudicator(keyed), OpenAIAdjudicator)
    assert isinstance(summariser(keyed), OpenAISummariser)


def test_resolution_settings_come_from_the_environment_and_are_checked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GRAPHRAG_INGEST_RESOLVE_ADJUDICATION", "false")
    monkeypatch.setenv("GRAPHRAG_INGEST_RESOLVE_EMBEDDING_THRESHOLD", "0.9")
    monkeypatch.setenv("GRAPHRAG_INGEST_SUMMARY_BATCH", "4")
    cfg = GraphragIngestSettings(env="test")
    policy = resolution_policy(cfg)
    assert (policy.adjudication, policy.embedding_threshold, cfg.summary_batch) == (False, 0.9, 4)
    monkeypatch.setenv("GRAPHRAG_INGEST_RESOLVE_ADJUDICATION_BATCH", "0")
    with pytest.raises(ValueError, match="resolve_adjudication_batch"):
        GraphragIngestSettings(env="test")
