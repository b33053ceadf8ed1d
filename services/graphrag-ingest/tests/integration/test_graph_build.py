"""A build command over real NATS JetStream, run on PostgreSQL and FalkorDB."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import nats
import pytest
from fastapi import FastAPI
from nats.js import JetStreamContext
from pydantic import SecretStr

from coagent_cli.testing import eventually, fresh_consumer
from coagent_contracts.chat import MessagePostedData, MessagePostedV1
from coagent_contracts.graphrag import (
    GraphBuildProgressV1,
    GraphBuildRequestedData,
    GraphBuildRequestedV1,
    graph_build_progress_subject,
)
from coagent_contracts.streams import CHAT, GRAPHRAG
from coagent_graphrag_ingest import builds
from coagent_graphrag_ingest.app import create_app
from coagent_graphrag_ingest.builds import BUILDS_CONSUMER
from coagent_graphrag_ingest.reports import OfflineReporter, ReportDraft, ReportInput
from coagent_graphrag_ingest.service import MESSAGES_CONSUMER
from coagent_graphrag_ingest.settings import GraphragIngestSettings
from coagent_graphstore.models import Scope
from coagent_graphstore.ports import GraphStore

pytestmark = pytest.mark.integration


@pytest.fixture
def database_url(service_database_url: Callable[[str], str]) -> str:
    return service_database_url("graphrag-ingest")


@pytest.fixture
def settings(nats_url: str, graph_url: str, database_url: str) -> GraphragIngestSettings:
    return GraphragIngestSettings(
        env="test", nats_url=nats_url, graph_url=graph_url, database_url=database_url,
        internal_token_secret=SecretStr("integration-internal-secret-32-bytes"),
        # Passes and refreshes would take a minute: only the build can do the work in time.
        debounce_quiet_s=60.0, debounce_max_wait_s=60.0,
        community_quiet_s=60.0, community_max_wait_s=60.0,
    )  # fmt: skip


@pytest.fixture
async def app(nats_url: str, settings: GraphragIngestSettings) -> AsyncIterator[FastAPI]:
    await fresh_consumer(nats_url, CHAT.name, MESSAGES_CONSUMER)
    await fresh_consumer(nats_url, GRAPHRAG.name, BUILDS_CONSUMER)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def js(nats_url: str) -> AsyncIterator[JetStreamContext]:
    nc = await nats.connect(nats_url)
    try:
        yield nc.jetstream()
    finally:
        await nc.close()


def said(room_id: str, seq: int, sender: str, content: str) -> MessagePostedV1:
    return MessagePostedV1(
        producer="chat",
        data=MessagePostedData(
            message_id=f"m-{uuid.uuid4().hex[:8]}", room_id=room_id, seq=seq,
            sender_kind="human", sender_name=sender, content=content,
            created_at=datetime.now(UTC),
        ),
    )  # fmt: skip


async def progress(js: JetStreamContext, room_id: str) -> list[GraphBuildProgressV1]:
    subject = graph_build_progress_subject(room_id)
    info = await js.stream_info(GRAPHRAG.name, subjects_filter=subject)
    if not (info.state.subjects or {}).get(subject):
        return []
    sub = await js.subscribe(subject, ordered_consumer=True)
    events = []
    try:
        while True:
            msg = await sub.next_msg(timeout=1.0)
            events.append(GraphBuildProgressV1.model_validate_json(msg.data))
    except nats.errors.TimeoutError:
        pass
    finally:
        await sub.unsubscribe()
    return events


LINES = (
    ("Ada", "We store the Knowledge Graph in FalkorDB and cluster it with Leiden Clustering."),
    ("Grace", "Leiden Clustering needs Modularity Scores from FalkorDB."),
    ("Ada", "The Demo Day is on Friday with the Project Board."),
)


async def post_room(app: FastAPI, js: JetStreamContext, room_id: str) -> None:
    for seq, (who, text) in enumerate(LINES, start=1):
        event = said(room_id, seq, who, text)
        await js.publish(event.subject, event.model_dump_json().encode(), stream=CHAT.name,
                         headers={"Nats-Msg-Id": event.event_id})  # fmt: skip

    async def recorded() -> bool:
        return len(await app.state.ingest.jobs(room_id)) == len(LINES)

    await eventually(recorded, "messages recorded", 30.0)


async def request_build(js: JetStreamContext, room_id: str) -> GraphBuildRequestedV1:
    command = GraphBuildRequestedV1(
        producer="graphrag-query",
        data=GraphBuildRequestedData(room_id=room_id, build_id=f"b-{uuid.uuid4().hex[:8]}"),
    )
    await js.publish(command.subject, command.model_dump_json().encode(), stream=GRAPHRAG.name,
                     headers={"Nats-Msg-Id": command.event_id})  # fmt: skip
    return command


async def test_a_build_command_builds_communities_and_reports_progress(
    app: FastAPI, js: JetStreamContext
) -> None:
    graph: GraphStore = app.state.graph_store
    room_id = f"room-{uuid.uuid4().hex[:12]}"
    await post_room(app, js, room_id)
    command = await request_build(js, room_id)

    async def finished() -> list[GraphBuildProgressV1] | None:
        events = await progress(js, room_id)
        return events if events and events[-1].data.stage == "done" else None

    events = await eventually(finished, "build finished", 60.0)
    assert [e.data.build_id for e in events] == [command.data.build_id] * len(events)
    assert events[-1].data.status == "succeeded", events[-1].data.error
    communities = await graph.communities(Scope(room_id))
    assert communities
    assert all(c.report is not None for c in communities)
    assert events[-1].data.communities == len(communities)


class GatedReporter(OfflineReporter):
    """Offline reports that wait for ``gate``: a build stuck in its reports stage."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.calls = 0

    async def report(self, facts: ReportInput) -> ReportDraft:
        self.calls += 1
        await self.gate.wait()
        return await super().report(facts)


