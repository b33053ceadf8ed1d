"""Readiness checks against the real servers, healthy and not."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from faststream.nats import NatsBroker
from redis.asyncio import Redis

from coagent_kit.broker import create_broker, start_broker
from coagent_kit.db import create_engine
from coagent_kit.health import Readiness, nats_check, postgres_check, redis_check

pytestmark = pytest.mark.integration


@pytest.fixture
async def broker(nats_url: str) -> AsyncIterator[NatsBroker]:
    broker = create_broker(nats_url, "kit-tests")
    await start_broker(broker, nats_url, wait_s=2.0)
    yield broker
    await broker.stop()


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def test_every_check_passes_on_live_servers(
    broker: NatsBroker, redis: Redis, kit_database_url: str
) -> None:
    engine = create_engine(kit_database_url)
    try:
        readiness = Readiness(
            {
                "nats": nats_check(broker),
                "postgres": postgres_check(engine),
                "redis": redis_check(redis),
                "falkordb": redis_check(redis, module="graph"),
            }
        )
        assert await readiness.report() == {
            "nats": "ok",
            "postgres": "ok",
            "redis": "ok",
            "falkordb": "ok",
        }
    finally:
        await engine.dispose()


async def test_checks_report_what_is_wrong(redis: Redis) -> None:
    engine = create_engine("postgresql+asyncpg://nobody:secret@127.0.0.1:1/nothing")
    unreachable_redis = Redis.from_url("redis://127.0.0.1:1/0")
    try:
        report = await Readiness(
            {
                "postgres": postgres_check(engine),
                "missing-module": redis_check(redis, module="no_such_module"),
                "redis": redis_check(unreachable_redis),
            },
            timeout_s=2.0,
        ).report()
    finally:
        await engine.dispose()
        await unreachable_redis.aclose()
    assert report["postgres"].startswith("error: ")
    assert report["missing-module"] == "error: module 'no_such_module' not loaded"
    assert report["redis"].startswith("error: ")
