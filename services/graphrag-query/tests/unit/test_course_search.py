"""Course questions over the memory adapters: the same search in each named room, merged.

Course X has rooms A (the demo, the database) and C (the budget); course Y has room B. The
gateway names the rooms; only those are ever read.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr

from coagent_graphrag_query.adapters.extractive import ExtractiveChatModel
from coagent_graphrag_query.adapters.graph_builds import MemoryGraphBuildStore
from coagent_graphrag_query.adapters.memory import MemoryBuildStatusStore
from coagent_graphrag_query.answers import Passage
from coagent_graphrag_query.app import install_graph_routes
from coagent_graphrag_query.course_endpoints import MAX_ROOMS, NO_COURSE_ANSWER
from coagent_graphrag_query.course_search import CourseSearch, RoomPassage, merge
from coagent_graphrag_query.global_search import GlobalSearch
from coagent_graphrag_query.graph_builds import GraphBuilds
from coagent_graphrag_query.retrieval import Retriever
from coagent_graphrag_query.settings import GraphragQuerySettings
from coagent_graphstore.adapters.memory import MemoryGraphStore, MemoryVectorIndex
from coagent_graphstore.embedding import FeatureHashingEmbedder
from coagent_graphstore.models import (
    Chunk,
    Community,
    CommunityReport,
    EntityUpsert,
    Finding,
    Scope,
)
from coagent_kit.app import build_app
from coagent_kit.auth import HEADER, InternalIdentity, sign_identity

from ..conftest import DIMENSION, seed_rooms, write_room

SECRET = "unit-test-internal-secret-32-bytes-long"
A, B, C = "room-a", "room-b", "room-c"
COURSE_X, COURSE_Y = [A, C], [B]
DEMO = "When is the demo scheduled?"
BUDGET_CHUNK = Chunk(
    "c-c1",
    "Erin: The Quasar budget was approved at twenty thousand euros.",
    message_ids=("m-c1",),
    mentions=("Erin", "Quasar"),
)
BUDGET_REPORT = CommunityReport(
    "Quasar funding",
    "The Quasar budget is settled.",
    (Finding("The Quasar budget was approved at twenty thousand euros.", "", ("m-c1",)),),
    7.0,
    ("m-c1",),
)
Stores = tuple[MemoryGraphStore, MemoryVectorIndex]


@pytest.fixture
async def stores() -> Stores:
    graph, vectors = MemoryGraphStore(), MemoryVectorIndex(DIMENSION)
    await seed_rooms(graph, vectors, Scope(A), Scope(B))
    await write_room(graph, vectors, Scope(C), (BUDGET_CHUNK,),
                     (EntityUpsert("Quasar", "project", "m-c1", "A funded project"),))  # fmt: skip
    return graph, vectors


def course_search(stores: Stores) -> CourseSearch:
    graph, vectors = stores
    embedder, model = FeatureHashingEmbedder(DIMENSION), ExtractiveChatModel()
    return CourseSearch(
        Retriever(graph, vectors, embedder), model, GlobalSearch(graph, vectors, embedder, model)
    )


async def test_a_course_question_finds_a_fact_of_any_of_its_rooms(stores: Stores) -> None:
    search = course_search(stores)
    demo = await search.ask(COURSE_X, DEMO, "basic")
    assert "Friday afternoon" in demo.answer.text
    assert demo.answer.message_ids == ("m-a3",)
    assert [demo.room_of[p.number] for p in demo.answer.cited] == [A]
    assert demo.rooms == (A, C)

    budget = await search.ask(COURSE_X, "How much was the Quasar budget?")
    assert budget.answer.mode == "local"  # "Quasar" names an entity of room C
    assert "twenty thousand euros" in budget.answer.text
    assert {budget.room_of[p.number] for p in budget.answer.cited} == {C}


async def test_another_course_and_rooms_not_named_are_never_read(stores: Stores) -> None:
    search = course_search(stores)
    for rooms in (COURSE_Y, [C]):  # course Y; course X without room A (the caller's view)
        for mode in ("auto", "basic", "local"):
            found = await search.ask(rooms, DEMO, mode)  # type: ignore[arg-type]
            cited = {m for p in found.answer.cited for m in p.message_ids}
            assert not cited & {"m-a1", "m-a2", "m-a3", "m-a4"}, (rooms, mode)
            assert set(found.room_of.values()) <= set(rooms)
            assert "Friday" not in found.answer.text


async def test_no_rooms_is_an_empty_answer_not_an_error(stores: Stores) -> None:
    found = await course_search(stores).ask([], DEMO, "global")
    assert (found.answer.text, found.answer.claims, found.rooms) == ("", (), ())


async def test_global_reads_rooms_with_reports_and_skips_the_others(stores: Stores) -> None:
    graph, _ = stores
    search = course_search(stores)
    # No room of the course has communities yet: nothing to answer from, but no error either.
    assert (await search.ask(COURSE_X, "Summarize the main themes", "global")).answer.text == ""
    await graph.replace_communities(
        Scope(C), [Community("c0", 0, ("quasar",), None, BUDGET_REPORT)]
    )
    found = await search.ask(COURSE_X, "Summarize the main themes")  # auto: thematic → global
    assert found.answer.mode == "global"
    assert "twenty thousand euros" in found.answer.text
    assert [found.room_of[p.number] for p in found.answer.cited] == [C]
    assert found.answer.message_ids == ("m-c1",)


def test_merge_ranks_every_rooms_passages_by_score_and_renumbers() -> None:
    def rp(room: str, number: int, score: float) -> RoomPassage:
        return RoomPassage(room, Passage(number, f"{room}-{number}", "t", score))

    merged = merge([rp(A, 1, 0.4), rp(A, 2, 0.2), rp(C, 1, 0.9), rp(C, 2, 0.4)], limit=3)
    assert [(m.room_id, m.passage.chunk_id, m.passage.number) for m in merged] == [
        (C, "room-c-1", 1),
        (A, "room-a-1", 2),  # a tie keeps the order the rooms came in
        (C, "room-c-2", 3),
    ]


# ----------------------------------------------------------------------------- the route
@pytest.fixture
async def client(stores: Stores) -> AsyncIterator[httpx.AsyncClient]:
    graph, vectors = stores
    app = build_app(
        GraphragQuerySettings(env="test", internal_token_secret=SecretStr(SECRET)),
        title="graphrag-query under test",
    )

    async def publish(command: object) -> None:
        raise AssertionError("no build is requested here")

    builds = GraphBuilds(MemoryGraphBuildStore(), publish)
    install_graph_routes(app, graph, vectors, MemoryBuildStatusStore(), builds)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://query") as http:
        yield http


def signed() -> dict[str, str]:
    identity = InternalIdentity(user_id="u-1", platform_role="student", resource_role="student")
    return {HEADER: sign_identity(SECRET, identity, "graphrag-query")}


async def test_the_internal_route_answers_with_each_citations_room(
    client: httpx.AsyncClient,
) -> None:
    url = "/internal/v1/graph/query"
    body = {"rooms": COURSE_X, "question": DEMO, "mode": "basic"}
    answer = (await client.post(url, json=body, headers=signed())).json()
    assert answer["found"] is True, answer
    assert answer["sources"] == ["m-a3"]
    assert [(c["room_id"], c["message_ids"]) for c in answer["citations"]] == [(A, ["m-a3"])]
    assert answer["rooms"] == COURSE_X

    empty = await client.post(url, json={**body, "rooms": []}, headers=signed())
    assert empty.status_code == 200
    assert (empty.json()["found"], empty.json()["answer"]) == (False, NO_COURSE_ANSWER)

    unsigned = await client.post(url, json=body)
    assert unsigned.status_code == 401
    too_many = await client.post(
        url, json={**body, "rooms": [f"r{i}" for i in range(MAX_ROOMS + 1)]}, headers=signed()
    )
    assert (too_many.status_code, too_many.json()["code"]) == (422, "validation_error")
    bad = await client.post(url, json={**body, "rooms": ["a/b"]}, headers=signed())
    assert (bad.status_code, bad.json()["code"]) == (400, "invalid_scope")
