"""The running side on memory adapters: debounced passes, resume after restart, forgetting."""

from __future__ import annotations

from datetime import UTC, datetime

from coagent_contracts.chat import (
    MessagePostedData,
    MessagePostedV1,
    MessagesErasedData,
    MessagesErasedV1,
)
from coagent_graphrag_ingest.adapters.memory import MemoryStore, MemoryUnitOfWork
from coagent_graphrag_ingest.adapters.offline_extractor import OfflineExtractor
from coagent_graphrag_ingest.pipeline import RoomIngestor
from coagent_graphrag_ingest.ports import UnitOfWork
from coagent_graphrag_ingest.runtime import GraphIngest
from coagent_graphrag_ingest.service import IngestService
from coagent_graphstore.adapters.memory import MemoryGraphStore, MemoryVectorIndex
from coagent_graphstore.embedding import FeatureHashingEmbedder
from coagent_graphstore.models import Scope


def posted(room_id: str, message_id: str, text: str) -> MessagePostedV1:
    return MessagePostedV1(
        producer="chat",
        data=MessagePostedData(
            message_id=message_id, room_id=room_id, seq=int(message_id[1:]),
            sender_kind="human", sender_name="Ada", content=text, created_at=datetime.now(UTC),
        ),
    )  # fmt: skip


def erased(room_id: str, *message_ids: str) -> MessagesErasedV1:
    return MessagesErasedV1(
        producer="chat",
        data=MessagesErasedData(room_id=room_id, message_ids=message_ids, reason="forgotten"),
    )


def runtime(store: MemoryStore, graph: MemoryGraphStore) -> GraphIngest:
    def uow() -> UnitOfWork:
        return MemoryUnitOfWork(store)

    ingestor = RoomIngestor(uow, graph, MemoryVectorIndex(32), FeatureHashingEmbedder(32),
                            OfflineExtractor(), max_chars=1000)  # fmt: skip
    return GraphIngest(ingestor, uow, quiet=0.05, max_wait=1.0)


async def test_rooms_left_pending_by_a_stopped_process_are_resumed() -> None:
    store, graph = MemoryStore(), MemoryGraphStore()
    service = IngestService(lambda: MemoryUnitOfWork(store))
    await service.record_message(posted("r1", "m1", "We chose FalkorDB for Graph Storage."))
    await service.record_message(posted("r2", "m2", "Kubernetes Operators are next."))
    # The process stops before any pass ran: only the jobs and the texts are stored.

    restarted = runtime(store, graph)
    await restarted.resume()
    await restarted.scheduler.idle()

    assert await graph.entity(Scope("r1"), "Graph Storage") is not None
    assert await graph.entity(Scope("r2"), "Kubernetes Operators") is not None
    assert {j.status for j in store.jobs} == {"succeeded"}
    assert restarted.reports["r1"].extracted == 1


async def test_forgetting_through_the_runtime_waits_for_the_room_and_reingests_the_rest() -> None:
    store, graph = MemoryStore(), MemoryGraphStore()
    service = IngestService(lambda: MemoryUnitOfWork(store))
    ingest = runtime(store, graph)
    for mid, text in (("m1", "Ada likes Graph Storage."), ("m2", "Secret Project Zeta starts.")):
        await service.record_message(posted("r1", mid, text))
        ingest.changed("r1")
    await ingest.scheduler.idle()
    assert await graph.entity(Scope("r1"), "Secret Project Zeta") is not None

    # As the tombstone consumer does: the stored text goes first, then the graph's share.
    await service.forget_messages(erased("r1", "m2"))
    await ingest.forget("r1", ["m2"])
    await ingest.scheduler.idle()

    assert await graph.entity(Scope("r1"), "Secret Project Zeta") is None
    [chunk] = await graph.chunks_mentioning(Scope("r1"), ["Graph Storage"], limit=5)
    assert chunk.message_ids == ("m1",)
    await ingest.close()
