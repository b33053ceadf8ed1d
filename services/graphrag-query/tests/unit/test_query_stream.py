"""The streamed query route (``Accept: application/x-ndjson``) and the search stream behind it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from coagent_graphrag_query.adapters.graph_builds import MemoryGraphBuildStore
from coagent_graphrag_query.adapters.memory import MemoryBuildStatusStore
from coagent_graphrag_query.answers import Answer, Passage
from coagent_graphrag_query.app import install_graph_routes
from coagent_graphrag_query.graph_builds import GraphBuilds
from coagent_graphrag_query.ports import ChatModel
from coagent_graphrag_query.retrieval import Retriever
from coagent_graphrag_query.search import SearchService
from coagent_graphrag_query.settings import GraphragQuerySettings
from coagent_graphrag_query.streaming import Delta
from coagent_graphstore.adapters.memory import MemoryGraphStore, MemoryVectorIndex
from coagent_graphstore.embedding import FeatureHashingEmbedder
from coagent_graphstore.models import Community, CommunityReport, Finding, Scope
from coagent_kit.app import build_app
from coagent_kit.auth import HEADER, InternalIdentity, sign_identity
from coagent_kit.errors import DependencyUnavailable

SECRET = "unit-test-internal-secret-32-bytes-long"
QUERY = "/api/v1/graph/room-a/query"
STREAMED = {"accept": "application/x-ndjson"}
QUESTION = {"question": "When is the demo?"}


def _cite_all(passages: Sequence[Passage]) -> str:
    return "".join(f"[{p.number}]" for p in passages)


class Gated:
    """States the demo's date, then waits for ``go`` before a second, unsupported sentence;
    with ``fail`` set it breaks instead of finishing."""

    def __init__(self, fail: bool = False) -> None:
        self.go = asyncio.Event()
        self.fail = fail
        self.finished = False

    async def answer(self, question: str, passages: Sequence[Passage]) -> str:
        return "".join([p async for p in self.stream(question, passages)])

    async def stream(self, question: str, passages: Sequence[Passage]) -> AsyncIterator[str]:
        yield f"The demo is scheduled for Friday afternoon {_cite_all(passages)}."
        yield " The budget doubled"
        await self.go.wait()
        if self.fail:
            raise DependencyUnavailable("The model provider is unavailable", code="model_down")
        yield f" last week {_cite_all(passages)}."
        self.finished = True


Seed = Callable[..., Awaitable[None]]


async def _app(
    seed: Seed, model: ChatModel | None = None, graph: MemoryGraphStore | None = None
) -> FastAPI:
    graph, vectors = graph or MemoryGraphStore(), MemoryVectorIndex(256)
    await seed(graph, vectors, Scope("room-a"), Scope("room-b"))
    app = build_app(
        GraphragQuerySettings(env="test", internal_token_secret=SecretStr(SECRET)),
        title="graphrag-query under test",
    )
    builds = GraphBuilds(MemoryGraphBuildStore(), lambda _: asyncio.sleep(0))
    install_graph_routes(app, graph, vectors, MemoryBuildStatusStore(), builds)
    if model is not None:
        retriever = Retriever(graph, vectors, FeatureHashingEmbedder(vectors.dimension))
        app.state.search = SearchService(retriever, model)
    return app


Client = Callable[..., Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def client(seed: Seed) -> AsyncIterator[Client]:
    opened: list[httpx.AsyncClient] = []

    async def make(
        model: ChatModel | None = None, graph: MemoryGraphStore | None = None
    ) -> httpx.AsyncClient:
        identity = InternalIdentity(user_id="u-1", platform_role="student", resource_role="member")
        c = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=await _app(seed, model, graph)),
            base_url="http://test",
            headers={HEADER: sign_identity(SECRET, identity, "graphrag-query")},
        )
        opened.append(c)
        return c

    yield make
    for c in opened:
        await c.aclose()


def _lines(response: httpx.Response) -> list[dict[str, Any]]:
    return [json.loads(line) for line in response.text.splitlines()]


async def test_deltas_then_the_same_answer_the_plain_route_gives(client: Client) -> None:
    c = await client()
    streamed = await c.post(QUERY, json=QUESTION, headers=STREAMED)
    plain = await c.post(QUERY, json=QUESTION)
    assert streamed.status_code == 200
    assert streamed.headers["content-type"].startswith("application/x-ndjson")
    lines = _lines(streamed)
    deltas, final = lines[:-1], lines[-1]
    assert deltas
    assert all(d["type"] == "answer_delta" for d in deltas)
    assert final == {"type": "answer", **plain.json()}
    assert "".join(d["text"] for d in deltas) == final["answer"]
    cited = {c["chunk_id"]: c["message_ids"] for d in deltas for c in d["citations"]}
    assert cited == {"a-c2": ["m-a3"]}


async def test_a_global_answer_streams_its_claims_then_the_answer(client: Client) -> None:
    graph = MemoryGraphStore()
    finding = Finding("The demo is scheduled for Friday afternoon.", "", ("m-a3",))
    report = CommunityReport("Demo", "The demo is on Friday.", (finding,), 6.0, ("m-a3",))
    c = await client(graph=graph)
    await graph.replace_communities(
        Scope("room-a"), [Community("c-0", 0, ("carol", "demo"), report=report)]
    )
    body = {**QUESTION, "mode": "global"}
    lines = _lines(await c.post(QUERY, json=body, headers=STREAMED))
    assert [line["type"] for line in lines] == ["answer_delta", "answer"]
    assert lines[0]["citations"][0]["chunk_id"] == "c-0#finding-1"
    assert lines[0]["text"] == lines[1]["answer"]
    assert lines[1] == {"type": "answer", **(await c.post(QUERY, json=body)).json()}


async def test_a_room_with_nothing_relevant_streams_only_the_empty_answer(client: Client) -> None:
    c = await client()
    response = await c.post("/api/v1/graph/room-b/query", json=QUESTION, headers=STREAMED)
    [line] = _lines(response)
    assert line["type"] == "answer"
    assert line["found"] is False
    assert line["sources"] == []


async def test_a_failure_before_the_first_line_is_a_plain_http_error(client: Client) -> None:
    c = await client()
    response = await c.post(
        QUERY, json={"question": "Main themes?", "mode": "global"}, headers=STREAMED
    )
    assert response.status_code == 409
    assert response.json()["code"] == "communities_not_built"
    bad = await c.post("/api/v1/graph/room%20a/query", json=QUESTION, headers=STREAMED)
    assert bad.status_code == 400


async def test_a_failure_after_the_first_line_ends_the_stream_with_an_error_line(
    client: Client,
) -> None:
    model = Gated(fail=True)
    model.go.set()
    c = await client(model)
    response = await c.post(QUERY, json=QUESTION, headers=STREAMED)
    lines = _lines(response)
    assert response.status_code == 200
    assert [line["type"] for line in lines] == ["answer_delta", "error"]
    assert "Friday afternoon" in lines[0]["text"]
    assert lines[-1] == {
        "type": "error",
        "code": "model_down",
        "message": "The model provider is unavailable",
    }


async def test_the_first_supported_claim_goes_out_before_the_model_has_finished(
    seed: Seed,
) -> None:
    model = Gated()
    search = (await _app(seed, model)).state.search
    stream = search.stream(Scope("room-a"), "When is the demo?", "basic")
    first = await asyncio.wait_for(anext(stream), 10)
    assert isinstance(first, Delta)
    assert "Friday afternoon" in first.text
    assert not model.finished
    model.go.set()
    rest = [item async for item in stream]
    # The invented second sentence never leaves: only the final answer follows.
    assert len(rest) == 1
    assert isinstance(rest[0], Answer)
    assert model.finished
    assert "budget" not in rest[0].text
