"""The chat database, migrated once per test module, and sessions on it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from coagent_kit.db import create_engine, session_factory


@pytest.fixture(scope="module")
def database_url(service_database_url: Callable[[str], str]) -> str:
    # Sync on purpose: migrating runs its own event loop, which cannot start inside a running one.
    return service_database_url("chat")


@pytest.fixture(scope="module")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return session_factory(engine)
