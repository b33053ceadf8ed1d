"""``run:<id>`` topics of the multiplexed socket: who may follow a run, its frames, resume."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from coagent_contracts.workflow import (
    AgentMessageProducedData,
    AgentMessageProducedV1,
    RunFailedData,
    RunFailedV1,
)
from coagent_gateway.adapters.services_http import ServiceClient, ServiceUnavailable
from coagent_gateway.chat.live import RoomHub
from coagent_gateway.chat.multiplex import MuxSession
from coagent_gateway.chat.runs import (
    EngineRunDirectory,
    RunAccess,
    RunInfo,
    RunTopics,
    run_frames,
)
from coagent_gateway.domain import User
from coagent_gateway.policy import Action
from coagent_gateway.rooms.domain import RoomNotFound
from coagent_kit.auth import InternalIdentity

from .run_topics_kit import (
    ADA,
    ADMIN,
    EVE,
    NOW,
    RUN,
    TS,
    FakeDirectory,
    FakeRunEvents,
    FakeSocket,
    completed,
    drain,
    make_session,
    node,
    queued,
    raw_event,
    started,
    subscribe_message,
)


@pytest.mark.parametrize(
    ("user", "topic"),
    [(ADA, "run:run1"), (EVE, "run:solo"), (ADMIN, "run:run1"), (ADMIN, "run:solo")],
    ids=["room-reader", "creator-without-room", "admin", "admin-roomless"],
)
async def test_room_readers_creators_and_admins_may_follow_a_run(user: User, topic: str) -> None:
    session, socket, events = make_session(user)
    await session.handle(subscribe_message(topic))
    assert socket.sent[0]["op"] == "subscribed"
    assert socket.sent[0]["topic"] == topic
    await asyncio.sleep(0)  # the fake registers the feed once its (empty) replay is out
    assert [feed.topic for feed in events.feeds] == [topic]


@pytest.mark.parametrize(
    ("user", "topic"),
    [(EVE, "run:run1"), (ADA, "run:solo"), (ADA, "run:missing"), (ADA, "run:a.>")],
    ids=["outsider", "not-the-creator", "unknown", "wildcard"],
)
async def test_other_runs_are_not_found(user: User, topic: str) -> None:
    session, socket, events = make_session(user)
    await session.handle(subscribe_message(topic, rid="x"))
    assert socket.sent == [
        {"op": "error", "code": "run_not_found", "detail": "Run not found", "id": "x"}
    ]
    assert events.feeds == []


async def test_subscribed_carries_the_runs_current_status() -> None:
    session, socket, _ = make_session(ADA)
    await session.handle(subscribe_message("run:run1", rid=7))
    assert socket.sent[0] == {"op": "subscribed", "topic": "run:run1", "id": 7, "status": "running"}


async def test_post_and_typing_need_room_topics() -> None:
    session, socket, _ = make_session(ADA)
    await session.handle(json.dumps({"op": "post", "topic": "run:run1", "content": "x", "id": 1}))
    await session.handle(json.dumps({"op": "typing", "topic": "run:run1", "id": 2}))
    assert [(m["code"], m["id"]) for m in socket.sent] == [
        ("unsupported_topic", 1),
        ("unsupported_topic", 2),
    ]


def test_frames_of_each_run_event() -> None:
    assert run_frames(queued(), 3) == [
        {
            "type": "run_status",
            "run_id": "run1",
            "room_id": "r1",
            "seq": 3,
            "timestamp": TS,
            "workflow_id": "wf1",
            "status": "queued",
        }
    ]
    status, trace = run_frames(started(), 4)
    assert (status["type"], status["status"]) == ("run_status", "running")
    assert trace == {
        "type": "workflow_trace",
        "run_id": "run1",
        "room_id": "r1",
        "seq": 4,
        "timestamp": TS,
        "node_id": None,
        "event_type": "run_started",
        "sub_status": "running",
    }
    (trace,) = run_frames(node("n7"), 5)
    assert (trace["event_type"], trace["node_id"], trace["sub_status"]) == (
        "node_finished",
        "n7",
        "succeeded",
    )
    status, trace = run_frames(completed(), 6)
    assert status["status"] == "succeeded"
    assert (trace["event_type"], trace["sub_status"]) == ("run_finished", "succeeded")


def test_failures_and_agent_messages() -> None:
    failed = RunFailedV1(
        producer="workflow-engine",
        occurred_at=NOW,
        data=RunFailedData(**RUN, error_code="timeout", error="too slow", status="timed_out"),
    )
    status, trace = run_frames(raw_event(failed), 9)
    assert (status["status"], status["error_code"], status["error"]) == (
        "timed_out",
        "timeout",
        "too slow",
    )
    assert (trace["event_type"], trace["sub_status"]) == ("run_finished", "timed_out")
    reply = AgentMessageProducedV1(
        producer="workflow-engine",
        occurred_at=NOW,
        data=AgentMessageProducedData(
            **RUN, agent_id="a1", agent_name="Tutor", content="Hello", stream_id="s1"
        ),
    )
    assert run_frames(raw_event(reply), 10) == [
        {
            "type": "agent_message",
            "run_id": "run1",
            "room_id": "r1",
            "seq": 10,
            "timestamp": TS,
            "agent_id": "a1",
            "agent_name": "Tutor",
            "agent_type": None,
            "content": "Hello",
            "stream_id": "s1",
            "offline": False,
        }
    ]
    assert run_frames(b"not an event", 11) == []


async def test_resume_replays_after_since_then_goes_live_in_order() -> None:
    session, socket, events = make_session(ADA)
    for raw in (queued(), started(), node("n1"), node("n2")):
        events.store("run1", raw)
    events.store("other", queued({**RUN, "run_id": "other"}))
    await session.handle(subscribe_message("run:run1", since=2))
    await drain(session)
    await events.publish("run1", completed())
    await drain(session)
    frames = socket.events("run:run1")
    assert [(f["seq"], f["type"], f.get("event_type")) for f in frames] == [
        (3, "workflow_trace", "node_finished"),
        (4, "workflow_trace", "node_finished"),
        (6, "run_status", None),
        (6, "workflow_trace", "run_finished"),
    ]


async def test_without_since_only_new_events_arrive() -> None:
    session, socket, events = make_session(ADA)
    events.store("run1", queued())
    await session.handle(subscribe_message("run:run1"))
    await drain(session)
    await events.publish("run1", started())
    await drain(session)
    assert [f["seq"] for f in socket.events("run:run1")] == [2, 2]


async def test_resubscribing_never_repeats_or_skips_frames() -> None:
    session, socket, events = make_session(ADA)
    for raw in (queued(), started(), node("n1")):
        events.store("run1", raw)
    await session.handle(subscribe_message("run:run1", since=0))
    await asyncio.sleep(0)  # the first feed queues its replay, not yet sent
    await session.handle(subscribe_message("run:run1", since=1))
    await drain(session)
    seqs = [(f["seq"], f["type"]) for f in socket.events("run:run1")]
    assert seqs == [(2, "run_status"), (2, "workflow_trace"), (3, "workflow_trace")]


async def test_a_long_replay_is_paced_not_dropped() -> None:
    session, socket, events = make_session(ADA)
    for index in range(600):
        events.store("run1", node(f"n{index}"))
    pump = asyncio.create_task(session.pump())
    await session.handle(subscribe_message("run:run1", since=0))
    for _ in range(100):
        await asyncio.sleep(0.01)
        if len(socket.events("run:run1")) == 600:
            break
    pump.cancel()
    assert socket.closed is None
    assert [f["seq"] for f in socket.events("run:run1")] == list(range(1, 601))


async def test_a_stalled_socket_is_dropped_on_live_frames() -> None:
    session, socket, events = make_session(ADA)
    await session.handle(subscribe_message("run:run1"))
    await asyncio.sleep(0)
    for _ in range(400):
        await events.publish("run1", node())
    await asyncio.wait_for(session.pump(), 2)
    assert socket.closed is not None
    assert socket.closed[0] == 4008


async def test_unsubscribe_and_close_release_the_consumers() -> None:
    session, socket, events = make_session(ADA)
    await session.handle(subscribe_message("run:run1"))
    await session.handle(json.dumps({"op": "unsubscribe", "topic": "run:run1", "id": 2}))
    assert socket.sent[-1] == {"op": "unsubscribed", "topic": "run:run1", "id": 2}
    await session.handle(subscribe_message("run:run1"))
    await session.handle(subscribe_message("run:run1", since=0))  # replaces the subscription
    await session.close()
    assert len(events.stopped) == 3
    await events.publish("run1", started())
    await drain(session)
    assert socket.events("run:run1") == []


async def test_the_engine_directory_maps_answers() -> None:
    answers = {
        "/internal/runs/run1": httpx.Response(
            200,
            json={
                "run_id": "run1",
                "workflow_id": "wf1",
                "room_id": None,
                "created_by": "u1",
                "status": "succeeded",
            },
        ),
        "/internal/runs/gone": httpx.Response(404, json={"code": "run_not_found"}),
        "/internal/runs/odd": httpx.Response(401, json={"code": "invalid_identity"}),
    }
    transport = httpx.MockTransport(lambda request: answers[request.url.path])
    services = ServiceClient({"workflow-engine": "http://engine"}, "s" * 40, transport)
    directory = EngineRunDirectory(services)
    identity = InternalIdentity(user_id="u1", platform_role="student")
    try:
        assert await directory.get(identity, "run1") == RunInfo(
            "run1", "wf1", None, "u1", "succeeded"
        )
        assert await directory.get(identity, "gone") is None
        with pytest.raises(ServiceUnavailable):
            await directory.get(identity, "odd")
    finally:
        await services.aclose()


async def test_losing_the_runs_room_revokes_the_topic_but_not_for_the_creator() -> None:
    members = {("u1", "r1")}

    async def membership(user: User, room_id: str, action: Action) -> object:
        if (user.id, room_id) not in members:
            raise RoomNotFound("Room not found")
        return object()

    directory = FakeDirectory()
    directory.runs["mine"] = RunInfo("mine", "wf1", "r1", "u1", "running")  # Ada created it
    hub = RoomHub("nats://unused")
    sessions = []
    for topic in ("run:run1", "run:mine"):
        socket, events = FakeSocket(), FakeRunEvents()
        runs = RunTopics(RunAccess(directory, membership), events)
        session = MuxSession(socket, ADA, None, hub, runs)  # type: ignore[arg-type]
        await session.handle(subscribe_message(topic))
        sessions.append((session, socket, events, topic))

    members.clear()  # Ada leaves the course
    await hub.membership_removed("r1", "u1")
    for session, _, _, _ in sessions:
        await drain(session)

    (_, reader, reader_events, reader_topic), (_, creator, creator_events, _) = sessions
    assert reader.sent[-1] == {"op": "revoked", "topic": reader_topic}
    assert len(reader_events.stopped) == 1  # its JetStream consumer is released
    assert creator.sent[-1]["op"] == "subscribed"  # the creator may still follow their run
    assert creator_events.stopped == []
    await hub.membership_removed("r1", "u1")  # nothing left to revoke, nothing breaks
