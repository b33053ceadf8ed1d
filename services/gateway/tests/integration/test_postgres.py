"""The gateway's Postgres adapter and first-start bootstrap against a real PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from coagent_contracts.gateway import UserCreatedData, UserCreatedV1
from coagent_gateway.adapters.memory import PlainHasher
from coagent_gateway.adapters.postgres import PostgresUserStore, outbox, users
from coagent_gateway.app import bootstrap_admin_standalone
from coagent_gateway.domain import PlatformRole
from coagent_gateway.service import ensure_super_admin
from coagent_gateway.settings import GatewaySettings
from coagent_kit.db import session_factory

pytestmark = pytest.mark.integration


@pytest.fixture
async def sessions(engine: AsyncEngine) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on a gateway database emptied of users before and after each test.

    The super admin is a singleton of the installation, so tests cannot share the table.
    """
    factory = session_factory(engine)

    async def wipe() -> None:
        async with factory() as session, session.begin():
            await session.execute(delete(users))
            await session.execute(delete(outbox))

    await wipe()
    yield factory
    await wipe()


@pytest.fixture
def commits() -> list[int]:
    return []


@pytest.fixture
def store(sessions: async_sessionmaker[AsyncSession], commits: list[int]) -> PostgresUserStore:
    return PostgresUserStore(sessions, lambda: commits.append(1))


def user_created(email: str, username: str, role: PlatformRole) -> UserCreatedV1:
    return UserCreatedV1(
        producer="gateway",
        data=UserCreatedData(
            user_id=str(uuid.uuid4()), email=email, username=username, platform_role=role.value
        ),
    )


async def test_create_and_find_the_super_admin(
    store: PostgresUserStore, commits: list[int]
) -> None:
    assert await store.find_super_admin() is None
    teacher = user_created("t@example.org", "teacher", PlatformRole.TEACHER)
    await store.create_user("t@example.org", "teacher", "h", PlatformRole.TEACHER, teacher)
    assert await store.find_super_admin() is None

    event = user_created("root@example.org", "root", PlatformRole.SUPER_ADMIN)
    created = await store.create_user(
        "root@example.org", "root", "hash", PlatformRole.SUPER_ADMIN, event
    )

    found = await store.find_super_admin()
    assert found == created
    assert found is not None
    assert (found.id, found.email, found.username) == (
        event.data.user_id,
        "root@example.org",
        "root",
    )
    assert found.platform_role is PlatformRole.SUPER_ADMIN
    assert len(commits) == 2


async def test_a_duplicate_email_is_refused_by_the_database(
    store: PostgresUserStore, sessions: async_sessionmaker[AsyncSession], commits: list[int]
) -> None:
    first = user_created("dup@example.org", "one", PlatformRole.STUDENT)
    await store.create_user("dup@example.org", "one", "h", PlatformRole.STUDENT, first)
    second = user_created("dup@example.org", "two", PlatformRole.STUDENT)

    with pytest.raises(IntegrityError):
        await store.create_user("dup@example.org", "two", "h", PlatformRole.STUDENT, second)

    assert len(commits) == 1
    async with sessions() as session:
        names = (await session.execute(select(users.c.username))).scalars().all()
        outbox_ids = (await session.execute(select(outbox.c.event_id))).scalars().all()
    assert names == ["one"]
    # The failed insert took its event with it.
    assert outbox_ids == [first.event_id]


async def test_the_outbox_holds_the_user_created_event(
    store: PostgresUserStore, sessions: async_sessionmaker[AsyncSession]
) -> None:
    outcome = await ensure_super_admin(store, PlainHasher(), "root@example.org", None, None)

    async with sessions() as session:
        rows = (await session.execute(select(outbox))).all()
        stored_hash = await session.scalar(
            select(users.c.hashed_password).where(users.c.id == outcome.user.id)
        )
    assert len(rows) == 1
    row = rows[0]
    event = UserCreatedV1.model_validate_json(row.payload)
    assert row.subject == f"gateway.user.{outcome.user.id}.created.v1"
    assert row.event_id == event.event_id
    assert row.headers["Nats-Msg-Id"] == event.msg_id
    assert row.published_at is None
    assert event.data.user_id == outcome.user.id
    assert event.data.platform_role == "super_admin"
    assert stored_hash == f"plain:{outcome.generated_password}"


async def test_standalone_bootstrap_is_idempotent(
    database_url: str, sessions: async_sessionmaker[AsyncSession], settings: GatewaySettings
) -> None:
    cfg = settings.model_copy(
        update={"database_url": database_url, "admin_email": "first@example.org"}
    )

    username, generated = await bootstrap_admin_standalone(cfg)
    again_username, again_generated = await bootstrap_admin_standalone(cfg)

    assert username == again_username == "first"
    assert generated is not None
    assert again_generated is None
    async with sessions() as session:
        rows = (await session.execute(select(users.c.username, users.c.hashed_password))).all()
        events = (await session.execute(select(outbox.c.subject))).scalars().all()
    assert len(rows) == 1
    assert rows[0].hashed_password.startswith("$argon2id$")
    assert len(events) == 1
