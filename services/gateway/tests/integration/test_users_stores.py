"""The users feature's Postgres stores against the real server: directory, keys, audit reader."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from coagent_contracts.gateway import UserCreatedData, UserCreatedV1
from coagent_gateway.adapters.auth_postgres import (
    PostgresAccountStore,
    PostgresAuditLog,
    PostgresRefreshTokenStore,
)
from coagent_gateway.adapters.postgres import outbox
from coagent_gateway.adapters.users_postgres import (
    PostgresApiKeyStore,
    PostgresAuditReader,
    PostgresUserDirectory,
)
from coagent_gateway.auth.api_keys import ApiKey, ApiKeyService, Scope
from coagent_gateway.auth.domain import RefreshToken, hash_token, new_refresh_secret
from coagent_gateway.domain import PlatformRole, User
from coagent_gateway.users.domain import EmailTaken, NewUser, UserChanges, UsernameTaken

pytestmark = pytest.mark.integration


@pytest.fixture
def directory(sessions: async_sessionmaker[AsyncSession]) -> PostgresUserDirectory:
    return PostgresUserDirectory(sessions, on_commit=lambda: None)


def _tag() -> str:
    return uuid.uuid4().hex[:8]


async def _create(
    directory: PostgresUserDirectory,
    email: str,
    username: str,
    role: PlatformRole = PlatformRole.STUDENT,
    full_name: str | None = None,
) -> User:
    user_id = str(uuid.uuid4())
    event = UserCreatedV1(
        producer="gateway",
        data=UserCreatedData(
            user_id=user_id, email=email, username=username, platform_role=role.value
        ),
    )
    return await directory.create(NewUser(email, username, "h", role, full_name), event)


async def test_create_queues_the_event_and_enforces_uniqueness(
    directory: PostgresUserDirectory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    tag = _tag()
    user = await _create(directory, f"ada-{tag}@example.org", f"ada-{tag}", full_name="Ada")
    async with sessions() as session:
        queued = (
            await session.execute(
                select(outbox.c.subject).where(outbox.c.subject.contains(user.id))
            )
        ).all()
    assert len(queued) == 1
    assert await directory.get(user.id) == user
    assert await directory.email_taken(f"ADA-{tag}@Example.org")
    with pytest.raises(EmailTaken):
        await _create(directory, f"ADA-{tag}@example.org", f"other-{tag}")
    with pytest.raises(UsernameTaken):
        await _create(directory, f"new-{tag}@example.org", f"ada-{tag}")


async def test_update_changes_only_given_fields(directory: PostgresUserDirectory) -> None:
    tag = _tag()
    user = await _create(directory, f"bo-{tag}@example.org", f"bo-{tag}", full_name="Bo")
    updated = await directory.update(
        user.id, UserChanges(role=PlatformRole.TEACHER, avatar_url="/static/avatars/x.png")
    )
    assert updated is not None
    assert updated.platform_role is PlatformRole.TEACHER
    assert updated.full_name == "Bo"
    assert updated.avatar_url == "/static/avatars/x.png"
    cleared = await directory.update(user.id, UserChanges(clear_avatar=True, is_active=False))
    assert cleared is not None
    assert cleared.avatar_url is None
    assert cleared.is_active is False
    other = await _create(directory, f"cy-{tag}@example.org", f"cy-{tag}")
    with pytest.raises(UsernameTaken):
        await directory.update(other.id, UserChanges(username=f"bo-{tag}"))
    assert await directory.update(str(uuid.uuid4()), UserChanges(full_name="x")) is None


async def test_list_and_search_are_case_insensitive_and_escape_wildcards(
    directory: PostgresUserDirectory,
) -> None:
    tag = _tag()
    active = await _create(directory, f"zed-{tag}@example.org", f"zed_{tag}", full_name="Zed Q")
    gone = await _create(directory, f"zoe-{tag}@example.org", f"zoe_{tag}")
    await directory.update(gone.id, UserChanges(is_active=False))
    hits = await directory.search(tag.upper(), 10)
    assert [u.id for u in hits] == [active.id]
    listed = await directory.list(0, 500, tag.upper())
    assert {u.id for u in listed} == {active.id, gone.id}
    assert await directory.search("%", 10) == []
    assert [u.id for u in await directory.search(f"zed_{tag}", 10)] == [active.id]
    assert await directory.search(f"zed%{tag}", 10) == []


async def test_api_keys_round_trip(
    directory: PostgresUserDirectory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    tag = _tag()
    user = await _create(directory, f"key-{tag}@example.org", f"key-{tag}")
    store = PostgresApiKeyStore(sessions)
    service = ApiKeyService(store, PostgresAccountStore(sessions), PostgresAuditLog(sessions))
    issued = await service.create(user, "ci", [Scope.WRITE], 30, "127.0.0.1")
    assert issued.key.scopes == (Scope.READ, Scope.WRITE)
    found, key = await service.authenticate(issued.secret)
    assert found.id == user.id
    listed = await store.list_for(user.id)
    assert [k.id for k in listed] == [issued.key.id]
    assert listed[0].last_used_at is not None
    assert await store.revoke(str(uuid.uuid4()), issued.key.id, datetime.now(UTC)) is False
    assert await store.revoke(user.id, issued.key.id, datetime.now(UTC)) is True
    assert await store.list_for(user.id) == []
    stored = await store.find_by_hash(key.key_hash)
    assert stored is not None
    assert stored.revoked_at is not None
    second = ApiKey(
        id=str(uuid.uuid4()),
        user_id=user.id,
        name="b",
        prefix="cak_x",
        key_hash=uuid.uuid4().hex,
        scopes=(Scope.READ,),
        created_at=datetime.now(UTC),
        expires_at=datetime.now(UTC) + timedelta(days=1),
    )
    await store.add(second)
    await store.revoke_all(user.id, datetime.now(UTC))
    assert await store.list_for(user.id) == []


async def test_audit_reader_pages_newest_first(sessions: async_sessionmaker[AsyncSession]) -> None:
    log, reader = PostgresAuditLog(sessions), PostgresAuditReader(sessions)
    actor = str(uuid.uuid4())
    for n in range(5):
        await log.record("test_event", actor_id=actor, details={"n": n})
        await asyncio.sleep(0.002)
    everything = await reader.entries(10, actor_id=actor)
    assert [e.details["n"] for e in everything] == [4, 3, 2, 1, 0]
    first = await reader.entries(2, actor_id=actor)
    second = await reader.entries(2, before=first[-1].id, actor_id=actor)
    assert [e.details["n"] for e in second] == [2, 1]
    assert await reader.entries(2, before=str(uuid.uuid4()), actor_id=actor) == []
    assert await reader.entries(10, action="no_such_action", actor_id=actor) == []


async def test_revoking_a_users_refresh_tokens(
    directory: PostgresUserDirectory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    tag = _tag()
    user = await _create(directory, f"rt-{tag}@example.org", f"rt-{tag}")
    store = PostgresRefreshTokenStore(sessions)
    now = datetime.now(UTC)
    for session_id in ("s1", "s2"):
        await store.add(
            RefreshToken(
                id=str(uuid.uuid4()),
                session_id=f"{session_id}-{tag}",
                user_id=user.id,
                token_hash=hash_token(new_refresh_secret()),
                issued_at=now,
                expires_at=now + timedelta(days=1),
            )
        )
    assert await store.revoke_user(user.id, now) == [f"s1-{tag}", f"s2-{tag}"]
    assert await store.revoke_user(user.id, now) == []
