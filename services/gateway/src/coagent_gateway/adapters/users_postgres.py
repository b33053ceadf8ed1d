"""PostgreSQL stores of the users feature: the directory, API keys and the audit log reader."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from coagent_contracts.gateway import UserCreatedV1, UserForgottenV1
from coagent_gateway.adapters.auth_postgres import user_from_row
from coagent_gateway.adapters.postgres import api_keys, audit_log, outbox, users
from coagent_gateway.auth.api_keys import ApiKey, Scope
from coagent_gateway.domain import User
from coagent_gateway.users.domain import (
    AuditEntry,
    EmailTaken,
    Forgotten,
    NewUser,
    UserChanges,
    UsernameTaken,
    like_pattern,
)
from coagent_kit.outbox import add_event

Sessions = async_sessionmaker[AsyncSession]


def _contains(text: str) -> Any:
    pattern = like_pattern(text)
    return or_(
        func.lower(users.c.email).like(pattern, escape="\\"),
        func.lower(users.c.username).like(pattern, escape="\\"),
        func.lower(func.coalesce(users.c.full_name, "")).like(pattern, escape="\\"),
    )


class PostgresUserDirectory:
    """The ``users`` table; creation commits with its outbox event."""

    def __init__(self, sessions: Sessions, on_commit: Callable[[], None]) -> None:
        self._sessions = sessions
        self._on_commit = on_commit

    async def _all(self, statement: Any) -> list[User]:
        async with self._sessions() as session:
            rows = (await session.execute(statement)).mappings().all()
        return [user_from_row(r) for r in rows]

    async def get(self, user_id: str) -> User | None:
        found = await self._all(select(users).where(users.c.id == user_id))
        return found[0] if found else None

    async def list(self, skip: int, limit: int, search: str | None) -> Sequence[User]:
        statement = select(users).order_by(users.c.created_at, users.c.id)
        if search is not None:
            statement = statement.where(_contains(search))
        return await self._all(statement.offset(skip).limit(limit))

    async def search(self, text: str, limit: int) -> Sequence[User]:
        statement = (
            select(users)
            .where(users.c.is_active.is_(True), _contains(text))
            .order_by(users.c.username)
            .limit(limit)
        )
        return await self._all(statement)

    async def create(self, new: NewUser, event: UserCreatedV1) -> User:
        user_id = event.data.user_id
        try:
            async with self._sessions() as session, session.begin():
                await session.execute(
                    users.insert().values(
                        id=user_id,
                        email=new.email,
                        username=new.username,
                        hashed_password=new.password_hash,
                        platform_role=new.role.value,
                        full_name=new.full_name,
                    )
                )
                await add_event(session, outbox, event)
        except IntegrityError as exc:
            if await self.username_taken(new.username):
                raise UsernameTaken("Username already taken") from exc
            raise EmailTaken("A user with this email already exists") from exc
        self._on_commit()
        return User(user_id, new.email, new.username, new.role, new.full_name)

    async def update(self, user_id: str, changes: UserChanges) -> User | None:
        values: dict[str, object] = {
            "full_name": changes.full_name,
            "username": changes.username,
            "hashed_password": changes.password_hash,
            "platform_role": changes.role.value if changes.role else None,
            "is_active": changes.is_active,
            "avatar_url": changes.avatar_url,
        }
        values = {k: v for k, v in values.items() if v is not None}
        if changes.clear_avatar:
            values["avatar_url"] = None
        if values:
            try:
                async with self._sessions() as session, session.begin():
                    await session.execute(
                        update(users).where(users.c.id == user_id).values(**values)
                    )
            except IntegrityError as exc:
                raise UsernameTaken("Username already taken") from exc
        return await self.get(user_id)

    async def forget(self, user_id: str, profile: Forgotten, event: UserForgottenV1) -> User | None:
        async with self._sessions() as session, session.begin():
            changed = await session.execute(
                update(users)
                .where(users.c.id == user_id)
                .values(
                    is_active=False,
                    email=profile.email,
                    username=profile.username,
                    hashed_password=profile.password_hash,
                    full_name=None,
                    avatar_url=None,
                )
                .returning(users.c.id)
            )
            if changed.first() is None:
                return None
            await add_event(session, outbox, event)
        self._on_commit()
        return await self.get(user_id)

    async def username_taken(self, username: str, except_id: str | None = None) -> bool:
        condition = users.c.username == username
        if except_id is not None:
            condition = and_(condition, users.c.id != except_id)
        return bool(await self._all(select(users).where(condition).limit(1)))

    async def email_taken(self, email: str) -> bool:
        condition = func.lower(users.c.email) == email.lower()
        return bool(await self._all(select(users).where(condition).limit(1)))


def _key(row: Any) -> ApiKey:
    return ApiKey(
        id=row["id"],
        user_id=row["user_id"],
        name=row["name"],
        prefix=row["prefix"],
        key_hash=row["key_hash"],
        scopes=tuple(Scope(s) for s in row["scopes"]),
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        last_used_at=row["last_used_at"],
        revoked_at=row["revoked_at"],
    )


class PostgresApiKeyStore:
    """The ``api_keys`` table."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    async def add(self, key: ApiKey) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(
                api_keys.insert().values(
                    id=key.id,
                    user_id=key.user_id,
                    name=key.name,
                    prefix=key.prefix,
                    key_hash=key.key_hash,
                    scopes=[s.value for s in key.scopes],
                    created_at=key.created_at,
                    expires_at=key.expires_at,
                    last_used_at=key.last_used_at,
                    revoked_at=key.revoked_at,
                )
            )

    async def _all(self, statement: Any) -> list[ApiKey]:
        async with self._sessions() as session:
            rows = (await session.execute(statement)).mappings().all()
        return [_key(r) for r in rows]

    async def find_by_hash(self, key_hash: str) -> ApiKey | None:
        found = await self._all(select(api_keys).where(api_keys.c.key_hash == key_hash))
        return found[0] if found else None

    async def list_for(self, user_id: str) -> Sequence[ApiKey]:
        k = api_keys.c
        return await self._all(
            select(api_keys)
            .where(k.user_id == user_id, k.revoked_at.is_(None))
            .order_by(k.created_at.desc())
        )

    async def revoke(self, user_id: str, key_id: str, now: datetime) -> bool:
        k = api_keys.c
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                update(api_keys)
                .where(k.id == key_id, k.user_id == user_id, k.revoked_at.is_(None))
                .values(revoked_at=now)
                .returning(k.id)
            )
            return result.first() is not None

    async def revoke_all(self, user_id: str, now: datetime) -> None:
        k = api_keys.c
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(api_keys)
                .where(k.user_id == user_id, k.revoked_at.is_(None))
                .values(revoked_at=now)
            )

    async def touch(self, key_id: str, now: datetime) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(api_keys).where(api_keys.c.id == key_id).values(last_used_at=now)
            )


class PostgresAuditReader:
    """The ``audit_log`` table, newest first, with an entry id as the page cursor."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    async def entries(
        self,
        limit: int,
        before: str | None = None,
        action: str | None = None,
        actor_id: str | None = None,
    ) -> Sequence[AuditEntry]:
        a = audit_log.c
        statement = select(audit_log).order_by(a.at.desc(), a.id.desc()).limit(limit)
        if before is not None:
            # (at, id) strictly after the cursor entry; an unknown cursor gives an empty page.
            anchor_at = select(a.at).where(a.id == before).scalar_subquery()
            anchor_id = select(a.id).where(a.id == before).scalar_subquery()
            statement = statement.where(tuple_(a.at, a.id) < tuple_(anchor_at, anchor_id))
        if action is not None:
            statement = statement.where(a.action == action)
        if actor_id is not None:
            statement = statement.where(a.actor_id == actor_id)
        async with self._sessions() as session:
            rows = (await session.execute(statement)).mappings().all()
        return [
            AuditEntry(
                id=r["id"],
                at=r["at"],
                action=r["action"],
                actor_id=r["actor_id"],
                subject_id=r["subject_id"],
                ip=r["ip"],
                details=dict(r["details"]),
            )
            for r in rows
        ]