async def test_a_build_whose_process_stops_mid_build_is_finished_by_the_next_one(
    nats_url: str,
    settings: GraphragIngestSettings,
    js: JetStreamContext,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A short ack wait: the stopped process's command comes back within seconds.
    monkeypatch.setattr(builds, "BUILD_ACK_WAIT_S", 3.0)
    reporter = GatedReporter()
    monkeypatch.setattr("coagent_graphrag_ingest.app.reporter", lambda _: reporter)
    await fresh_consumer(nats_url, CHAT.name, MESSAGES_CONSUMER)
    await fresh_consumer(nats_url, GRAPHRAG.name, BUILDS_CONSUMER)
    room_id = f"room-{uuid.uuid4().hex[:12]}"

    async def at(stage: str, attempt: int) -> list[GraphBuildProgressV1] | None:
        events = await progress(js, room_id)
        last = events[-1].data if events else None
        return events if last and (last.stage, last.attempt) == (stage, attempt) else None

    first = create_app(settings)
    async with first.router.lifespan_context(first):
        await post_room(first, js, room_id)
        command = await request_build(js, room_id)
        await eventually(lambda: at("reports", 1), "first run writing reports", 30.0)
        extracted = first.state.graph_ingest.reports[room_id].extracted
    # The first process is gone mid-build, its command unacknowledged.
    reporter.gate.set()
    calls_before = reporter.calls
    second = create_app(settings)
    async with second.router.lifespan_context(second):
        events = await eventually(lambda: at("done", 2), "rerun finished", 30.0)
        rerun = second.state.graph_ingest.reports[room_id]

    first_run = [e.data for e in events if e.data.attempt == 1]
    second_run = [e.data for e in events if e.data.attempt == 2]
    assert {e.build_id for e in first_run + second_run} == {command.data.build_id}
    assert all(e.status == "running" for e in first_run)  # it never ended
    assert [e.step for e in second_run] == list(range(1, len(second_run) + 1))
    assert (second_run[-1].status, second_run[-1].error) == ("succeeded", None)
    # Delta-only: the rerun extracted nothing the first run had stored; its reports are new.
    assert extracted > 0
    assert rerun.extracted == 0
    assert second_run[-1].reports_written == reporter.calls - calls_before > 0
