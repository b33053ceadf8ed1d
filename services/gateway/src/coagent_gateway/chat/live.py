"""Live room frames: one JetStream subscription per gateway process, fanned out to local sockets.

Each socket has one bounded queue (its :class:`Outbox`) shared by its subscriptions. A socket that
cannot keep up fills it and is told to go (it may resume from its last ``seq``); the hub never
waits for it, so nobody else slows down.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

import nats
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js.api import DeliverPolicy
from pydantic import ValidationError

from coagent_contracts.chat import MessagePostedV1
from coagent_gateway.chat.frames import message_frame
from coagent_kit.logging import get_logger

log = get_logger(__name__)
QUEUE_LIMIT = 256


class Outbox:
    """One socket's bounded queue of (topic, frame) pairs, shared by all its subscriptions."""

    def __init__(self, limit: int = QUEUE_LIMIT) -> None:
        self.queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue(limit)
        self.overflowed = asyncio.Event()

    def offer(self, topic: str, frame: dict[str, Any]) -> None:
        """Queue without waiting; a full queue marks the socket as too slow."""
        try:
            self.queue.put_nowait((topic, frame))
        except asyncio.QueueFull:
            self.overflowed.set()

    async def next(self) -> tuple[str, dict[str, Any]] | None:
        """The next (topic, frame), or None once the socket has overflowed."""
        if self.overflowed.is_set():
            return None
        get = asyncio.ensure_future(self.queue.get())
        overflow = asyncio.ensure_future(self.overflowed.wait())
        try:
            await asyncio.wait({get, overflow}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            # Also on cancellation: a stray queue.get() would swallow the next frame.
            get.cancel()
            overflow.cancel()
        if self.overflowed.is_set() or get.cancelled():
            return None
        return get.result()


class Listener:
    """A subscription of one socket to one room."""

    def __init__(self, room_id: str, outbox: Outbox) -> None:
        self.room_id = room_id
        self.topic = f"room:{room_id}"
        self.outbox = outbox

    def offer(self, frame: dict[str, Any]) -> None:
        """Pass a room frame to the socket's outbox."""
        self.outbox.offer(self.topic, frame)


class RoomHub:
    """Routes room events from JetStream to the listeners of this process."""

    def __init__(self, nats_url: str) -> None:
        self._nats_url = nats_url
        self._rooms: dict[str, set[Listener]] = defaultdict(set)
        self._nc: NatsClient | None = None

    async def start(self) -> None:
        """Subscribe to new room messages (an ordered, ephemeral consumer: no shared state)."""
        self._nc = await nats.connect(self._nats_url, max_reconnect_attempts=-1)
        js = self._nc.jetstream()
        await js.subscribe(
            MessagePostedV1.FILTER,
            cb=self._on_message,
            ordered_consumer=True,
            deliver_policy=DeliverPolicy.NEW,
        )

    async def stop(self) -> None:
        """Drop the subscription."""
        if self._nc is not None:
            await self._nc.close()
            self._nc = None

    def join(self, room_id: str, outbox: Outbox) -> Listener:
        """Subscribe ``outbox`` to ``room_id``; call :meth:`leave` when done."""
        listener = Listener(room_id, outbox)
        self._rooms[room_id].add(listener)
        return listener

    def leave(self, listener: Listener) -> None:
        """Forget a listener."""
        room = self._rooms.get(listener.room_id)
        if room is not None:
            room.discard(listener)
            if not room:
                del self._rooms[listener.room_id]

    def publish(self, room_id: str, frame: dict[str, Any]) -> None:
        """Hand ``frame`` to every listener of the room."""
        for listener in list(self._rooms.get(room_id, ())):
            listener.offer(frame)

    async def _on_message(self, msg: Msg) -> None:
        try:
            event = MessagePostedV1.model_validate_json(msg.data)
        except ValidationError:
            log.warning("live_frame_invalid", subject=msg.subject)
            return
        self.publish(event.data.room_id, message_frame(event.data))
