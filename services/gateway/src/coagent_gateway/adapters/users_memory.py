"""In-memory implementations of the users feature's ports (unit tests)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import TypeVar, cast

from coagent_contracts.gateway import UserCreatedV1, UserForgottenV1
from coagent_gateway.adapters.auth_memory import MemoryAccountStore, MemoryAuditLog
from coagent_gateway.auth.api_keys import ApiKey
from coagent_gateway.auth.domain import Account
from coagent_gateway.domain import User
from coagent_gateway.users.domain import (
    AuditEntry,
    EmailTaken,
    Forgotten,
    NewUser,
    UserChanges,
    UsernameTaken,
)


def _matches(user: User, text: str) -> bool:
    needle = text.lower()
    fields = (user.email, user.username, user.full_name or "")
    return any(needle in f.lower() for f in fields)


T = TypeVar("T")


def _pick(new: T | None, old: T) -> T:
    return old if new is None else new


class MemoryUserDirectory:
    """The directory over a :class:`MemoryAccountStore`, so login sees every change."""

    def __init__(self, accounts: MemoryAccountStore) -> None:
        self._accounts = accounts
        self.published: list[UserCreatedV1 | UserForgottenV1] = []

    def _users(self) -> list[User]:
        return [a.user for a in self._accounts.accounts.values()]

    async def get(self, user_id: str) -> User | None:
        account = self._accounts.accounts.get(user_id)
        return account.user if account else None

    async def list(self, skip: int, limit: int, search: str | None) -> Sequence[User]:
        users = [u for u in self._users() if search is None or _matches(u, search)]
        return users[skip : skip + limit]

    async def search(self, text: str, limit: int) -> Sequence[User]:
        hits = [u for u in self._users() if u.is_active and _matches(u, text)]
        return sorted(hits, key=lambda u: u.username)[:limit]

    async def create(self, new: NewUser, event: UserCreatedV1) -> User:
        if await self.email_taken(new.email):
            raise EmailTaken("A user with this email already exists")
        if await self.username_taken(new.username):
            raise UsernameTaken("Username already taken")
        user = User(event.data.user_id, new.email, new.username, new.role, new.full_name)
        self._accounts.add(user, new.password_hash)
        self.published.append(event)
        return user

    async def update(self, user_id: str, changes: UserChanges) -> User | None:
        account = self._accounts.accounts.get(user_id)
        if account is None:
            return None
        if changes.username and await self.username_taken(changes.username, except_id=user_id):
            raise UsernameTaken("Username already taken")
        user = account.user
        user = dataclasses.replace(
            user,
            full_name=_pick(changes.full_name, user.full_name),
            username=_pick(changes.username, user.username),
            platform_role=_pick(changes.role, user.platform_role),
            is_active=_pick(changes.is_active, user.is_active),
            avatar_url=_pick(changes.avatar_url, user.avatar_url),
        )
        if changes.clear_avatar:
            user = dataclasses.replace(user, avatar_url=None)
        password_hash = changes.password_hash or account.password_hash
        self._accounts.accounts[user_id] = Account(user, password_hash)
        return user

    async def forget(self, user_id: str, profile: Forgotten, event: UserForgottenV1) -> User | None:
        account = self._accounts.accounts.get(user_id)
        if account is None:
            return None
        user = dataclasses.replace(
            account.user,
            email=profile.email,
            username=profile.username,
            full_name=None,
            avatar_url=None,
            is_active=False,
        )
        self._accounts.accounts[user_id] = Account(user, profile.password_hash)
        self.published.append(event)
        return user

    async def username_taken(self, username: str, except_id: str | None = None) -> bool:
        return any(u.username == username and u.id != except_id for u in self._users())

    async def email_taken(self, email: str) -> bool:
        return any(u.email.lower() == email.lower() for u in self._users())


class MemoryApiKeyStore:
    """API keys by id."""

    def __init__(self) -> None:
        self.keys: dict[str, ApiKey] = {}

    async def add(self, key: ApiKey) -> None:
        self.keys[key.id] = key

    async def find_by_hash(self, key_hash: str) -> ApiKey | None:
        return next((k for k in self.keys.values() if k.key_hash == key_hash), None)

    async def list_for(self, user_id: str) -> Sequence[ApiKey]:
        live = [k for k in self.keys.values() if k.user_id == user_id and k.revoked_at is None]
        return sorted(live, key=lambda k: k.created_at, reverse=True)

    async def revoke(self, user_id: str, key_id: str, now: datetime) -> bool:
        key = self.keys.get(key_id)
        if key is None or key.user_id != user_id or key.revoked_at is not None:
            return False
        self.keys[key_id] = dataclasses.replace(key, revoked_at=now)
        return True

    async def revoke_all(self, user_id: str, now: datetime) -> None:
        for key in list(self.keys.values()):
            if key.user_id == user_id and key.revoked_at is None:
                self.keys[key.id] = dataclasses.replace(key, revoked_at=now)

    async def touch(self, key_id: str, now: datetime) -> None:
        self.keys[key_id] = dataclasses.replace(self.keys[key_id], last_used_at=now)


class MemoryAuditReader:
    """Reads a :class:`MemoryAuditLog`, newest first."""

    def __init__(self, log: MemoryAuditLog) -> None:
        self._log = log

    async def entries(
        self,
        limit: int,
        before: str | None = None,
        action: str | None = None,
        actor_id: str | None = None,
    ) -> Sequence[AuditEntry]:
        newest_first = [_entry(e) for e in reversed(self._log.entries)]
        if before is not None:
            ids = [e.id for e in newest_first]
            newest_first = newest_first[ids.index(before) + 1 :] if before in ids else []
        hits = [
            e
            for e in newest_first
            if (action is None or e.action == action)
            and (actor_id is None or e.actor_id == actor_id)
        ]
        return hits[:limit]


def _entry(raw: dict[str, object]) -> AuditEntry:
    return AuditEntry(
        id=str(raw["id"]),
        at=cast(datetime, raw["at"]),
        action=str(raw["action"]),
        actor_id=cast(str | None, raw["actor_id"]),
        subject_id=cast(str | None, raw["subject_id"]),
        ip=cast(str | None, raw["ip"]),
        details=cast(dict[str, object], raw["details"]),
    )
