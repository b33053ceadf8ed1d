"""Community rebuilds on a real FalkorDB: an unchanged room writes no report again, the build
counts what is stored, and the store's float precision changes nothing the memory store gives."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence

import pytest

from coagent_graphrag_ingest.adapters.memory import MemoryStore, MemoryUnitOfWork
from coagent_graphrag_ingest.community_build import CommunityBuilder
from coagent_graphrag_ingest.reports import OfflineReporter, ReportDraft, ReportInput
from coagent_graphstore.adapters.falkordb import FalkorVectorIndex, falkordb_graph_store
from coagent_graphstore.adapters.memory import MemoryGraphStore, MemoryVectorIndex
from coagent_graphstore.embedding import FeatureHashingEmbedder
from coagent_graphstore.models import Community, EntityUpsert, RelationUpsert, Scope
from coagent_graphstore.ports import GraphStore, VectorIndex

pytestmark = pytest.mark.integration

ROOM = "room-rebuild"
SCOPE = Scope(ROOM)
DIMENSION = 32
# Weights FalkorDB hands back with 15 significant digits (1/3, 0.1 + 0.2, …).
SAID = [
    ("m1", "PostgreSQL", "Alembic", "Alembic migrates PostgreSQL.", 1 / 3),
    ("m2", "PostgreSQL", "Indexes", "Indexes speed up PostgreSQL.", 0.1),
    ("m3", "PostgreSQL", "Indexes", "PostgreSQL indexes are B-trees.", 0.2),
    ("m4", "Alembic", "Indexes", "Alembic creates the indexes.", 0.7),
    ("m5", "PostgreSQL", "Backups", "Backups of PostgreSQL run nightly.", 2 / 3),
    ("m6", "Backups", "Alembic", "Backups run before each migration.", 0.1 + 0.2),
    ("m7", "Demo", "Room 204", "The demo is in room 204.", 1 / 7),
    ("m8", "Demo", "Friday", "The demo is on Friday.", 0.3),
    ("m9", "Friday", "Room 204", "Room 204 is booked on Friday.", 5 / 9),
    ("m10", "Demo", "Projector", "The demo needs the projector.", 0.45),
]


class CountingReporter:
    def __init__(self) -> None:
        self.inner = OfflineReporter()
        self.calls: list[str] = []

    @property
    def version(self) -> str:
        return self.inner.version

    async def report(self, facts: ReportInput) -> ReportDraft:
        self.calls.append(facts.community_id)
        return await self.inner.report(facts)


async def fill(graph: GraphStore) -> None:
    for source, a, b, text, weight in SAID:
        await graph.upsert_entities(SCOPE, [
            EntityUpsert(a, "CONCEPT", source, f"{a}: {text}"),
            EntityUpsert(b, "CONCEPT", source, f"{b}: {text}"),
        ])  # fmt: skip
        await graph.upsert_relations(
            SCOPE, [RelationUpsert(a, b, "RELATED_TO", source, text, weight)]
        )


def builder(
    graph: GraphStore, vectors: VectorIndex, reporter: CountingReporter
) -> CommunityBuilder:
    store = MemoryStore()
    return CommunityBuilder(
        lambda: MemoryUnitOfWork(store), graph, vectors, FeatureHashingEmbedder(DIMENSION),
        reporter, max_cluster_size=3,
    )  # fmt: skip


def shape(communities: Sequence[Community]) -> set[tuple[object, ...]]:
    return {
        (c.id, c.level, c.members, c.parent_id, c.report.fingerprint if c.report else None)
        for c in communities
    }


@pytest.fixture
async def falkor(graph_url: str) -> AsyncIterator[tuple[GraphStore, VectorIndex]]:
    prefix = f"test-rebuild-{uuid.uuid4().hex[:8]}"
    graph = falkordb_graph_store(graph_url, prefix=f"{prefix}-kg")
    vectors = FalkorVectorIndex(graph_url, DIMENSION, prefix=f"{prefix}-vec")
    try:
        yield graph, vectors
    finally:
        await graph.purge(SCOPE)
        await vectors.purge(SCOPE)
        await graph.close()
        await vectors.close()


async def test_rebuilding_an_unchanged_room_on_falkordb_writes_no_report(
    falkor: tuple[GraphStore, VectorIndex],
) -> None:
    graph, vectors = falkor
    await fill(graph)
    reporter = CountingReporter()
    build = builder(graph, vectors, reporter)

    first = await build.refresh(ROOM)

    assert first.levels == 2
    assert first.reports_written == len(reporter.calls) == first.communities
    stored = await graph.communities(SCOPE)
    assert (await graph.stats(SCOPE)).communities == len(stored) == first.communities
    assert len({c.id for c in stored}) == len(stored)

    reporter.calls.clear()
    second = await build.refresh(ROOM)

    assert reporter.calls == []
    assert (second.reports_written, second.changed) == (0, False)
    assert second.communities == (await graph.stats(SCOPE)).communities == first.communities
    assert await graph.communities(SCOPE) == stored


async def test_falkordb_and_memory_give_the_same_communities_and_fingerprints(
    falkor: tuple[GraphStore, VectorIndex],
) -> None:
    memory = MemoryGraphStore()
    await fill(memory)
    await builder(memory, MemoryVectorIndex(DIMENSION), CountingReporter()).refresh(ROOM)
    graph, vectors = falkor
    await fill(graph)
    await builder(graph, vectors, CountingReporter()).refresh(ROOM)

    assert shape(await graph.communities(SCOPE)) == shape(await memory.communities(SCOPE))
