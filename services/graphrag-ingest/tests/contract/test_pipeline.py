"""The ingest pipeline on memory adapters and on real PostgreSQL + FalkorDB alike.

The ``real`` case needs the embedded servers (``-m integration``); extraction is the real offline
extractor wrapped to count calls, since the model-call budget is what delta ingest promises.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import delete, pool
from sqlalchemy.ext.asyncio import create_async_engine

from coagent_contracts.chat import (
    ArtifactChangedData,
    ArtifactChangedV1,
    MessagePostedData,
    MessagePostedV1,
    MessagesErasedData,
    MessagesErasedV1,
)
from coagent_contracts.graphrag import IngestCompletedV1
from coagent_graphrag_ingest.adapters.memory import MemoryStore, MemoryUnitOfWork
from coagent_graphrag_ingest.adapters.offline_extractor import OfflineExtractor
from coagent_graphrag_ingest.adapters.postgres import PostgresUnitOfWork, outbox
from coagent_graphrag_ingest.chunking import TextChunk
from coagent_graphrag_ingest.extraction import Extraction
from coagent_graphrag_ingest.pipeline import RoomIngestor
from coagent_graphrag_ingest.ports import UnitOfWork, UnitOfWorkFactory
from coagent_graphrag_ingest.service import IngestService
from coagent_graphstore.adapters.falkordb import FalkorVectorIndex, falkordb_graph_store
from coagent_graphstore.adapters.memory import MemoryGraphStore, MemoryVectorIndex
from coagent_graphstore.embedding import FeatureHashingEmbedder
from coagent_graphstore.models import Scope
from coagent_graphstore.ports import GraphStore, VectorIndex
from coagent_kit.db import session_factory

DIMENSION = 64


class CountingExtractor:
    """The real offline extractor, counting its calls (the model-call budget under test)."""

    def __init__(self) -> None:
        self._inner = OfflineExtractor()
        self.calls: list[TextChunk] = []

    @property
    def version(self) -> str:
        return self._inner.version

    async def extract(self, chunk: TextChunk) -> Extraction:
        self.calls.append(chunk)
        return await self._inner.extract(chunk)


class Pipeline:
    def __init__(self, uow: UnitOfWorkFactory, graph: GraphStore, vectors: VectorIndex) -> None:
        self.uow = uow
        self.graph = graph
        self.vectors = vectors
        self.extractor = CountingExtractor()
        self.embedder = FeatureHashingEmbedder(DIMENSION)
        self.service = IngestService(uow)
        self.ingestor = RoomIngestor(
            uow, graph, vectors, self.embedder, self.extractor, max_chars=400
        )
        self.room = f"room-{uuid.uuid4().hex[:10]}"
        self._seq = 0

    async def post(self, text: str, sender: str = "Ada", kind: str = "human",
                   room: str | None = None, message_id: str | None = None) -> str:  # fmt: skip
        self._seq += 1
        mid = message_id or f"m-{uuid.uuid4().hex[:10]}"
        event = MessagePostedV1(
            producer="chat",
            data=MessagePostedData(
                message_id=mid, room_id=room or self.room, seq=self._seq,
                sender_kind=kind, sender_name=sender,  # type: ignore[arg-type]
                content=text, created_at=datetime.now(UTC),
            ),
        )  # fmt: skip
        await self.service.record_message(event)
        return mid


@pytest.fixture(params=["memory", pytest.param("real", marks=pytest.mark.integration)])
def backend(request: pytest.FixtureRequest) -> tuple[str, str] | None:
    """None for memory, else (database url, graph url).

    Sync on purpose: migrating runs its own event loop, which cannot nest in the test's.
    """
    if request.param == "memory":
        return None
    url = request.getfixturevalue("service_database_url")("graphrag-ingest")
    return url, request.getfixturevalue("graph_url")


@pytest.fixture
async def pipe(backend: tuple[str, str] | None) -> AsyncIterator[Pipeline]:
    if backend is None:
        store = MemoryStore()
        yield Pipeline(lambda: MemoryUnitOfWork(store), MemoryGraphStore(),
                       MemoryVectorIndex(DIMENSION))  # fmt: skip
        return
    url, graph_url = backend
    prefix = f"test-ingest-{uuid.uuid4().hex[:8]}"
    engine = create_async_engine(url, poolclass=pool.NullPool)
    sessions = session_factory(engine)

    def uow() -> UnitOfWork:
        return PostgresUnitOfWork(sessions, lambda: None)

    # Graph and vectors live under separate keys, as in production (purging one keeps the other).
    graph = falkordb_graph_store(graph_url, prefix=f"{prefix}-kg")
    vectors = FalkorVectorIndex(graph_url, DIMENSION, prefix=f"{prefix}-vec")
    pipe = Pipeline(uow, graph, vectors)
    try:
        yield pipe
    finally:
        # No relay runs here; drop this test's queued events so none is sent later.
        async with engine.begin() as conn:
            await conn.execute(delete(outbox).where(outbox.c.payload.contains(pipe.room)))
        await graph.close()
        await vectors.close()
        await engine.dispose()


def published(pipe: Pipeline) -> list[Any]:
    """Events the memory unit of work committed (empty for the real harness)."""
    store = getattr(pipe.uow(), "_store", None)
    return list(getattr(store, "published", []))


def erased(room: str, *message_ids: str) -> MessagesErasedV1:
    return MessagesErasedV1(
        producer="chat",
        data=MessagesErasedData(room_id=room, message_ids=message_ids, reason="forgotten"),
    )


def artifact(room: str, version: int, body: str) -> ArtifactChangedV1:
    return ArtifactChangedV1(
        producer="chat",
        data=ArtifactChangedData(
            artifact_id="art-1", room_id=room, artifact_type="doc", title="Storage decision",
            content={"body": body}, version=version,
        ),
    )  # fmt: skip


# ----------------------------------------------------------------------------- tests
CONVERSATION = [
    ("Ada", "human", "We should store the Leiden Algorithm results in PostgreSQL."),
    ("Tutor", "agent", "Good idea Ada. Postgres depends on the Query Planner for speed."),
    ("Grace", "human", "I struggle with the Leiden algorithm and Modularity Scores."),
]


async def ingest_conversation(pipe: Pipeline) -> list[str]:
    ids = [await pipe.post(text, sender, kind) for sender, kind, text in CONVERSATION]
    await pipe.ingestor.ingest(pipe.room)
    return ids


async def test_a_conversation_becomes_entities_relations_chunks_and_vectors(
    pipe: Pipeline,
) -> None:
    ids = await ingest_conversation(pipe)
    scope = Scope(pipe.room)

    ada = await pipe.graph.entity(scope, "Ada")
    assert ada is not None
    assert ada.type == "PERSON"
    assert set(ada.source_ids) >= {ids[0], ids[1]}  # her own turn, and the tutor naming her
    pg = await pipe.graph.entity(scope, "postgres")  # resolved by the fuzzy step
    assert pg is not None
    assert pg.name == "PostgreSQL"
    assert "Postgres" in pg.aliases
    assert [m.reason for m in await pipe.graph.merge_log(scope) if m.into_key == pg.key]
    sub = await pipe.graph.neighbourhood(scope, ["PostgreSQL"])
    depends = [r for r in sub.relations if r.relation == "DEPENDS_ON"]
    assert depends
    assert depends[0].evidence[0].source_id == ids[1]
    [chunk] = await pipe.graph.chunks_mentioning(scope, ["Grace"], limit=5)
    assert chunk.message_ids == tuple(ids)
    assert "Grace (human): I struggle" in chunk.text

    query = pipe.embedder.embed(["Query Planner speed"])[0]
    hits = await pipe.vectors.search(scope, query, k=5, kinds=["chunk", "entity"])
    assert {h.kind for h in hits} == {"chunk", "entity"}
    assert any(h.id == "query planner" and ids[1] in h.source_ids for h in hits)


async def test_reingesting_an_unchanged_room_makes_no_extraction_call(pipe: Pipeline) -> None:
    await ingest_conversation(pipe)
    assert len(pipe.extractor.calls) == 1
    before = await pipe.graph.stats(Scope(pipe.room))

    report = await pipe.ingestor.ingest(pipe.room)

    assert len(pipe.extractor.calls) == 1
    assert report.extracted == 0
    assert report.chunks == 1
    assert await pipe.graph.stats(Scope(pipe.room)) == before


async def test_one_new_message_costs_at_most_one_extraction_call(pipe: Pipeline) -> None:
    for i in range(12):  # several chunks of 400 characters
        await pipe.post(f"Message {i}: the Leiden Algorithm groups Topic{i} with Louvain.")
    first = await pipe.ingestor.ingest(pipe.room)
    assert first.chunks > 2
    assert len(pipe.extractor.calls) == first.chunks

    new = await pipe.post("Grace asks whether Neo4j can run Leiden.", "Grace")
    report = await pipe.ingestor.ingest(pipe.room)

    assert report.extracted == 1
    assert len(pipe.extractor.calls) == first.chunks + 1
    assert new in pipe.extractor.calls[-1].message_ids
    neo4j = await pipe.graph.entity(Scope(pipe.room), "Neo4j")
    assert neo4j is not None
    assert neo4j.source_ids == (new,)


async def test_forgetting_a_message_removes_its_source_only_facts_and_vectors(
    pipe: Pipeline,
) -> None:
    ids = await ingest_conversation(pipe)
    scope = Scope(pipe.room)
    assert await pipe.graph.entity(scope, "Modularity Scores") is not None

    report = await pipe.ingestor.forget(pipe.room, [ids[2]])
    await pipe.service.forget_messages(erased(pipe.room, ids[2]))

    assert "modularity scores" in report.removed_entities
    assert await pipe.graph.entity(scope, "Modularity Scores") is None
    assert await pipe.graph.entity(scope, "Grace") is None
    leiden = await pipe.graph.entity(scope, "Leiden Algorithm")  # also said in another message
    assert leiden is not None
    assert ids[2] not in leiden.source_ids
    query = pipe.embedder.embed(["Grace struggles with Modularity Scores"])[0]
    hits = await pipe.vectors.search(scope, query, k=50)
    assert all(ids[2] not in h.source_ids for h in hits)
    assert not any(h.id in ("grace", "modularity scores") for h in hits)
    assert any(h.id == "leiden algorithm" for h in hits)  # re-embedded from what remains

    # The next pass re-chunks the surviving messages and never brings the forgotten one back.
    await pipe.ingestor.ingest(pipe.room)
    assert await pipe.graph.entity(scope, "Modularity Scores") is None
    chunks = await pipe.graph.chunks_mentioning(scope, ["Ada"], limit=5)
    assert chunks
    assert all(ids[2] not in c.message_ids for c in chunks)


async def test_rooms_never_see_each_other(pipe: Pipeline) -> None:
    await ingest_conversation(pipe)
    other = f"room-{uuid.uuid4().hex[:10]}"
    await pipe.post("Bob explains Kubernetes Operators.", "Bob", room=other)

    await pipe.ingestor.ingest(other)

    assert await pipe.graph.entity(Scope(other), "PostgreSQL") is None
    assert await pipe.graph.entity(Scope(pipe.room), "Kubernetes Operators") is None
    query = pipe.embedder.embed(["PostgreSQL Leiden Algorithm"])[0]
    hits = await pipe.vectors.search(Scope(other), query, k=50)
    assert hits
    assert all("PostgreSQL" not in h.text for h in hits)
    # Forgetting in one room leaves the other untouched.
    await pipe.ingestor.forget(other, ["nothing-here"])
    assert (await pipe.graph.stats(Scope(pipe.room))).entities > 0


async def test_jobs_covered_by_a_pass_are_settled_and_announced(pipe: Pipeline) -> None:
    await ingest_conversation(pipe)

    async with pipe.uow() as uow:
        assert await uow.jobs.pending_ids(pipe.room) == []
        jobs = await uow.jobs.list_for_room(pipe.room, 10)
    assert [j.status for j in jobs] == ["succeeded"] * 3
    done = [e for e in published(pipe) if isinstance(e, IngestCompletedV1)]
    if done:  # the memory harness exposes what it committed
        assert sum(e.data.entities for e in done) > 0
        assert len(done) == 3


async def test_a_new_artifact_revision_replaces_the_old_one(pipe: Pipeline) -> None:
    scope = Scope(pipe.room)
    await pipe.service.record_artifact(artifact(pipe.room, 1, "We picked Neo4j for storage."))
    await pipe.ingestor.ingest(pipe.room)
    assert await pipe.graph.entity(scope, "Neo4j") is not None

    await pipe.service.record_artifact(artifact(pipe.room, 2, "We picked FalkorDB instead."))
    await pipe.ingestor.ingest(pipe.room)

    assert await pipe.graph.entity(scope, "Neo4j") is None
    falkor = await pipe.graph.entity(scope, "FalkorDB")
    assert falkor is not None
    assert falkor.source_ids == ("art-1",)


async def test_a_purged_graph_is_refilled_although_the_ledger_knows_the_chunks(
    pipe: Pipeline,
) -> None:
    await ingest_conversation(pipe)
    await pipe.graph.purge(Scope(pipe.room))

    report = await pipe.ingestor.ingest(pipe.room)

    assert report.extracted == 1
    assert await pipe.graph.entity(Scope(pipe.room), "PostgreSQL") is not None
