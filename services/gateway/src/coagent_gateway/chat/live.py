"""Live room frames: one JetStream subscription per gateway process, fanned out to local sockets.

Each socket has a bounded queue. A socket that cannot keep up fills its queue and is told to go
(and may resume from its last ``seq``); the hub never waits for it, so nobody else slows down.
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


class Listener:
    """One socket's view of a room: a bounded queue and an overflow flag."""

    def __init__(self, room_id: str, limit: int = QUEUE_LIMIT) -> None:
        self.room_id = room_id
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(limit)
        self.overflowed = asyncio.Event()

    def offer(self, frame: dict[str, Any]) -> None:
        """Queue ``frame`` without waiting; a full queue marks the listener as too slow."""
        try:
            self.queue.put_nowait(frame)
        except asyncio.QueueFull:
            self.overflowed.set()

    async def next_frame(self) -> dict[str, Any] | None:
        """The next frame, or None once the listener has overflowed."""
        if self.overflowed.is_set():
            return None
        get = asyncio.ensure_future(self.queue.get())
        overflow = asyncio.ensure_future(self.overflowed.wait())
        done, pending = await asyncio.wait({get, overflow}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        return get.result() if get in done and not self.overflowed.is_set() else None


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

    def join(self, room_id: str, limit: int = QUEUE_LIMIT) -> Listener:
        """A listener for ``room_id``; call :meth:`leave` when the socket closes."""
        listener = Listener(room_id, limit)
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
