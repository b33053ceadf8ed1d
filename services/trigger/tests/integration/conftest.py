"""Fixtures of the trigger's integration tests: the migrated database, an engine on it and a
plain NATS connection (the session's embedded PostgreSQL and nats-server)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import nats
import pytest
from nats.aio.client import Client as NatsClient
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from coagent_kit.db import create_engine, session_factory


@pytest.fixture(scope="module")
def database_url(service_database_url: Callable[[str], str]) -> str:
    # A sync fixture on purpose: migrating runs its own event loop (asyncio.run), which cannot
    # start inside the one running async fixtures.
    return service_database_url("trigger")


@pytest.fixture(scope="module")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return session_factory(engine)


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[NatsClient]:
    client = await nats.connect(nats_url)
    yield client
    await client.close()
