"""Who is in a room, and who is typing: short-lived state with TTLs, shared through Redis.

Presence is one sorted set per room (``coagent:gateway:presence:<room_id>``) whose members are
sockets, scored by the time they expire. Each socket's gateway refreshes its entries every
:data:`REFRESH_S` seconds with a :data:`TTL_S` lease and drops them on disconnect, so the entries
of a gateway process that died fade out on their own. Typing is rate-limited per user and room
with a ``SET NX PX`` key, so a chatty client cannot flood a room through any gateway process.

The frames built here travel on core NATS (``live.room.<room_id>``) and carry neither ``sender``
nor ``content``: the reference client drops such frames instead of drawing chat bubbles. The same
subject carries the workflow engine's token stream (``message_delta``, checked against its
contract); the stored message that follows has the same ``stream_id`` and replaces it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import ValidationError
from redis.asyncio import Redis

from coagent_contracts.live import MessageDeltaFrame

PREFIX = "coagent:gateway:"
TTL_S = 45.0
REFRESH_S = 15.0
TYPING_INTERVAL_S = 2.0
TYPING_EXPIRES_S = 5
EPHEMERAL_TYPES = frozenset({"presence", "typing", "message_delta"})
"""Frame types relayed from ``live.room.*`` to sockets."""


@dataclass(frozen=True, slots=True)
class PresenceEntry:
    """One socket present in a room."""

    socket_id: str
    user_id: str
    name: str

    def encode(self) -> str:
        """The sorted-set member naming this socket (stable for refreshes)."""
        return json.dumps([self.socket_id, self.user_id, self.name], separators=(",", ":"))

    @staticmethod
    def decode(raw: str | bytes) -> PresenceEntry | None:
        """Parse a member; None for anything malformed."""
        try:
            socket_id, user_id, name = json.loads(raw)
        except (ValueError, TypeError):
            return None
        return PresenceEntry(str(socket_id), str(user_id), str(name))


class PresenceStore(Protocol):
    """Room presence with leases."""

    async def touch(self, room_id: str, entry: PresenceEntry, ttl_s: float = TTL_S) -> None:
        """Add or refresh a socket's lease."""
        ...

    async def drop(self, room_id: str, entry: PresenceEntry) -> None:
        """Forget a socket at once."""
        ...

    async def members(self, room_id: str) -> list[dict[str, str]]:
        """The people present (unexpired, one per user), as ``{"user_id", "name"}``."""
        ...


class TypingLimiter(Protocol):
    """At most one typing indicator per user and room per interval."""

    async def allow(self, room_id: str, user_id: str) -> bool:
        """True if this indicator may go out now."""
        ...


def _people(entries: list[PresenceEntry]) -> list[dict[str, str]]:
    people = {e.user_id: e.name for e in entries}
    ordered = sorted(people.items(), key=lambda item: (item[1].lower(), item[0]))
    return [{"user_id": user_id, "name": name} for user_id, name in ordered]


def presence_frame(room_id: str, users: list[dict[str, str]]) -> dict[str, Any]:
    """``{"type": "presence", "room_id", "users": [{"user_id", "name"}…]}``."""
    return {"type": "presence", "room_id": room_id, "users": users}


def typing_frame(room_id: str, user_id: str, name: str) -> dict[str, Any]:
    """``{"type": "typing", "room_id", "user_id", "name", "expires_in_s"}``."""
    return {
        "type": "typing",
        "room_id": room_id,
        "user_id": user_id,
        "name": name,
        "expires_in_s": TYPING_EXPIRES_S,
    }


def ephemeral_frame(room_id: str, raw: bytes) -> dict[str, Any] | None:
    """A relayable live frame of ``room_id`` from the wire, or None if it is not one."""
    try:
        frame = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(frame, dict) or frame.get("type") not in EPHEMERAL_TYPES:
        return None
    if frame.get("room_id") != room_id or "sender" in frame or "content" in frame:
        return None
    if frame["type"] == "message_delta":
        # Other services publish these: only the contract's fields reach a browser.
        try:
            return MessageDeltaFrame.model_validate(frame).model_dump()
        except ValidationError:
            return None
    return frame


class RedisPresenceStore:
    """Presence in Redis sorted sets scored by expiry (wall-clock seconds)."""

    def __init__(self, client: Redis, clock: Callable[[], float] = time.time) -> None:
        self._redis = client
        self._clock = clock

    @staticmethod
    def key(room_id: str) -> str:
        return f"{PREFIX}presence:{room_id}"

    async def touch(self, room_id: str, entry: PresenceEntry, ttl_s: float = TTL_S) -> None:
        key = self.key(room_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zadd(key, {entry.encode(): self._clock() + ttl_s})
            pipe.expire(key, int(ttl_s) + 1)  # the whole set goes when every lease has
            await pipe.execute()

    async def drop(self, room_id: str, entry: PresenceEntry) -> None:
        await self._redis.zrem(self.key(room_id), entry.encode())

    async def members(self, room_id: str) -> list[dict[str, str]]:
        key = self.key(room_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(key, "-inf", self._clock())
            pipe.zrange(key, 0, -1)
            _, raw = await pipe.execute()
        return _people([e for r in raw if (e := PresenceEntry.decode(r)) is not None])


class RedisTypingLimiter:
    """``SET NX PX``: the first indicator in an interval wins, across gateway processes."""

    def __init__(self, client: Redis, interval_s: float = TYPING_INTERVAL_S) -> None:
        self._redis = client
        self._interval_ms = int(interval_s * 1000)

    async def allow(self, room_id: str, user_id: str) -> bool:
        key = f"{PREFIX}typing:{room_id}:{user_id}"
        return bool(await self._redis.set(key, b"1", px=self._interval_ms, nx=True))


class MemoryPresenceStore:
    """In-process presence with the same lease semantics (tests, single process)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._rooms: dict[str, dict[PresenceEntry, float]] = {}

    async def touch(self, room_id: str, entry: PresenceEntry, ttl_s: float = TTL_S) -> None:
        self._rooms.setdefault(room_id, {})[entry] = self._clock() + ttl_s

    async def drop(self, room_id: str, entry: PresenceEntry) -> None:
        self._rooms.get(room_id, {}).pop(entry, None)

    async def members(self, room_id: str) -> list[dict[str, str]]:
        now = self._clock()
        room = self._rooms.get(room_id, {})
        for entry in [e for e, expiry in room.items() if expiry <= now]:
            del room[entry]
        return _people(list(room))


class MemoryTypingLimiter:
    """In-process typing rate limit."""

    def __init__(
        self, interval_s: float = TYPING_INTERVAL_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._interval_s = interval_s
        self._clock = clock
        self._last: dict[tuple[str, str], float] = {}

    async def allow(self, room_id: str, user_id: str) -> bool:
        now = self._clock()
        last = self._last.get((room_id, user_id))
        if last is not None and now - last < self._interval_s:
            return False
        self._last[(room_id, user_id)] = now
        return True
