"""Explicit builds on memory adapters: a build command runs one build, announced step by step;
passes that change the graph lead to one debounced community refresh."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from faststream.nats import NatsBroker, TestNatsBroker
from pydantic import ValidationError

from coagent_contracts.chat import MessagePostedData, MessagePostedV1
from coagent_contracts.graphrag import (
    GraphBuildProgressV1,
    GraphBuildRequestedData,
    GraphBuildRequestedV1,
)
from coagent_graphrag_ingest.adapters.memory import MemoryStore, MemoryUnitOfWork
from coagent_graphrag_ingest.adapters.offline_extractor import OfflineExtractor
from coagent_graphrag_ingest.community_build import CommunityBuilder
from coagent_graphrag_ingest.consumers import register_consumers
from coagent_graphrag_ingest.pipeline import RoomIngestor
from coagent_graphrag_ingest.ports import UnitOfWork
from coagent_graphrag_ingest.reports import OfflineReporter
from coagent_graphrag_ingest.runtime import GraphIngest
from coagent_graphrag_ingest.service import IngestService
from coagent_graphrag_ingest.settings import GraphragIngestSettings
from coagent_graphstore.adapters.memory import MemoryGraphStore, MemoryVectorIndex
from coagent_graphstore.embedding import FeatureHashingEmbedder
from coagent_graphstore.models import Scope
from coagent_kit.broker import publish_event

LINES = (
    "Ada: We store the Knowledge Graph in FalkorDB and cluster it with Leiden Clustering.",
    "Grace: Leiden Clustering needs Modularity Scores from FalkorDB.",
    "Ada: The Demo Day is on Friday with the Project Board.",
    "Grace: The Project Board lists the Demo Day tasks.",
)


def posted(index: int, text: str) -> MessagePostedV1:
    speaker, content = text.split(": ", 1)
    return MessagePostedV1(
        producer="chat",
        data=MessagePostedData(
            message_id=f"m{index}", room_id="r1", seq=index, sender_kind="human",
            sender_name=speaker, content=content, created_at=datetime.now(UTC),
        ),
    )  # fmt: skip


def runtime(
    store: MemoryStore,
    graph: MemoryGraphStore,
    quiet: float = 30.0,
    ack_wait: float = 30.0,
    unit_of_work: type[MemoryUnitOfWork] = MemoryUnitOfWork,
) -> GraphIngest:
    def uow() -> UnitOfWork:
        return unit_of_work(store)

    vectors, embedder = MemoryVectorIndex(32), FeatureHashingEmbedder(32)
    ingestor = RoomIngestor(uow, graph, vectors, embedder, OfflineExtractor(), max_chars=1000)
    builder = CommunityBuilder(uow, graph, vectors, embedder, OfflineReporter())
    return GraphIngest(ingestor, uow, quiet=quiet, max_wait=quiet, communities=builder,
                       community_quiet=0.05, community_max_wait=0.5,
                       build_ack_wait_s=ack_wait)  # fmt: skip


async def record_room(store: MemoryStore) -> None:
    service = IngestService(lambda: MemoryUnitOfWork(store))
    for i, line in enumerate(LINES, start=1):
        await service.record_message(posted(i, line))


def progress(store: MemoryStore) -> list[GraphBuildProgressV1]:
    return [e for e in store.published if isinstance(e, GraphBuildProgressV1)]


async def test_a_build_ingests_clusters_and_reports_announcing_each_step() -> None:
    store, graph = MemoryStore(), MemoryGraphStore()
    await record_room(store)
    ingest = runtime(store, graph)  # passes wait 30 s: only the build can have done the work

    assert await ingest.build("r1", "b-1")
    assert not await ingest.build("r1", "b-1")  # a redelivered command is not a second build
    await ingest.builds_idle()

    events = [e.data for e in progress(store)]
    assert [e.step for e in events] == list(range(1, len(events) + 1))
    assert {e.attempt for e in events} == {1}
    assert [e.stage for e in events][:3] == ["queued", "ingest", "clustering"]
    assert "reports" in [e.stage for e in events]
    last = events[-1]
    assert (last.stage, last.status, last.build_id, last.error) == (
        "done",
        "succeeded",
        "b-1",
        None,
    )
    communities = await graph.communities(Scope("r1"))
    assert last.communities == len(communities) > 0
    assert all(c.report for c in communities)
    await ingest.close()


async def test_a_build_of_an_unchanged_room_writes_no_report() -> None:
    store, graph = MemoryStore(), MemoryGraphStore()
    await record_room(store)
    ingest = runtime(store, graph)
    await ingest.build("r1", "b-1")
    await ingest.builds_idle()
    await ingest.build("r1", "b-2")
    await ingest.builds_idle()

    assert ingest.refreshes["r1"].reports_written == 0
    assert progress(store)[-1].data.reports_written == 0
    await ingest.close()


async def test_passes_that_change_the_graph_refresh_communities_once() -> None:
    store, graph = MemoryStore(), MemoryGraphStore()
    ingest = runtime(store, graph, quiet=0.01)
    service = IngestService(lambda: MemoryUnitOfWork(store))
    for i, line in enumerate(LINES, start=1):
        await service.record_message(posted(i, line))
        ingest.changed("r1")
    await ingest.scheduler.idle()
    await ingest.community_scheduler.idle()

    assert ingest.refreshes["r1"].communities > 0
    assert await graph.communities(Scope("r1"))
    assert progress(store) == []  # automatic refreshes are not builds
    await ingest.close()


@pytest.fixture
async def wired() -> AsyncIterator[tuple[NatsBroker, MemoryStore, GraphIngest]]:
    store, graph = MemoryStore(), MemoryGraphStore()
    await record_room(store)
    ingest = runtime(store, graph)
    broker = NatsBroker()
    register_consumers(broker, IngestService(lambda: MemoryUnitOfWork(store)), ingest)
    async with TestNatsBroker(broker) as test_broker:
        yield test_broker, store, ingest
    await ingest.close()


async def test_the_build_command_consumer_starts_the_build(
    wired: tuple[NatsBroker, MemoryStore, GraphIngest],
) -> None:
    broker, store, ingest = wired
    command = GraphBuildRequestedV1(
        producer="graphrag-query",
        data=GraphBuildRequestedData(room_id="r1", build_id="b-9", requested_by="u-1"),
    )
    await publish_event(broker, command)
    await ingest.builds_idle()

    done = progress(store)[-1].data
    assert (done.build_id, done.status) == ("b-9", "succeeded")


def test_a_community_window_shorter_than_its_quiet_time_is_refused() -> None:
    with pytest.raises(ValidationError, match="COMMUNITY_MAX_WAIT_S"):
        GraphragIngestSettings(env="test", community_quiet_s=30.0, community_max_wait_s=5.0)
