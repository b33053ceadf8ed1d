"""Fakes and frame builders for the tests of ``run:<id>`` topics on the multiplexed socket."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

from coagent_contracts.envelope import Event
from coagent_contracts.workflow import (
    NodeFinishedData,
    NodeFinishedV1,
    RunCompletedData,
    RunCompletedV1,
    RunQueuedData,
    RunQueuedV1,
    RunStartedData,
    RunStartedV1,
)
from coagent_gateway.chat.live import RoomHub
from coagent_gateway.chat.multiplex import MuxSession
from coagent_gateway.chat.runs import (
    RunAccess,
    RunFeed,
    RunInfo,
    RunTopics,
    Stop,
)
from coagent_gateway.domain import PlatformRole, User
from coagent_gateway.policy import Action
from coagent_gateway.rooms.domain import RoomNotFound
from coagent_kit.auth import InternalIdentity

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
ADA = User("u1", "ada@example.org", "ada", PlatformRole.STUDENT, full_name="Ada")
EVE = User("u2", "eve@example.org", "eve", PlatformRole.STUDENT)
ADMIN = User("u3", "root@example.org", "root", PlatformRole.ADMIN)
RUN: dict[str, Any] = {
    "run_id": "run1",
    "workflow_id": "wf1",
    "workflow_version": 1,
    "room_id": "r1",
}
TS = "2026-11-24T12:00:00Z"


def raw_event(event: Event) -> bytes:
    return event.model_dump_json().encode()


def queued(run: dict[str, Any] = RUN) -> bytes:
    return raw_event(
        RunQueuedV1(producer="workflow-engine", occurred_at=NOW, data=RunQueuedData(**run))
    )


def started() -> bytes:
    return raw_event(
        RunStartedV1(producer="workflow-engine", occurred_at=NOW, data=RunStartedData(**RUN))
    )


def node(node_id: str = "n1") -> bytes:
    data = NodeFinishedData(
        **RUN,
        node_id=node_id,
        node_type="agent",
        status="succeeded",
        started_at=NOW,
        finished_at=NOW,
    )
    return raw_event(NodeFinishedV1(producer="workflow-engine", occurred_at=NOW, data=data))


def completed() -> bytes:
    data = RunCompletedData(**RUN)
    return raw_event(RunCompletedV1(producer="workflow-engine", occurred_at=NOW, data=data))


class FakeDirectory:
    def __init__(self) -> None:
        self.runs = {
            "run1": RunInfo("run1", "wf1", "r1", "u9", "running"),
            "solo": RunInfo("solo", "wf2", None, "u2", "queued"),
        }

    async def get(self, identity: InternalIdentity, run_id: str) -> RunInfo | None:
        return self.runs.get(run_id)


async def room_access(user: User, room_id: str, action: Action) -> object:
    if (user.id, room_id) != ("u1", "r1") or action is not Action.ROOM_READ:
        raise RoomNotFound("Room not found")
    return object()


class FakeRunEvents:
    """A stream of stored events per run; ``follow`` replays after ``since`` in a task, like the
    consumer's own delivery task, then ``publish`` delivers live."""

    def __init__(self) -> None:
        self.stored: list[tuple[int, str, bytes]] = []
        self.feeds: list[RunFeed] = []
        self.stopped: list[RunFeed] = []

    def store(self, run_id: str, raw: bytes) -> int:
        seq = len(self.stored) + 1
        self.stored.append((seq, run_id, raw))
        return seq

    async def publish(self, run_id: str, raw: bytes) -> None:
        seq = self.store(run_id, raw)
        for feed in self.feeds:
            if feed.run_id == run_id:
                await feed.accept(raw, seq, 0)

    async def follow(self, feed: RunFeed, since: int | None) -> Stop:
        backlog = [] if since is None else [e for e in self.stored if e[1] == feed.run_id]
        backlog = [e for e in backlog if since is not None and e[0] > since]

        async def replay() -> None:
            for index, (seq, _, raw) in enumerate(backlog):
                await feed.accept(raw, seq, len(backlog) - index - 1)
            self.feeds.append(feed)

        task = asyncio.create_task(replay())

        async def stop() -> None:
            task.cancel()
            if feed in self.feeds:
                self.feeds.remove(feed)
            self.stopped.append(feed)

        return stop


class FakeSocket:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.closed: tuple[int, str] | None = None

    async def send_json(self, message: dict[str, Any]) -> None:
        self.sent.append(message)

    async def send_text(self, text: str) -> None:
        self.sent.append(json.loads(text))

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)

    def events(self, topic: str) -> list[dict[str, Any]]:
        return [m["data"] for m in self.sent if m["op"] == "event" and m["topic"] == topic]


Setup = tuple[MuxSession, FakeSocket, FakeRunEvents]


def make_session(user: User) -> Setup:
    events = FakeRunEvents()
    socket = FakeSocket()
    runs = RunTopics(RunAccess(FakeDirectory(), room_access), events)
    hub = RoomHub("nats://unused")
    session = MuxSession(socket, user, None, hub, runs)  # type: ignore[arg-type]
    return session, socket, events


async def drain(session: MuxSession) -> None:
    pump = asyncio.create_task(session.pump())
    await asyncio.sleep(0.05)
    pump.cancel()


def subscribe_message(topic: str, since: int | None = None, rid: object = 1) -> str:
    message: dict[str, Any] = {"op": "subscribe", "topic": topic, "id": rid}
    if since is not None:
        message["since"] = since
    return json.dumps(message)
