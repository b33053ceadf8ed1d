"""PostgreSQL stores of the auth feature: accounts, refresh tokens and the audit log."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from coagent_gateway.adapters.postgres import audit_log, refresh_tokens, users
from coagent_gateway.auth.domain import Account, RefreshToken
from coagent_gateway.domain import PlatformRole, User


def user_from_row(row: Any) -> User:
    """A domain user from a ``users`` row."""
    return User(
        id=row["id"],
        email=row["email"],
        username=row["username"],
        platform_role=PlatformRole(row["platform_role"]),
        full_name=row["full_name"],
        is_active=row["is_active"],
        avatar_url=row["avatar_url"],
    )


class PostgresAccountStore:
    """Users with their password hashes."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def find_by_login(self, login: str) -> Account | None:
        condition = or_(func.lower(users.c.email) == login.lower(), users.c.username == login)
        return await self._one(select(users).where(condition).limit(1))

    async def get(self, user_id: str) -> Account | None:
        return await self._one(select(users).where(users.c.id == user_id))

    async def _one(self, statement: Any) -> Account | None:
        async with self._sessions() as session:
            row = (await session.execute(statement)).mappings().first()
        if row is None:
            return None
        return Account(user_from_row(row), row["hashed_password"])

    async def set_password_hash(self, user_id: str, password_hash: str) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(users).where(users.c.id == user_id).values(hashed_password=password_hash)
            )


class PostgresRefreshTokenStore:
    """Refresh tokens; ``consume`` is one conditional UPDATE, so two callers cannot both win."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def add(self, token: RefreshToken) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(refresh_tokens.insert().values(**_row(token)))

    async def find(self, token_hash: str) -> RefreshToken | None:
        async with self._sessions() as session:
            row = (
                (
                    await session.execute(
                        select(refresh_tokens).where(refresh_tokens.c.token_hash == token_hash)
                    )
                )
                .mappings()
                .first()
            )
        return RefreshToken(**row) if row is not None else None

    async def consume(self, token_hash: str, now: datetime) -> RefreshToken | None:
        t = refresh_tokens.c
        async with self._sessions() as session, session.begin():
            row = (
                (
                    await session.execute(
                        update(refresh_tokens)
                        .where(
                            t.token_hash == token_hash,
                            t.used_at.is_(None),
                            t.revoked_at.is_(None),
                            t.expires_at > now,
                        )
                        .values(used_at=now)
                        .returning(*refresh_tokens.c)
                    )
                )
                .mappings()
                .first()
            )
        return RefreshToken(**row) if row is not None else None

    async def revoke_session(self, session_id: str, now: datetime) -> None:
        t = refresh_tokens.c
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(refresh_tokens)
                .where(t.session_id == session_id, t.revoked_at.is_(None))
                .values(revoked_at=now)
            )

    async def revoke_user(self, user_id: str, now: datetime) -> list[str]:
        t = refresh_tokens.c
        async with self._sessions() as session, session.begin():
            rows = await session.execute(
                update(refresh_tokens)
                .where(t.user_id == user_id, t.revoked_at.is_(None))
                .values(revoked_at=now)
                .returning(t.session_id)
            )
            return sorted({row.session_id for row in rows})


def _row(token: RefreshToken) -> dict[str, object]:
    return {
        "id": token.id,
        "session_id": token.session_id,
        "user_id": token.user_id,
        "token_hash": token.token_hash,
        "issued_at": token.issued_at,
        "expires_at": token.expires_at,
        "used_at": token.used_at,
        "revoked_at": token.revoked_at,
        "impersonator_id": token.impersonator_id,
    }


class PostgresAuditLog:
    """The append-only audit log table."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def record(
        self,
        action: str,
        *,
        actor_id: str | None,
        subject_id: str | None = None,
        ip: str | None = None,
        details: Mapping[str, object] | None = None,
    ) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(
                audit_log.insert().values(
                    id=str(uuid.uuid4()),
                    action=action,
                    actor_id=actor_id,
                    subject_id=subject_id,
                    ip=ip,
                    details=dict(details or {}),
                )
            )
