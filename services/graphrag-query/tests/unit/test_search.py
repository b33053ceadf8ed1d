"""Search over the memory adapters: modes, entity linking, grounding, room isolation."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import pytest

from coagent_graphrag_query.adapters.extractive import ExtractiveChatModel
from coagent_graphrag_query.answers import Passage
from coagent_graphrag_query.ports import ChatModel
from coagent_graphrag_query.retrieval import Limits, Retriever
from coagent_graphrag_query.search import GlobalSearchUnavailable, RequestedMode, SearchService
from coagent_graphstore.adapters.memory import MemoryGraphStore, MemoryVectorIndex
from coagent_graphstore.embedding import FeatureHashingEmbedder
from coagent_graphstore.models import Chunk, EntityUpsert, RelationUpsert, Scope

ROOM_A, ROOM_B, EMPTY = Scope("room-a"), Scope("room-b"), Scope("room-empty")
A_MESSAGES = {"m-a1", "m-a2", "m-a3", "m-a4"}
Stores = tuple[MemoryGraphStore, MemoryVectorIndex]
MODES: tuple[RequestedMode, ...] = ("auto", "basic", "local")


class Inventing:
    """A model that adds a claim no passage supports to a correct one."""

    async def answer(self, question: str, passages: Sequence[Passage]) -> str:
        return "The database will be PostgreSQL [1]. The budget doubled last week [1]."


@pytest.fixture
async def stores(seed: Callable[..., Awaitable[None]]) -> Stores:
    graph, vectors = MemoryGraphStore(), MemoryVectorIndex(256)
    await seed(graph, vectors, ROOM_A, ROOM_B)
    return graph, vectors


def service(stores: Stores, model: ChatModel | None = None) -> SearchService:
    graph, vectors = stores
    retriever = Retriever(graph, vectors, FeatureHashingEmbedder(vectors.dimension))
    return SearchService(retriever, model or ExtractiveChatModel())


async def test_basic_search_cites_the_message_that_answers(stores: Stores) -> None:
    answer = await service(stores).ask(ROOM_A, "When is the demo scheduled?", "basic")
    assert answer.mode == "basic"
    assert "Friday afternoon" in answer.text
    assert answer.message_ids == ("m-a3",)
    assert [p.chunk_id for p in answer.cited] == ["a-c2"]


async def test_auto_routes_a_question_naming_an_entity_to_local(stores: Stores) -> None:
    # "Bobby" is an alias of Bob; the answer lives in a chunk reached through him.
    answer = await service(stores).ask(ROOM_A, "Which tool do Bobby's migration scripts use?")
    assert answer.mode == "local"
    assert "bob" in answer.entities
    assert "Alembic" in answer.text
    assert "m-a4" in answer.message_ids


async def test_auto_without_named_entities_is_basic(stores: Stores) -> None:
    answer = await service(stores).ask(ROOM_A, "what happens on friday afternoon")
    assert answer.mode == "basic"
    assert answer.message_ids == ("m-a3",)


async def test_local_search_expands_to_neighbours_chunks(stores: Stores) -> None:
    answer = await service(stores).ask(ROOM_A, "What did Alice decide about the database?", "local")
    assert answer.entities[0] == "alice"
    assert "PostgreSQL" in answer.text
    assert set(answer.message_ids) <= {"m-a1", "m-a2"}


async def test_unsupported_claims_of_the_model_are_dropped(stores: Stores) -> None:
    answer = await service(stores, Inventing()).ask(ROOM_A, "Which database?", "basic")
    assert [c.text for c in answer.claims] == ["The database will be PostgreSQL."]
    assert "budget" not in answer.text


async def test_another_room_never_sees_room_a(stores: Stores) -> None:
    search = service(stores)
    for question in ("Which database did we decide on?", "What does Bob use for the migration?"):
        for mode in MODES:
            b = await search.ask(ROOM_B, question, mode)
            assert not A_MESSAGES & set(b.message_ids)
            assert not {"a-c1", "a-c2", "a-c3"} & {p.chunk_id for p in b.cited}
            empty = await search.ask(EMPTY, question, mode)
            assert empty.claims == ()
            assert empty.cited == ()
            assert empty.entities == ()
    b = await search.ask(ROOM_B, "Which database will store the prototype?")
    assert b.message_ids == ("m-b1",)


async def test_global_search_is_not_available_yet(stores: Stores) -> None:
    with pytest.raises(GlobalSearchUnavailable) as raised:
        await service(stores).ask(ROOM_A, "What are the main themes?", "global")
    assert raised.value.status == 409
    assert raised.value.code == "communities_not_built"


async def test_a_busy_neighbour_does_not_crowd_out_the_seed_chunks() -> None:
    graph, vectors = MemoryGraphStore(), MemoryVectorIndex(64)
    room = Scope("busy")
    await graph.upsert_entities(
        room, [EntityUpsert("Zoe", "person", "m-z"), EntityUpsert("Team", "group", "m-t0")]
    )
    await graph.upsert_relations(room, [RelationUpsert("Zoe", "Team", "member of", "m-z")])
    chatter = [
        Chunk(
            f"t{i}", f"The team met for the weekly sync number {i}.", (f"m-t{i}",), (), ("Team",), i
        )
        for i in range(10)
    ]
    zoe = Chunk("z", "Zoe prefers tea over coffee.", ("m-z",), (), ("Zoe",), 99)
    await graph.upsert_chunks(room, [*chatter, zoe])
    retriever = Retriever(
        graph, vectors, FeatureHashingEmbedder(64), Limits(passages=2, chunks_per_expansion=3)
    )
    found = await retriever.local(room, "What does Zoe prefer?")
    assert found.entities == ("zoe",)
    assert found.passages[0].chunk_id == "z"
    assert len(found.passages) == 2  # the cap still holds, with a neighbour's chunk after it
