"""Redis adapter: the build-status projection as one hash per room.

``coagent:graphrag:build:<room_id>`` holds the fields of :class:`BuildStatus`. Applying an
outcome is one Lua script, so the "already applied?" mark and the fold commit together: a crash
between them could otherwise lose an update (mark set, hash unchanged) or count it twice.
"""

from __future__ import annotations

from datetime import UTC, datetime

from redis.asyncio import Redis

from coagent_contracts.streams import GRAPHRAG
from coagent_graphrag_query.domain import BuildStatus, JobOutcome

KEY_PREFIX = "coagent:graphrag:build:"
APPLIED_PREFIX = "coagent:graphrag:build-applied:"
#: An event cannot be redelivered after its stream dropped it, so marks need not outlive that.
APPLIED_TTL_S = int(GRAPHRAG.max_age_s)

# The same rule as ``domain.fold``: counts add up, the "last job" fields follow the job that
# ended latest (compared in integer microseconds, which Lua numbers hold exactly).
_APPLY = """
if not redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[1]) then
  return 0
end
local key = KEYS[1]
redis.call('HSETNX', key, 'room_id', ARGV[2])
redis.call('HINCRBY', key, 'entities', ARGV[5])
redis.call('HINCRBY', key, 'relations', ARGV[6])
redis.call('HINCRBY', key, 'chunks', ARGV[7])
if ARGV[4] == 'succeeded' then
  redis.call('HINCRBY', key, 'jobs_succeeded', 1)
  redis.call('HSETNX', key, 'jobs_failed', 0)
else
  redis.call('HINCRBY', key, 'jobs_failed', 1)
  redis.call('HSETNX', key, 'jobs_succeeded', 0)
end
local current = tonumber(redis.call('HGET', key, 'updated_at_us') or '-1')
if tonumber(ARGV[10]) >= current then
  redis.call('HSET', key, 'last_job_id', ARGV[3], 'status', ARGV[4],
             'updated_at', ARGV[9], 'updated_at_us', ARGV[10])
  if ARGV[8] == '' then
    redis.call('HDEL', key, 'error')
  else
    redis.call('HSET', key, 'error', ARGV[8])
  end
end
return 1
"""


def status_key(room_id: str) -> str:
    """The hash holding ``room_id``'s build status."""
    return KEY_PREFIX + room_id


def _micros(moment: datetime) -> int:
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisBuildStatusStore:
    """Works with clients that decode responses and with those that return bytes."""

    def __init__(self, client: Redis) -> None:
        self._client = client
        self._apply = client.register_script(_APPLY)

    async def apply(self, event_id: str, outcome: JobOutcome) -> bool:
        ended_at = outcome.ended_at.astimezone(UTC)
        applied = await self._apply(
            keys=[status_key(outcome.room_id), APPLIED_PREFIX + event_id],
            args=[
                APPLIED_TTL_S,
                outcome.room_id,
                outcome.job_id,
                outcome.status,
                outcome.entities,
                outcome.relations,
                outcome.chunks,
                outcome.error or "",
                ended_at.isoformat(),
                _micros(ended_at),
            ],
        )
        return bool(applied)

    async def get(self, room_id: str) -> BuildStatus | None:
        raw = await self._client.hgetall(status_key(room_id))
        if not raw:
            return None
        fields = {_text(k): _text(v) for k, v in raw.items()}
        return BuildStatus(
            room_id=fields["room_id"],
            last_job_id=fields["last_job_id"],
            status="succeeded" if fields["status"] == "succeeded" else "failed",
            error=fields.get("error"),
            jobs_succeeded=int(fields["jobs_succeeded"]),
            jobs_failed=int(fields["jobs_failed"]),
            entities=int(fields["entities"]),
            relations=int(fields["relations"]),
            chunks=int(fields["chunks"]),
            updated_at=datetime.fromisoformat(fields["updated_at"]),
        )
