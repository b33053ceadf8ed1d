"""The public graph routes on an app built like the real one, over the memory adapters."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

import httpx
import pytest
from pydantic import SecretStr

from coagent_contracts.graphrag import GraphBuildProgressV1, GraphBuildRequestedV1
from coagent_graphrag_query.adapters.graph_builds import MemoryGraphBuildStore
from coagent_graphrag_query.adapters.memory import MemoryBuildStatusStore
from coagent_graphrag_query.app import install_graph_routes
from coagent_graphrag_query.domain import JobOutcome
from coagent_graphrag_query.graph_builds import GraphBuilds
from coagent_graphrag_query.settings import GraphragQuerySettings
from coagent_graphstore.adapters.memory import MemoryGraphStore, MemoryVectorIndex
from coagent_graphstore.models import Community, CommunityReport, Finding, Scope, Summary
from coagent_kit.app import build_app
from coagent_kit.auth import HEADER, InternalIdentity, sign_identity

SECRET = "unit-test-internal-secret-32-bytes-long"
BASE = "/api/v1/graph"


def token(audience: str = "graphrag-query") -> dict[str, str]:
    identity = InternalIdentity(user_id="u-1", platform_role="student", resource_role="member")
    return {HEADER: sign_identity(SECRET, identity, audience)}


@pytest.fixture
def graph() -> MemoryGraphStore:
    return MemoryGraphStore()


@pytest.fixture
def build_status() -> MemoryBuildStatusStore:
    return MemoryBuildStatusStore()


@pytest.fixture
def commands() -> list[GraphBuildRequestedV1]:
    return []


@pytest.fixture
def builds(commands: list[GraphBuildRequestedV1]) -> GraphBuilds:
    async def publish(command: GraphBuildRequestedV1) -> None:
        commands.append(command)

    return GraphBuilds(MemoryGraphBuildStore(), publish)


@pytest.fixture
async def client(
    graph: MemoryGraphStore,
    build_status: MemoryBuildStatusStore,
    builds: GraphBuilds,
    seed: Callable[..., Awaitable[None]],
) -> AsyncIterator[httpx.AsyncClient]:
    vectors = MemoryVectorIndex(256)
    await seed(graph, vectors, Scope("room-a"), Scope("room-b"))
    app = build_app(
        GraphragQuerySettings(env="test", internal_token_secret=SecretStr(SECRET)),
        title="graphrag-query under test",
    )
    install_graph_routes(app, graph, vectors, build_status, builds)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test", headers=token()) as c:
        yield c


async def test_the_graph_has_the_fields_the_client_reads(client: httpx.AsyncClient) -> None:
    body = (await client.get(f"{BASE}/room-a")).json()
    assert body["node_count"] == len(body["nodes"]) == body["total_nodes"] == 6
    assert body["next_offset"] is None
    bob = next(n for n in body["nodes"] if n["name"] == "Bob")
    assert bob == {
        "id": "bob",
        "name": "Bob",
        "type": "person",
        "description": "Writes the migration scripts",
        "aliases": ["Bobby"],
        "community_id": None,
        "sources": ["m-a2"],
    }
    assert {(e["source"], e["relation"], e["target"]) for e in body["edges"]} == {
        ("Alice", "chose", "PostgreSQL"),
        ("Bob", "uses", "Alembic"),
        ("Carol", "presents", "Demo"),
    }
    assert body["edge_count"] == 3


async def test_a_stored_summary_is_shown_instead_of_the_fragments(
    client: httpx.AsyncClient, graph: MemoryGraphStore
) -> None:
    summary = Summary(text="Bob maintains the schema migrations", of="fp-1")
    await graph.set_summaries(Scope("room-a"), entities={"bob": summary})
    body = (await client.get(f"{BASE}/room-a")).json()
    bob = next(n for n in body["nodes"] if n["name"] == "Bob")
    alice = next(n for n in body["nodes"] if n["name"] == "Alice")
    assert bob["description"] == "Bob maintains the schema migrations"
    assert alice["description"]
    assert alice["description"] != bob["description"]


async def test_the_graph_is_paged_and_edges_name_nodes_on_other_pages(
    client: httpx.AsyncClient,
) -> None:
    first = (await client.get(f"{BASE}/room-a", params={"limit": 2})).json()
    assert [n["id"] for n in first["nodes"]] == ["alembic", "alice"]
    assert first["next_offset"] == 2
    assert first["total_nodes"] == 6
    # Alice's edge leaves this page; its target is still named.
    assert first["edges"][0]["target"] == "PostgreSQL"
    last = (await client.get(f"{BASE}/room-a", params={"offset": 4, "limit": 2})).json()
    assert [n["id"] for n in last["nodes"]] == ["demo", "postgresql"]
    assert last["next_offset"] is None


async def test_bad_paging_is_422(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{BASE}/room-a", params={"limit": 0})
    assert response.status_code == 422


async def test_status_of_an_empty_room_and_of_a_filled_one(
    client: httpx.AsyncClient, build_status: MemoryBuildStatusStore
) -> None:
    empty = (await client.get(f"{BASE}/room-new/status")).json()
    assert empty["state"] == "empty"
    assert empty["node_count"] == 0
    assert empty["build"] is None
    ready = (await client.get(f"{BASE}/room-a/status")).json()
    assert (ready["state"], ready["node_count"], ready["edge_count"]) == ("ready", 6, 3)
    assert (ready["chunk_count"], ready["community_count"], ready["is_building"]) == (3, 0, False)

    ended = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    await build_status.apply("e-1", JobOutcome("room-a", "j-1", "failed", 0, 0, 0, "boom", ended))
    failed = (await client.get(f"{BASE}/room-a/status")).json()
    assert failed["state"] == "failed"
    assert failed["build"]["error"] == "boom"
    assert failed["last_updated"].startswith("2026-01-02T03:04:05")


async def test_communities_are_empty_until_built_then_listed(
    client: httpx.AsyncClient, graph: MemoryGraphStore
) -> None:
    assert (await client.get(f"{BASE}/room-a/communities")).json() == []
    report = CommunityReport(
        "Database choice", "The team chose PostgreSQL.", (Finding("Alice decided"),), 7.5, ("m-a1",)
    )
    await graph.replace_communities(
        Scope("room-a"), [Community("c-0", 0, ("alice", "postgresql"), report=report)]
    )
    body = (await client.get(f"{BASE}/room-a/communities")).json()
    assert body == [
        {
            "community_id": "c-0",
            "level": 0,
            "parent_id": None,
            "title": "Database choice",
            "summary": "The team chose PostgreSQL.",
            "key_findings": ["Alice decided"],
            "key_entities": ["Alice", "PostgreSQL"],
            "rating": 7.5,
            "sources": ["m-a1"],
        }
    ]
    nodes = (await client.get(f"{BASE}/room-a")).json()["nodes"]
    assert {n["id"]: n["community_id"] for n in nodes}["alice"] == "c-0"
    assert (await client.get(f"{BASE}/room-b/communities")).json() == []


async def test_a_question_is_answered_with_citations(client: httpx.AsyncClient) -> None:
    response = await client.post(f"{BASE}/room-a/query", json={"question": "When is the demo?"})
    assert response.status_code == 200
    body = response.json()
    assert body["found"] is True
    assert body["intent"] == "local"
    assert body["sources"] == ["m-a3"]
    assert body["citations"][0]["chunk_id"] == "a-c2"
    assert body["claims"][0]["message_ids"] == ["m-a3"]
    assert "[1]" in body["answer"]


async def test_a_question_in_another_room_finds_nothing_of_room_a(
    client: httpx.AsyncClient,
) -> None:
    for room in ("room-b", "room-new"):
        response = await client.post(f"{BASE}/{room}/query", json={"question": "When is the demo?"})
        body = response.json()
        assert body["found"] is False
        assert body["sources"] == []
        assert body["citations"] == []
        assert body["answer"] == "Nothing in this room's conversation answers that question."


async def test_a_build_is_accepted_once_and_its_progress_shows_in_status(
    client: httpx.AsyncClient, builds: GraphBuilds, commands: list[GraphBuildRequestedV1]
) -> None:
    response = await client.post(f"{BASE}/room-a/build")
    assert response.status_code == 202
    body = response.json()
    assert (body["room_id"], body["status"], body["stage"]) == ("room-a", "queued", "queued")
    assert body["message"]
    again = await client.post(f"{BASE}/room-a/build")
    assert (again.status_code, again.json()["build_id"]) == (202, body["build_id"])
    assert [c.data.build_id for c in commands] == [body["build_id"]]
    assert commands[0].data.requested_by == "u-1"

    building = (await client.get(f"{BASE}/room-a/status")).json()
    assert building["is_building"] is True
    assert building["graph_build"]["build_id"] == body["build_id"]
    await builds.record(GraphBuildProgressV1.model_validate({
        "producer": "graphrag-ingest",
        "data": {"room_id": "room-a", "build_id": body["build_id"], "step": 5,
                 "stage": "done", "status": "succeeded", "communities": 2},
    }))  # fmt: skip
    built = (await client.get(f"{BASE}/room-a/status")).json()
    assert built["is_building"] is False
    assert (built["graph_build"]["status"], built["graph_build"]["progress"]) == ("succeeded", 1.0)
    assert (await client.get(f"{BASE}/room-b/status")).json()["graph_build"] is None


async def test_a_build_of_a_malformed_room_id_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post(f"{BASE}/room%20a/build")
    assert (response.status_code, response.json()["code"]) == (400, "invalid_scope")


async def test_global_questions_are_answered_once_communities_have_reports(
    client: httpx.AsyncClient, graph: MemoryGraphStore
) -> None:
    report = CommunityReport(
        "Demo", "The demo is on Friday.",
        (Finding("The demo is scheduled for Friday afternoon.", "", ("m-a3",)),), 6.0, ("m-a3",),
    )  # fmt: skip
    await graph.replace_communities(
        Scope("room-a"), [Community("c-0", 0, ("carol", "demo"), report=report)]
    )
    response = await client.post(
        f"{BASE}/room-a/query", json={"question": "When is the demo?", "mode": "global"}
    )
    body = response.json()
    assert (response.status_code, body["intent"], body["mode"]) == (200, "global", "global")
    assert body["sources"] == ["m-a3"]
    assert body["citations"][0]["chunk_id"] == "c-0#finding-1"
    summary = await client.post(f"{BASE}/room-a/query", json={"question": "Summarize the room"})
    assert summary.json()["mode"] == "global"


async def test_global_mode_is_409_until_communities_exist(client: httpx.AsyncClient) -> None:
    response = await client.post(
        f"{BASE}/room-a/query", json={"question": "Main themes?", "mode": "global"}
    )
    assert response.status_code == 409
    assert response.json()["code"] == "communities_not_built"


@pytest.mark.parametrize("body", [{}, {"question": ""}, {"question": "x", "mode": "drift"}])
async def test_a_bad_question_is_422(client: httpx.AsyncClient, body: dict[str, str]) -> None:
    response = await client.post(f"{BASE}/room-a/query", json=body)
    assert response.status_code == 422


async def test_a_malformed_room_id_is_400(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{BASE}/room%20a/status")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_scope"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", ""),
        ("GET", "/status"),
        ("GET", "/communities"),
        ("POST", "/query"),
        ("POST", "/build"),
    ],  # fmt: skip
)
async def test_every_route_needs_a_valid_identity(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    url, body = f"{BASE}/room-a{path}", {"question": "When is the demo?"}
    missing = await client.request(method, url, json=body, headers={HEADER: ""})
    assert missing.status_code == 401
    wrong = await client.request(method, url, json=body, headers=token("graphrag-ingest"))
    assert wrong.status_code == 401
    assert wrong.json()["code"] == "identity_invalid"
