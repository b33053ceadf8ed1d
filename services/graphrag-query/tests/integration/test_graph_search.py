"""Graph routes and search of the real app over FalkorDB (graph and vectors), per room.

Room A's graph, chunks and vectors are written straight through the storage ports, the way
ingestion writes them; questions then go through HTTP like the gateway sends them.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from coagent_cli.testing import fresh_consumer
from coagent_contracts.streams import GRAPHRAG
from coagent_graphrag_query.app import create_app
from coagent_graphrag_query.service import BUILD_STATUS_CONSUMER
from coagent_graphrag_query.settings import GraphragQuerySettings
from coagent_graphstore.factory import open_graph_store, open_vector_index
from coagent_graphstore.models import Scope
from coagent_kit.auth import HEADER, InternalIdentity, sign_identity

pytestmark = pytest.mark.integration

SECRET = "integration-internal-secret-32-bytes"
A_MESSAGES = {"m-a1", "m-a2", "m-a3", "m-a4"}
QUESTIONS = (
    "When is the demo scheduled?",
    "Which database did Alice choose?",
    "What do Bob's migration scripts use?",
)


@pytest.fixture
def settings(nats_url: str, redis_url: str, graph_url: str) -> GraphragQuerySettings:
    return GraphragQuerySettings(
        env="test",
        nats_url=nats_url,
        redis_url=redis_url,
        graph_url=graph_url,
        internal_token_secret=SecretStr(SECRET),
    )


@pytest.fixture
def rooms() -> tuple[str, str]:
    run = uuid.uuid4().hex[:10]
    return f"room-a-{run}", f"room-b-{run}"


@pytest.fixture
async def client(
    settings: GraphragQuerySettings,
    rooms: tuple[str, str],
    seed: Callable[..., Awaitable[None]],
) -> AsyncIterator[httpx.AsyncClient]:
    storage = settings.storage()
    graph, vectors = open_graph_store(storage), open_vector_index(storage)
    try:
        await seed(graph, vectors, Scope(rooms[0]), Scope(rooms[1]))
        await fresh_consumer(settings.nats_url, GRAPHRAG.name, BUILD_STATUS_CONSUMER)
        app: FastAPI = create_app(settings)
        identity = InternalIdentity(user_id="u-1", platform_role="student")
        headers = {HEADER: sign_identity(SECRET, identity, "graphrag-query")}
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://test", headers=headers, timeout=30
            ) as c:
                yield c
    finally:
        for room in rooms:
            await graph.purge(Scope(room))
            await vectors.purge(Scope(room))
        await graph.close()
        await vectors.close()


async def ask(client: httpx.AsyncClient, room: str, question: str, mode: str) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/graph/{room}/query", json={"question": question, "mode": mode}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_room_a_answers_cite_its_messages(
    client: httpx.AsyncClient, rooms: tuple[str, str]
) -> None:
    demo = await ask(client, rooms[0], QUESTIONS[0], "basic")
    assert demo["found"] is True
    assert demo["sources"] == ["m-a3"]
    assert "Friday afternoon" in str(demo["answer"])
    alice = await ask(client, rooms[0], QUESTIONS[1], "auto")
    assert alice["mode"] == "local"
    assert "alice" in alice["entities"]
    assert "PostgreSQL" in str(alice["answer"])
    assert "m-a1" in alice["sources"]
    bob = await ask(client, rooms[0], QUESTIONS[2], "local")
    assert "Alembic" in str(bob["answer"])
    assert "m-a4" in bob["sources"]


async def test_room_b_finds_nothing_of_room_a(
    client: httpx.AsyncClient, rooms: tuple[str, str]
) -> None:
    leaked: set[str] = set()
    for question in QUESTIONS:
        for mode in ("auto", "basic", "local"):
            body = await ask(client, rooms[1], question, mode)
            cited = {m for c in body["citations"] for m in c["message_ids"]}
            leaked |= A_MESSAGES & (cited | set(body["sources"]))
    assert leaked == set()
    own = await ask(client, rooms[1], "Where will the prototype store everything?", "auto")
    assert own["sources"] == ["m-b1"]


async def test_graph_status_and_communities_come_from_the_store(
    client: httpx.AsyncClient, rooms: tuple[str, str]
) -> None:
    graph = (await client.get(f"/api/v1/graph/{rooms[0]}", params={"limit": 4})).json()
    assert graph["total_nodes"] == 6
    assert graph["node_count"] == 4
    assert graph["next_offset"] == 4
    status = (await client.get(f"/api/v1/graph/{rooms[0]}/status")).json()
    assert (status["state"], status["node_count"], status["edge_count"]) == ("ready", 6, 3)
    assert status["chunk_count"] == 3
    other = (await client.get(f"/api/v1/graph/{rooms[1]}/status")).json()
    assert (other["node_count"], other["edge_count"], other["chunk_count"]) == (2, 0, 1)
    assert (await client.get(f"/api/v1/graph/{rooms[0]}/communities")).json() == []
