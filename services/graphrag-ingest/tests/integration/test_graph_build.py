"""A build command over real NATS JetStream, run on PostgreSQL and FalkorDB."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
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
from coagent_graphrag_ingest.app import create_app
from coagent_graphrag_ingest.builds import BUILD_MAX_DELIVER, BUILDS_CONSUMER, HeldCommand
from coagent_graphrag_ingest.reports import OfflineReporter, ReportDraft, ReportInput
from coagent_graphrag_ingest.service import MESSAGES_CONSUMER
from coagent_graphrag_ingest.settings import GraphragIngestSettings
from coagent_graphstore.models import Scope
from coagent_graphstore.ports import GraphStore

pytestmark = pytest.mark.integration

#: An ack wait no test waits out: a build taken over in time was handed back.
LONG_ACK_WAIT_S = 120.0


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
    """Offline reports, each past the first ``let_through`` waiting for ``gate``: a build stuck in
    its reports stage."""

    def __init__(self, let_through: int = 0) -> None:
        self.gate = asyncio.Event()
        self.let_through = let_through
        self.calls = 0

    async def report(self, facts: ReportInput) -> ReportDraft:
        self.calls += 1
        if self.calls > self.let_through:
            await self.gate.wait()
        return await super().report(facts)


def at_stage(
    js: JetStreamContext, room_id: str, stage: str, attempt: Callable[[int], bool]
) -> Callable[[], Awaitable[list[GraphBuildProgressV1] | None]]:
    """A probe for ``eventually``: the build's events once its latest is ``stage`` of a matching
    attempt."""

    async def probe() -> list[GraphBuildProgressV1] | None:
        events = await progress(js, room_id)
        last = events[-1].data if events else None
        return events if last and last.stage == stage and attempt(last.attempt) else None

    return probe


async def test_a_build_whose_process_dies_mid_build_is_finished_after_the_ack_wait(
    nats_url: str,
    settings: GraphragIngestSettings,
    js: JetStreamContext,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A short ack wait: the dead process's command comes back within seconds.
    settings = settings.model_copy(update={"build_ack_wait_s": 3.0})
    reporter = GatedReporter()
    monkeypatch.setattr("coagent_graphrag_ingest.app.reporter", lambda _: reporter)
    # A killed process hands nothing back: only the ack wait brings its command back.
    monkeypatch.setattr(HeldCommand, "release", _hand_nothing_back)
    await fresh_consumer(nats_url, CHAT.name, MESSAGES_CONSUMER)
    await fresh_consumer(nats_url, GRAPHRAG.name, BUILDS_CONSUMER)
    room_id = f"room-{uuid.uuid4().hex[:12]}"

    first = create_app(settings)
    async with first.router.lifespan_context(first):
        await post_room(first, js, room_id)
        command = await request_build(js, room_id)
        await eventually(at_stage(js, room_id, "reports", lambda a: a == 1), "reports", 30.0)
        extracted = first.state.graph_ingest.reports[room_id].extracted
    # The first process is gone mid-build, its command unacknowledged.
    reporter.gate.set()
    calls_before = reporter.calls
    second = create_app(settings)
    async with second.router.lifespan_context(second):
        events = await eventually(
            at_stage(js, room_id, "done", lambda a: a == 2), "rerun finished", 30.0
        )
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


async def _hand_nothing_back(self: HeldCommand, delay: float | None = None) -> None:
    return None


async def test_a_stopped_process_hands_its_build_over_in_seconds_and_the_rerun_keeps_its_reports(
    nats_url: str,
    settings: GraphragIngestSettings,
    js: JetStreamContext,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # An ack wait far longer than the test may take: only the hand-back can bring it back.
    settings = settings.model_copy(update={"build_ack_wait_s": LONG_ACK_WAIT_S})
    reporter = GatedReporter(let_through=1)  # the first report is stored, the second hangs
    monkeypatch.setattr("coagent_graphrag_ingest.app.reporter", lambda _: reporter)
    await fresh_consumer(nats_url, CHAT.name, MESSAGES_CONSUMER)
    await fresh_consumer(nats_url, GRAPHRAG.name, BUILDS_CONSUMER)
    room_id = f"room-{uuid.uuid4().hex[:12]}"

    first = create_app(settings)
    async with first.router.lifespan_context(first):
        consumer = await js.consumer_info(GRAPHRAG.name, BUILDS_CONSUMER)
        assert consumer.config.ack_wait == LONG_ACK_WAIT_S
        await post_room(first, js, room_id)
        command = await request_build(js, room_id)
        await eventually(lambda: holds(lambda: reporter.calls == 2), "second report", 30.0)
        graph: GraphStore = first.state.graph_store
        stored = [c for c in await graph.communities(Scope(room_id)) if c.report]
    stopped = time.monotonic()
    assert len(stored) == 1  # the report written before the stop is already stored
    reporter.gate.set()
    calls_before = reporter.calls
    second = create_app(settings)
    async with second.router.lifespan_context(second):
        events = await eventually(
            at_stage(js, room_id, "done", lambda a: a > 1), "rerun finished", 30.0
        )
        taken_over_after = time.monotonic() - stopped
        communities = await second.state.graph_store.communities(Scope(room_id))

    assert taken_over_after < LONG_ACK_WAIT_S / 2
    rerun = [e.data for e in events if e.data.attempt == events[-1].data.attempt]
    assert {e.data.build_id for e in events} == {command.data.build_id}
    assert (rerun[-1].status, rerun[-1].error) == ("succeeded", None)
    # The rerun wrote only the reports the first run had not stored.
    assert len(communities) >= 2
    assert all(c.report is not None for c in communities)
    assert reporter.calls - calls_before == len(communities) - 1 == rerun[-1].reports_written


async def test_a_builds_consumer_made_under_another_ack_wait_gets_the_configured_one(
    nats_url: str, settings: GraphragIngestSettings, js: JetStreamContext
) -> None:
    await fresh_consumer(nats_url, GRAPHRAG.name, BUILDS_CONSUMER)
    earlier = create_app(settings)  # the default ack wait
    async with earlier.router.lifespan_context(earlier):
        info = await js.consumer_info(GRAPHRAG.name, BUILDS_CONSUMER)
        assert info.config.ack_wait == 30.0

    changed = create_app(settings.model_copy(update={"build_ack_wait_s": 45.0}))
    async with changed.router.lifespan_context(changed):
        info = await js.consumer_info(GRAPHRAG.name, BUILDS_CONSUMER)

    assert info.config.ack_wait == 45.0
    assert info.config.max_deliver == BUILD_MAX_DELIVER  # nothing else changed


async def holds(condition: Callable[[], bool]) -> bool:
    return condition()
