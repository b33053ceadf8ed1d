"""Live room frames: one set of subscriptions per gateway process, fanned out to local sockets.

Each socket has one bounded queue (its :class:`Outbox`) shared by its subscriptions. A socket that
cannot keep up fills it and is told to go (it may resume from its last ``seq``); the hub never
waits for it, so nobody else slows down.

The hub follows three sources: stored messages (JetStream, ``chat.room.*``), membership changes
(JetStream, ``gateway.room.*.membership.changed.v1``: a removed member's subscriptions are revoked
after a re-check), other room events (workflow traces, artifact changes, message tombstones: see
:mod:`~coagent_gateway.chat.traces`) and ephemeral frames on core NATS ``live.room.*`` (presence,
typing and agents' token deltas, which carry no ``seq`` and are never stored).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any, Final

import nats
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js.api import DeliverPolicy
from pydantic import ValidationError

from coagent_contracts.chat import MessagePostedV1
from coagent_contracts.gateway import MembershipChangedV1
from coagent_contracts.graphrag import GraphBuildProgressV1
from coagent_contracts.live import LIVE_ROOM_FILTER, room_live
from coagent_gateway.chat.frames import SharedFrame, graph_build_frame, message_frame
from coagent_gateway.chat.presence import (
    REFRESH_S,
    TTL_S,
    MemoryTypingLimiter,
    PresenceEntry,
    PresenceStore,
    TypingLimiter,
    ephemeral_frame,
    presence_frame,
    typing_frame,
)
from coagent_gateway.chat.traces import TRACE_FILTERS, room_frame
from coagent_gateway.metrics import frame_dropped
from coagent_kit.logging import get_logger

log = get_logger(__name__)
QUEUE_LIMIT = 256
REVOKED: Final[dict[str, Any]] = {"op": "revoked"}
"""Marker an :class:`Outbox` yields (by identity) when a topic's access was revoked."""

Check = Callable[[], Awaitable[bool]]
Watcher = Callable[[], Awaitable[None]]
"""Re-checks a listener's access: True while it may stay."""


