"""Run topics of the multiplexed socket (``run:<run_id>``): who may follow a run, and its frames.

A run's events live in the ``WORKFLOW`` stream under ``workflow.run.<run_id>.>``; their stream
sequence is the topic's resume offset. Each subscription is one ordered, ephemeral JetStream
consumer filtered on the run and starting after ``since``: replay and live delivery are one
ordered flow, so nothing falls between them. Replayed frames are fed at the client's pace
(:meth:`Outbox.put_backlog`); live frames go through the socket's outbox like room frames, so a
socket that stalls is dropped without slowing anyone else.

Frames (each with ``seq``, ``run_id``, ``room_id``, ``timestamp``): ``run_status`` (``status``
∈ ``queued``, ``running``, ``succeeded``, ``failed``, ``timed_out``, ``cancelled``; failures add
``error_code``/``error``), then the ``workflow_trace`` of CONTRACTS.md for the same event;
``agent_message`` for an agent's reply. One event may give two frames that share its ``seq``.
The engine streams token deltas on ``live.room.<id>`` only, so they reach room topics, not these.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import nats
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig, DeliverPolicy
from pydantic import ValidationError

from coagent_contracts.events import parse_event
from coagent_contracts.streams import WORKFLOW
from coagent_contracts.subjects import InvalidSubjectToken, token
from coagent_contracts.workflow import (
    AgentMessageProducedV1,
    RunCancelledV1,
    RunCompletedV1,
    RunData,
    RunFailedV1,
    RunQueuedV1,
    RunStartedV1,
    run_filter,
)
from coagent_gateway.adapters.services_http import ServiceClient, ServiceUnavailable, path_segment
from coagent_gateway.chat.live import Outbox
from coagent_gateway.chat.traces import trace_parts
from coagent_gateway.domain import PlatformRole, User
from coagent_gateway.policy import Action
from coagent_kit.auth import InternalIdentity
from coagent_kit.errors import Forbidden, NotFound
from coagent_kit.logging import get_logger

log = get_logger(__name__)
ENGINE = "workflow-engine"
ADMINS = frozenset({PlatformRole.ADMIN, PlatformRole.SUPER_ADMIN})

Stop = Callable[[], Awaitable[None]]
RoomAccessCheck = Callable[[User, str, Action], Awaitable[object]]
"""``app.state.room_access``: raises (404/403) unless the user may take the action."""


class RunNotFound(NotFound):
    """No such run, or the caller may not see it (its existence is not revealed)."""

    code = "run_not_found"


@dataclass(frozen=True)
class RunInfo:
    """What deciding access to a run needs, as the engine's internal lookup gives it."""

    run_id: str
    workflow_id: str
    room_id: str | None
    created_by: str | None
    status: str


class RunDirectory(Protocol):
    """Looks runs up by id alone (the topic names no workflow)."""

    async def get(self, identity: InternalIdentity, run_id: str) -> RunInfo | None: ...


class EngineRunDirectory:
    """The workflow engine's ``GET /internal/runs/{run_id}``."""

    def __init__(self, services: ServiceClient) -> None:
        self._services = services

    async def get(self, identity: InternalIdentity, run_id: str) -> RunInfo | None:
        """The run, or None when the engine has none by that id."""
        path = f"/internal/runs/{path_segment(run_id)}"
        response = await self._services.request(ENGINE, "GET", path, identity)
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            # Our own call was refused (secret, version skew): not the client's fault.
            log.warning("run_lookup_failed", status=response.status_code, run_id=run_id)
            raise ServiceUnavailable("Runs cannot be looked up right now")
        body = response.json()
        return RunInfo(
            body["run_id"], body["workflow_id"], body["room_id"], body["created_by"], body["status"]
        )


class RunAccess:
    """Who may follow a run: readers of its room, its creator and platform admins."""

    def __init__(self, directory: RunDirectory, room_access: RoomAccessCheck) -> None:
        self._directory = directory
        self._room_access = room_access

    async def authorize(self, user: User, run_id: str) -> RunInfo:
        """The run if ``user`` may follow it; :class:`RunNotFound` otherwise (also if it exists)."""
        try:
            token(run_id)  # it becomes a subject filter: no wildcards, no extra tokens
        except InvalidSubjectToken:
            raise RunNotFound("Run not found") from None
        identity = InternalIdentity(user_id=user.id, platform_role=user.platform_role.value)
        info = await self._directory.get(identity, run_id)
        if info is None:
            raise RunNotFound("Run not found")
        if user.platform_role in ADMINS or (info.created_by and info.created_by == user.id):
            return info
        if info.room_id is not None:
            with contextlib.suppress(NotFound, Forbidden):
                await self._room_access(user, info.room_id, Action.ROOM_READ)
                return info
        raise RunNotFound("Run not found")


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _status(event: object) -> dict[str, Any] | None:
    """The ``run_status`` fields of a lifecycle event."""
    if isinstance(event, RunQueuedV1):
        return {"status": "queued"}
    if isinstance(event, RunStartedV1):
        return {"status": "running"}
    if isinstance(event, RunCompletedV1):
        return {"status": "succeeded"}
    if isinstance(event, RunFailedV1):
        d = event.data
        return {"status": d.status, "error_code": d.error_code, "error": d.error}
    if isinstance(event, RunCancelledV1):
        return {"status": "cancelled", "reason": event.data.reason}
    return None


