"""A small room conversation written straight through the storage ports, for search tests."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from coagent_graphstore.embedding import FeatureHashingEmbedder
from coagent_graphstore.models import Chunk, EntityUpsert, RelationUpsert, Scope, VectorItem
from coagent_graphstore.ports import GraphStore, VectorIndex

DIMENSION = 256

ROOM_A_CHUNKS = (
    Chunk(
        "a-c1",
        "Alice: We decided the database will be PostgreSQL. Bob agreed to write the migration.",
        message_ids=("m-a1", "m-a2"),
        mentions=("Alice", "PostgreSQL", "Bob"),
        position=0,
    ),
    Chunk(
        "a-c2",
        "Carol: The demo is scheduled for Friday afternoon in room 204.",
        message_ids=("m-a3",),
        mentions=("Carol", "Demo"),
        position=1,
    ),
    Chunk(
        "a-c3",
        "Bob: The migration scripts use Alembic and run in continuous integration.",
        message_ids=("m-a4",),
        mentions=("Bob", "Alembic"),
        position=2,
    ),
)
ROOM_A_ENTITIES = (
    EntityUpsert("Alice", "person", "m-a1", "Proposed the database choice"),
    EntityUpsert("Bob", "person", "m-a2", "Writes the migration scripts", aliases=("Bobby",)),
    EntityUpsert("PostgreSQL", "technology", "m-a1", "The chosen database", aliases=("Postgres",)),
    EntityUpsert("Carol", "person", "m-a3", "Organises the demo"),
    EntityUpsert("Demo", "event", "m-a3", "Friday afternoon demo in room 204"),
    EntityUpsert("Alembic", "tool", "m-a4", "Migration tool"),
)
ROOM_A_RELATIONS = (
    RelationUpsert("Alice", "PostgreSQL", "chose", "m-a1", "We decided the database"),
    RelationUpsert("Bob", "Alembic", "uses", "m-a4", "The migration scripts use Alembic"),
    RelationUpsert("Carol", "Demo", "presents", "m-a3", "The demo is scheduled"),
)
ROOM_B_CHUNKS = (
    Chunk(
        "b-c1",
        "Dave: For the prototype we will store everything in MongoDB.",
        message_ids=("m-b1",),
        mentions=("Dave", "MongoDB"),
    ),
)
ROOM_B_ENTITIES = (
    EntityUpsert("Dave", "person", "m-b1", "Builds the prototype"),
    EntityUpsert("MongoDB", "technology", "m-b1", "Prototype database"),
)

Seed = Callable[[GraphStore, VectorIndex, Scope, Scope], Awaitable[None]]


async def write_room(
    graph: GraphStore,
    vectors: VectorIndex,
    scope: Scope,
    chunks: tuple[Chunk, ...],
    entities: tuple[EntityUpsert, ...],
    relations: tuple[RelationUpsert, ...] = (),
) -> None:
    """Graph records and their vectors, embedded the way ingestion embeds them."""
    embedder = FeatureHashingEmbedder(vectors.dimension)
    await graph.upsert_entities(scope, entities)
    await graph.upsert_relations(scope, relations)
    await graph.upsert_chunks(scope, chunks)
    chunk_vectors = embedder.embed([c.text for c in chunks])
    entity_vectors = embedder.embed([f"{e.name}: {e.description}" for e in entities])
    stored = await graph.entities(scope, [e.name for e in entities])
    await vectors.upsert(
        scope,
        [
            VectorItem(c.id, "chunk", tuple(v), c.source_ids, c.text)
            for c, v in zip(chunks, chunk_vectors, strict=True)
        ]
        + [
            VectorItem(s.key, "entity", tuple(v), (e.source_id,), e.name)
            for e, s, v in zip(entities, stored, entity_vectors, strict=True)
        ],
    )


async def seed_rooms(graph: GraphStore, vectors: VectorIndex, a: Scope, b: Scope) -> None:
    await write_room(graph, vectors, a, ROOM_A_CHUNKS, ROOM_A_ENTITIES, ROOM_A_RELATIONS)
    await write_room(graph, vectors, b, ROOM_B_CHUNKS, ROOM_B_ENTITIES)


@pytest.fixture
def seed() -> Seed:
    return seed_rooms
