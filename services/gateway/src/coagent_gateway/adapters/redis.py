"""Redis adapters of the gateway: session revocations and the login throttle."""

from __future__ import annotations

from collections.abc import Mapping

from redis.asyncio import Redis

PREFIX = "coagent:gateway:"


class RedisSessionRevocations:
    """Revoked session ids, kept as long as an access token of theirs could still be valid."""

    def __init__(self, client: Redis) -> None:
        self._redis = client

    async def revoke(self, session_id: str, ttl_s: int) -> None:
        await self._redis.set(f"{PREFIX}revoked:{session_id}", b"1", ex=ttl_s)

    async def is_revoked(self, session_id: str) -> bool:
        return bool(await self._redis.exists(f"{PREFIX}revoked:{session_id}"))


class RedisLoginThrottle:
    """Fixed-window failure counters: ``INCR`` then ``EXPIRE NX`` in one transaction."""

    def __init__(self, client: Redis, window_s: int = 900) -> None:
        self._redis = client
        self._window_s = window_s

    async def retry_after(self, keys: Mapping[str, int]) -> int | None:
        names = [f"{PREFIX}login:{k}" for k in keys]
        counts = await self._redis.mget(names)
        waits = []
        for name, limit, count in zip(names, keys.values(), counts, strict=True):
            if count is not None and int(count) >= limit:
                waits.append(max(int(await self._redis.ttl(name)), 1))
        return max(waits) if waits else None

    async def record_failure(self, keys: Mapping[str, int]) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            for key in keys:
                name = f"{PREFIX}login:{key}"
                pipe.incr(name)
                pipe.expire(name, self._window_s, nx=True)
            await pipe.execute()

    async def clear(self, key: str) -> None:
        await self._redis.delete(f"{PREFIX}login:{key}")