def run_frames(raw: bytes, seq: int) -> list[dict[str, Any]]:
    """The frames of one workflow event stored at stream sequence ``seq`` (none if unknown)."""
    try:
        event = parse_event(raw)
    except (ValidationError, ValueError):
        return []
    data = getattr(event, "data", None)
    if not isinstance(data, RunData):
        return []
    base = {
        "run_id": data.run_id,
        "room_id": data.room_id,
        "seq": seq,
        "timestamp": _iso(event.occurred_at),
    }
    frames: list[dict[str, Any]] = []
    status = _status(event)
    if status is not None:
        frames.append({"type": "run_status", **base, "workflow_id": data.workflow_id, **status})
    trace = trace_parts(event)
    if trace is not None:
        node_id, kind, sub_status = trace
        frames.append(
            {
                "type": "workflow_trace",
                **base,
                "node_id": node_id,
                "event_type": kind,
                "sub_status": sub_status,
            }
        )
    if isinstance(event, AgentMessageProducedV1):
        d = event.data
        frames.append(
            {
                "type": "agent_message",
                **base,
                "agent_id": d.agent_id,
                "agent_name": d.agent_name,
                "agent_type": d.agent_type,
                "content": d.content,
                "stream_id": d.stream_id,
                "offline": d.offline,
            }
        )
    return frames


class RunFrame(dict[str, Any]):
    """A run topic frame that knows its place: frames of one event share its ``seq`` and are
    told apart by ``part``; ``feed`` is the subscription it came through, so frames still queued
    from an earlier subscription to the same topic are not mistaken for the new one's."""

    def __init__(self, fields: dict[str, Any], part: int, feed: RunFeed) -> None:
        super().__init__(fields)
        self.part = part
        self.feed = feed


class RunFeed:
    """One socket's subscription to one run: its events, as frames, into the socket's outbox."""

    def __init__(self, run_id: str, outbox: Outbox, since: int | None) -> None:
        self.run_id = run_id
        self.topic = f"run:{run_id}"
        self.outbox = outbox
        #: Replaying what the client asked for; over once the consumer has nothing pending.
        self.catching_up = since is not None
        self.stop: Stop | None = None
        #: Set when the user lost access to the run's room (see MuxSession._run_recheck).
        self.revoked = False

    async def accept(self, raw: bytes, seq: int, pending: int) -> None:
        """Queue the frames of the event at ``seq``; ``pending`` events follow it right now."""
        for part, fields in enumerate(run_frames(raw, seq)):
            frame = RunFrame(fields, part, self)
            if self.catching_up:
                await self.outbox.put_backlog(self.topic, frame)
            else:
                self.outbox.offer(self.topic, frame)
        if pending == 0:
            self.catching_up = False

    async def close(self) -> None:
        """Release the JetStream subscription (best effort: the consumer expires anyway)."""
        stop, self.stop = self.stop, None
        if stop is not None:
            try:
                await stop()
            except Exception:
                log.warning("run_feed_stop_failed", run_id=self.run_id, exc_info=True)


class RunEvents(Protocol):
    """Starts the flow of a run's events into a feed; returns how to stop it."""

    async def follow(self, feed: RunFeed, since: int | None) -> Stop: ...


class JetStreamRunEvents:
    """Ordered ephemeral consumers on the ``WORKFLOW`` stream, one per subscription."""

    def __init__(self, nats_url: str) -> None:
        self._nats_url = nats_url
        self._nc: NatsClient | None = None

    async def start(self) -> None:
        """Connect (its own connection: a replay's flow control must not hold up room frames)."""
        self._nc = await nats.connect(self._nats_url, max_reconnect_attempts=-1)

    async def stop(self) -> None:
        """Close the connection, dropping every consumer it holds."""
        if self._nc is not None:
            await self._nc.close()
            self._nc = None

    async def follow(self, feed: RunFeed, since: int | None) -> Stop:
        """Deliver the run's events after ``since`` (only new ones when None), then live ones."""
        if self._nc is None:
            raise ServiceUnavailable("Run events are unavailable")

        async def on_message(msg: Msg) -> None:
            try:
                meta = msg.metadata
            except Exception:  # not a JetStream message: nothing to place it by
                return
            await feed.accept(msg.data, meta.sequence.stream, meta.num_pending)

        if since is None:
            config = ConsumerConfig(deliver_policy=DeliverPolicy.NEW)
        elif since == 0:
            config = ConsumerConfig(deliver_policy=DeliverPolicy.ALL)
        else:
            config = ConsumerConfig(
                deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=since + 1
            )
        sub = await self._nc.jetstream().subscribe(
            run_filter(feed.run_id),
            cb=on_message,
            stream=WORKFLOW.name,
            config=config,
            ordered_consumer=True,
        )
        return sub.unsubscribe


@dataclass(frozen=True)
class RunTopics:
    """What the multiplexed socket needs to serve ``run:`` topics."""

    access: RunAccess
    events: RunEvents