class Outbox:
    """One socket's bounded queue of (topic, frame) pairs, shared by all its subscriptions."""

    def __init__(self, limit: int = QUEUE_LIMIT) -> None:
        self.queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue(limit)
        self.overflowed = asyncio.Event()
        self.revoked: list[str] = []
        self._alert = asyncio.Event()
        self._drained = asyncio.Event()

    def offer(self, topic: str, frame: dict[str, Any]) -> None:
        """Queue without waiting; a full queue marks the socket as too slow."""
        try:
            self.queue.put_nowait((topic, frame))
        except asyncio.QueueFull:
            frame_dropped(first=not self.overflowed.is_set())
            self.overflowed.set()
            self._drained.set()  # wake backlog writers: nothing more will be sent

    async def put_backlog(self, topic: str, frame: dict[str, Any]) -> None:
        """Queue a replayed frame, waiting while the queue is at least half full.

        A replay is as long as the client asked for: offering it all at once would overflow the
        queue of a healthy client. Waiting feeds it at the client's pace and leaves the other
        half of the queue to live frames, so only a client that really stalls is dropped.
        """
        while self.queue.qsize() >= self.queue.maxsize // 2 and not self.overflowed.is_set():
            self._drained.clear()
            await self._drained.wait()
        if not self.overflowed.is_set():
            self.offer(topic, frame)

    def revoke(self, topic: str) -> None:
        """Tell the socket that ``topic`` is no longer allowed; jumps the queue."""
        self.revoked.append(topic)
        self._alert.set()

    async def next(self) -> tuple[str, dict[str, Any]] | None:
        """The next (topic, frame) — ``(topic, REVOKED)`` first — or None once overflowed."""
        while not self.overflowed.is_set():
            if self.revoked:
                topic = self.revoked.pop(0)
                if not self.revoked:
                    self._alert.clear()
                return topic, REVOKED
            if not self.queue.empty():
                # The common case under load: no waiters to build and tear down per frame.
                return self._took(self.queue.get_nowait())
            get = asyncio.ensure_future(self.queue.get())
            overflow = asyncio.ensure_future(self.overflowed.wait())
            alert = asyncio.ensure_future(self._alert.wait())
            try:
                await asyncio.wait({get, overflow, alert}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                # Also on cancellation: a stray queue.get() would swallow the next frame.
                for waiter in (get, overflow, alert):
                    waiter.cancel()
            if self.overflowed.is_set():
                return None
            if get.done() and not get.cancelled():
                return self._took(get.result())
        return None

    def _took(self, item: tuple[str, dict[str, Any]]) -> tuple[str, dict[str, Any]]:
        if self.queue.qsize() < self.queue.maxsize // 2:
            self._drained.set()
        return item


class Listener:
    """A subscription of one socket to one room, on behalf of a user (if known)."""

    def __init__(
        self,
        room_id: str,
        outbox: Outbox,
        user_id: str | None = None,
        name: str = "",
        check: Check | None = None,
    ) -> None:
        self.room_id = room_id
        self.topic = f"room:{room_id}"
        self.outbox = outbox
        self.user_id = user_id
        self.check = check
        self.revoked = False
        self.entry = PresenceEntry(uuid.uuid4().hex, user_id, name) if user_id else None

    def offer(self, frame: dict[str, Any]) -> None:
        """Pass a room frame to the socket's outbox."""
        self.outbox.offer(self.topic, frame)


class RoomHub:
    """Routes room events to the listeners of this process; tracks their presence."""

    def __init__(
        self,
        nats_url: str,
        presence: PresenceStore | None = None,
        typing: TypingLimiter | None = None,
        refresh_s: float = REFRESH_S,
        ttl_s: float = TTL_S,
    ) -> None:
        self._nats_url = nats_url
        self._rooms: dict[str, set[Listener]] = defaultdict(set)
        self._nc: NatsClient | None = None
        self._presence = presence
        self._typing = typing or MemoryTypingLimiter()
        self._refresh_s, self._ttl_s = refresh_s, ttl_s
        self._seen: dict[str, list[dict[str, str]]] = {}
        self._watchers: dict[tuple[str, str], set[Watcher]] = defaultdict(set)
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Subscribe with ordered, ephemeral consumers (no shared state) and core NATS."""
        self._nc = await nats.connect(self._nats_url, max_reconnect_attempts=-1)
        js = self._nc.jetstream()
        for subject, callback in (
            (MessagePostedV1.FILTER, self._on_message),
            (MembershipChangedV1.FILTER, self._on_membership),
            (GraphBuildProgressV1.FILTER, self._on_graph_build),
            *((subject, self._on_room_event) for subject in TRACE_FILTERS),
        ):
            await js.subscribe(
                subject, cb=callback, ordered_consumer=True, deliver_policy=DeliverPolicy.NEW
            )
        await self._nc.subscribe(LIVE_ROOM_FILTER, cb=self._on_live)
        if self._presence is not None:
            self._spawn(self._refresh_forever())

    async def stop(self) -> None:
        """Drop the subscriptions and background work."""
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._nc is not None:
            await self._nc.close()
            self._nc = None

    def join(
        self,
        room_id: str,
        outbox: Outbox,
        user_id: str | None = None,
        name: str = "",
        check: Check | None = None,
    ) -> Listener:
        """Subscribe ``outbox`` to ``room_id``; call :meth:`leave` when done."""
        listener = Listener(room_id, outbox, user_id, name, check)
        self._rooms[room_id].add(listener)
        return listener

    def leave(self, listener: Listener) -> None:
        """Forget a listener."""
        room = self._rooms.get(listener.room_id)
        if room is not None:
            room.discard(listener)
            if not room:
                del self._rooms[listener.room_id]
                self._seen.pop(listener.room_id, None)

    async def enter(
        self, room_id: str, outbox: Outbox, user_id: str, name: str, check: Check | None = None
    ) -> Listener:
        """:meth:`join`, then show the user present in the room."""
        listener = self.join(room_id, outbox, user_id, name, check)
        if self._presence is not None and listener.entry is not None:
            await self._guard(self._presence.touch(room_id, listener.entry, self._ttl_s))
            await self._guard(self._announce_presence(room_id))
        return listener

    async def exit(self, listener: Listener) -> None:
        """:meth:`leave`, then take the socket out of the room's presence."""
        self.leave(listener)
        if self._presence is not None and listener.entry is not None:
            await self._guard(self._presence.drop(listener.room_id, listener.entry))
            await self._guard(self._announce_presence(listener.room_id))

    def publish(
        self, room_id: str, frame: dict[str, Any], trace_context: Mapping[str, str] | None = None
    ) -> None:
        """Hand ``frame`` to every listener of the room in this process; ``trace_context`` is the
        trace its deliveries join (the headers of the event it was made from)."""
        shared = SharedFrame(frame)
        shared.trace_context = trace_context
        for listener in list(self._rooms.get(room_id, ())):
            listener.offer(shared)

    async def announce(self, room_id: str, frame: dict[str, Any]) -> None:
        """An ephemeral frame for the room's listeners in every gateway process (core NATS)."""
        if self._nc is None:
            self.publish(room_id, frame)  # not started: this process is the whole world
            return
        await self._nc.publish(room_live(room_id), json.dumps(frame).encode())

    async def typing(self, listener: Listener) -> bool:
        """Announce that the listener's user is typing, unless they did so very recently."""
        entry = listener.entry
        if entry is None or not await self._typing.allow(listener.room_id, entry.user_id):
            return False
        await self.announce(
            listener.room_id, typing_frame(listener.room_id, entry.user_id, entry.name)
        )
        return True

    async def membership_removed(self, room_id: str, user_id: str) -> None:
        """Re-check the user's listeners of the room and watchers (e.g. run topics of the room);
        revoke those no longer allowed."""
        targets = [x for x in self._rooms.get(room_id, ()) if x.user_id == user_id]
        watchers = list(self._watchers.get((room_id, user_id), ()))
        await asyncio.gather(
            *(self._recheck(x) for x in targets), *(self._guard(w()) for w in watchers)
        )

    def watch(self, room_id: str, user_id: str, on_removed: Watcher) -> Callable[[], None]:
        """Call ``on_removed`` when ``user_id`` loses membership of ``room_id``; returns the
        function that stops watching. For subscriptions that see a room's content without being
        one of its listeners (a run in the room)."""
        key = (room_id, user_id)
        self._watchers[key].add(on_removed)

        def unwatch() -> None:
            watchers = self._watchers.get(key)
            if watchers is not None:
                watchers.discard(on_removed)
                if not watchers:
                    del self._watchers[key]

        return unwatch

    def revoke(self, listener: Listener) -> None:
        """Stop routing to the listener and tell its socket why."""
        self.leave(listener)
        listener.revoked = True
        listener.outbox.revoke(listener.topic)

    async def refresh(self) -> None:
        """Renew the leases of local sockets; announce rooms whose presence changed meanwhile."""
        if self._presence is None:
            return
        for room_id, listeners in list(self._rooms.items()):
            for listener in list(listeners):
                if listener.entry is not None:
                    await self._presence.touch(room_id, listener.entry, self._ttl_s)
            if await self._presence.members(room_id) != self._seen.get(room_id):
                await self._announce_presence(room_id)

    async def _recheck(self, listener: Listener) -> None:
        if listener.check is not None:
            try:
                if await listener.check():
                    return
            except Exception:  # cannot tell: the event said "removed", so fail closed
                log.warning("membership_recheck_failed", room_id=listener.room_id, exc_info=True)
        log.info("room_access_revoked", room_id=listener.room_id, user_id=listener.user_id)
        self.revoke(listener)

    async def _announce_presence(self, room_id: str) -> None:
        if self._presence is None:
            return
        users = await self._presence.members(room_id)
        self._seen[room_id] = users
        await self.announce(room_id, presence_frame(room_id, users))

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(self._refresh_s)
            await self._guard(self.refresh())

    async def _guard(self, work: Awaitable[None]) -> None:
        """Presence is best effort: a Redis or NATS hiccup must not take a socket down."""
        try:
            await work
        except Exception:
            log.warning("presence_failed", exc_info=True)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _on_message(self, msg: Msg) -> None:
        try:
            event = MessagePostedV1.model_validate_json(msg.data)
        except ValidationError:
            log.warning("live_frame_invalid", subject=msg.subject)
            return
        self.publish(event.data.room_id, message_frame(event.data), msg.headers)

    async def _on_membership(self, msg: Msg) -> None:
        try:
            event = MembershipChangedV1.model_validate_json(msg.data)
        except ValidationError:
            log.warning("membership_event_invalid", subject=msg.subject)
            return
        if event.data.change == "removed":
            # Off the delivery callback: the re-checks hit the database.
            self._spawn(self.membership_removed(event.data.room_id, event.data.user_id))

    async def _on_graph_build(self, msg: Msg) -> None:
        try:
            event = GraphBuildProgressV1.model_validate_json(msg.data)
        except ValidationError:
            log.warning("live_frame_invalid", subject=msg.subject)
            return
        self.publish(event.data.room_id, graph_build_frame(event))

    async def _on_room_event(self, msg: Msg) -> None:
        translated = room_frame(msg.data)
        if translated is not None:
            self.publish(*translated, msg.headers)

    async def _on_live(self, msg: Msg) -> None:
        room_id = msg.subject.rsplit(".", 1)[-1]
        frame = ephemeral_frame(room_id, msg.data)
        if frame is None:
            return
        if room_id not in self._rooms:
            return
        if frame["type"] == "presence" and isinstance(frame.get("users"), list):
            self._seen[room_id] = frame["users"]
        self.publish(room_id, frame)
