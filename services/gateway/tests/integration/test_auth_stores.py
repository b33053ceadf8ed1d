"""The auth feature's Postgres and Redis adapters against the real servers."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from coagent_gateway.adapters.auth_postgres import (
    PostgresAccountStore,
    PostgresAuditLog,
    PostgresRefreshTokenStore,
)
from coagent_gateway.adapters.postgres import audit_log, users
from coagent_gateway.adapters.redis import RedisLoginThrottle, RedisSessionRevocations
from coagent_gateway.auth.domain import RefreshToken, hash_token, new_refresh_secret

pytestmark = pytest.mark.integration


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def _insert_user(sessions: async_sessionmaker[AsyncSession], email: str) -> str:
    user_id = str(uuid.uuid4())
    async with sessions() as session, session.begin():
        await session.execute(
            users.insert().values(
                id=user_id,
                email=email,
                username=f"u{user_id[:8]}",
                hashed_password="h",
                platform_role="student",
            )
        )
    return user_id


def _token(user_id: str, session_id: str) -> tuple[str, RefreshToken]:
    raw, now = new_refresh_secret(), datetime.now(UTC)
    token = RefreshToken(
        id=str(uuid.uuid4()),
        session_id=session_id,
        user_id=user_id,
        token_hash=hash_token(raw),
        issued_at=now,
        expires_at=now + timedelta(days=1),
    )
    return raw, token


async def test_emails_are_unique_whatever_their_case(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    local = uuid.uuid4().hex[:8]
    await _insert_user(sessions, f"{local}@example.org")
    with pytest.raises(IntegrityError):
        await _insert_user(sessions, f"{local.upper()}@Example.org")


async def test_login_lookup_ignores_email_case(sessions: async_sessionmaker[AsyncSession]) -> None:
    local = uuid.uuid4().hex[:8]
    user_id = await _insert_user(sessions, f"{local}@example.org")
    account = await PostgresAccountStore(sessions).find_by_login(f"{local.upper()}@EXAMPLE.org")
    assert account is not None
    assert account.user.id == user_id
    assert account.password_hash == "h"


async def test_a_refresh_token_is_consumed_exactly_once_under_concurrency(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    store = PostgresRefreshTokenStore(sessions)
    raw, token = _token(str(uuid.uuid4()), str(uuid.uuid4()))
    await store.add(token)
    now = datetime.now(UTC)
    results = await asyncio.gather(*(store.consume(hash_token(raw), now) for _ in range(8)))
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    assert winners[0].used_at is not None
    stored = await store.find(hash_token(raw))
    assert stored is not None
    assert stored.used_at is not None


async def test_revoking_a_session_revokes_every_token_of_it(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    store = PostgresRefreshTokenStore(sessions)
    session_id, user_id = str(uuid.uuid4()), str(uuid.uuid4())
    raws = []
    for _ in range(3):
        raw, token = _token(user_id, session_id)
        await store.add(token)
        raws.append(raw)
    other_raw, other = _token(user_id, str(uuid.uuid4()))
    await store.add(other)
    await store.revoke_session(session_id, datetime.now(UTC))
    for raw in raws:
        assert await store.consume(hash_token(raw), datetime.now(UTC)) is None
    assert await store.consume(hash_token(other_raw), datetime.now(UTC)) is not None


async def test_audit_entries_are_stored(sessions: async_sessionmaker[AsyncSession]) -> None:
    actor = str(uuid.uuid4())
    await PostgresAuditLog(sessions).record(
        "login_failed", actor_id=actor, ip="10.1.2.3", details={"login": "ada"}
    )
    async with sessions() as session:
        row = (
            (await session.execute(select(audit_log).where(audit_log.c.actor_id == actor)))
            .mappings()
            .one()
        )
    assert row["action"] == "login_failed"
    assert row["ip"] == "10.1.2.3"
    assert row["details"] == {"login": "ada"}


async def test_redis_throttle_counts_and_expires(redis: Redis) -> None:
    throttle = RedisLoginThrottle(redis, window_s=2)
    keys = {f"acct:{uuid.uuid4().hex}": 3}
    assert await throttle.retry_after(keys) is None
    for _ in range(3):
        await throttle.record_failure(keys)
    wait = await throttle.retry_after(keys)
    assert wait is not None
    assert 1 <= wait <= 2
    await throttle.clear(next(iter(keys)))
    assert await throttle.retry_after(keys) is None


async def test_redis_session_revocations_expire(redis: Redis) -> None:
    revocations = RedisSessionRevocations(redis)
    session_id = uuid.uuid4().hex
    assert not await revocations.is_revoked(session_id)
    await revocations.revoke(session_id, ttl_s=1)
    assert await revocations.is_revoked(session_id)
    ttl = await redis.ttl(f"coagent:gateway:revoked:{session_id}")
    assert 0 < ttl <= 1
