"""Stores of each room's current graph build: in memory, and in Redis (one hash per room).

``coagent:graphrag:graph-build:<room_id>`` holds the build as JSON plus the fields the scripts
compare (build id, state, attempt and step, last update). Claiming and applying are Lua scripts,
so two gateways asking at once cannot both start a build, and a late event cannot rewind one.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis

from coagent_contracts.graphrag import GraphBuildProgressV1
from coagent_graphrag_query.graph_builds import GraphBuild, advance

KEY_PREFIX = "coagent:graphrag:graph-build:"

_CLAIM = """
local status = redis.call('HGET', KEYS[1], 'status')
local updated = tonumber(redis.call('HGET', KEYS[1], 'updated_us') or '0')
local fresh = tonumber(ARGV[1]) - updated <= tonumber(ARGV[2])
if (status == 'queued' or status == 'running') and fresh then
  return redis.call('HGET', KEYS[1], 'json')
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'json', ARGV[3], 'build_id', ARGV[4], 'status', 'queued',
           'attempt', 1, 'step', 0, 'updated_us', ARGV[1])
return ARGV[3]
"""

_APPLY = """
if redis.call('HGET', KEYS[1], 'build_id') ~= ARGV[1] then return 0 end
local attempt = tonumber(redis.call('HGET', KEYS[1], 'attempt') or '1')
local step = tonumber(redis.call('HGET', KEYS[1], 'step') or '0')
local new_attempt, new_step = tonumber(ARGV[6]), tonumber(ARGV[2])
if new_attempt < attempt or (new_attempt == attempt and new_step <= step) then return 0 end
redis.call('HSET', KEYS[1], 'json', ARGV[3], 'status', ARGV[4], 'step', ARGV[2],
           'updated_us', ARGV[5], 'attempt', ARGV[6])
return 1
"""


def _micros(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def _dump(build: GraphBuild) -> str:
    raw: dict[str, Any] = asdict(build)
    raw["requested_at"] = build.requested_at.isoformat()
    raw["updated_at"] = build.updated_at.isoformat()
    return json.dumps(raw)


def _load(raw: bytes | str) -> GraphBuild:
    data = json.loads(raw)
    data["requested_at"] = datetime.fromisoformat(data["requested_at"])
    data["updated_at"] = datetime.fromisoformat(data["updated_at"])
    return GraphBuild(**data)


class MemoryGraphBuildStore:
    def __init__(self) -> None:
        self.builds: dict[str, GraphBuild] = {}

    async def claim(self, build: GraphBuild, stale_after_s: float) -> GraphBuild:
        current = self.builds.get(build.room_id)
        if (
            current is not None
            and current.active
            and not current.stale(build.requested_at, stale_after_s)
        ):
            return current
        self.builds[build.room_id] = build
        return build

    async def get(self, room_id: str) -> GraphBuild | None:
        return self.builds.get(room_id)

    async def apply(self, event: GraphBuildProgressV1) -> bool:
        after = advance(self.builds.get(event.data.room_id), event)
        if after is None:
            return False
        self.builds[after.room_id] = after
        return True


class RedisGraphBuildStore:
    def __init__(self, client: Redis) -> None:
        self._client = client
        self._claim = client.register_script(_CLAIM)
        self._apply = client.register_script(_APPLY)

    async def claim(self, build: GraphBuild, stale_after_s: float) -> GraphBuild:
        now = _micros(datetime.now(UTC))
        raw = await self._claim(
            keys=[KEY_PREFIX + build.room_id],
            args=[now, int(stale_after_s * 1_000_000), _dump(build), build.build_id],
        )
        return _load(raw)

    async def get(self, room_id: str) -> GraphBuild | None:
        raw = await self._client.hget(KEY_PREFIX + room_id, "json")
        return None if raw is None else _load(raw)

    async def apply(self, event: GraphBuildProgressV1) -> bool:
        # The script re-checks build id, attempt and step atomically; this read builds the JSON.
        after = advance(await self.get(event.data.room_id), event)
        if after is None:
            return False
        applied = await self._apply(
            keys=[KEY_PREFIX + after.room_id],
            args=[after.build_id, after.step, _dump(after), after.status,
                  _micros(after.updated_at), after.attempt],
        )  # fmt: skip
        return bool(applied)
