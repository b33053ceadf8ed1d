"""Forgetting a user against the real server: anonymised, deactivated, event in the same commit."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from coagent_contracts.gateway import (
    UserCreatedData,
    UserCreatedV1,
    UserForgottenData,
    UserForgottenV1,
)
from coagent_gateway.adapters.postgres import outbox
from coagent_gateway.adapters.users_postgres import PostgresUserDirectory
from coagent_gateway.domain import PlatformRole
from coagent_gateway.users.domain import Forgotten, NewUser

pytestmark = pytest.mark.integration


def _forgotten(user_id: str) -> UserForgottenV1:
    return UserForgottenV1(
        producer="gateway", data=UserForgottenData(user_id=user_id, forgotten_by="admin-1")
    )


async def _queued(sessions: async_sessionmaker[AsyncSession], user_id: str) -> list[str]:
    async with sessions() as session:
        rows = await session.execute(
            select(outbox.c.subject).where(outbox.c.subject.contains(f"{user_id}.forgotten"))
        )
    return [r.subject for r in rows]


async def test_forget_anonymises_and_queues_in_one_commit(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    commits: list[int] = []
    directory = PostgresUserDirectory(sessions, on_commit=lambda: commits.append(1))
    tag = uuid.uuid4().hex[:8]
    user_id = str(uuid.uuid4())
    created = UserCreatedV1(
        producer="gateway",
        data=UserCreatedData(
            user_id=user_id,
            email=f"ada-{tag}@x.org",
            username=f"ada-{tag}",
            platform_role="student",
        ),
    )
    await directory.create(
        NewUser(f"ada-{tag}@x.org", f"ada-{tag}", "h", PlatformRole.STUDENT, "Ada L"), created
    )

    for _ in range(2):  # twice: the anonymous profile is unique per user, so it re-applies
        forgotten = await directory.forget(
            user_id, Forgotten.of(user_id, "h2"), _forgotten(user_id)
        )
        assert forgotten is not None
        assert (forgotten.is_active, forgotten.full_name) == (False, None)
        assert forgotten.email == f"{user_id}@forgotten.invalid"

    assert await _queued(sessions, user_id) == [f"gateway.user.{user_id}.forgotten.v1"] * 2
    assert len(commits) == 3  # create + two forgets kick the relay
    # The original email and username are free again: nothing unique still names the person.
    assert not await directory.email_taken(f"ada-{tag}@x.org")
    assert not await directory.username_taken(f"ada-{tag}")


async def test_forgetting_an_unknown_user_queues_nothing(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    directory = PostgresUserDirectory(sessions, on_commit=lambda: None)
    missing = str(uuid.uuid4())
    assert await directory.forget(missing, Forgotten.of(missing, "h"), _forgotten(missing)) is None
    assert await _queued(sessions, missing) == []
