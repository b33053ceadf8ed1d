"""In-memory implementations of the auth ports (unit tests)."""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime

from coagent_gateway.adapters.memory import PlainHasher
from coagent_gateway.auth.domain import Account, RefreshToken
from coagent_gateway.domain import User


class MemoryAccountStore:
    """Accounts in a dict; passwords use whatever hasher the test chose."""

    def __init__(self) -> None:
        self.accounts: dict[str, Account] = {}

    def add(self, user: User, password_hash: str | None) -> None:
        """Register an account (test set-up)."""
        self.accounts[user.id] = Account(user, password_hash)

    async def find_by_login(self, login: str) -> Account | None:
        for account in self.accounts.values():
            if account.user.email.lower() == login.lower() or account.user.username == login:
                return account
        return None

    async def get(self, user_id: str) -> Account | None:
        return self.accounts.get(user_id)

    async def set_password_hash(self, user_id: str, password_hash: str) -> None:
        self.accounts[user_id] = dataclasses.replace(
            self.accounts[user_id], password_hash=password_hash
        )


class MemoryRefreshTokenStore:
    """Refresh tokens by hash."""

    def __init__(self) -> None:
        self.tokens: dict[str, RefreshToken] = {}

    async def add(self, token: RefreshToken) -> None:
        self.tokens[token.token_hash] = token

    async def find(self, token_hash: str) -> RefreshToken | None:
        return self.tokens.get(token_hash)

    async def consume(self, token_hash: str, now: datetime) -> RefreshToken | None:
        token = self.tokens.get(token_hash)
        if token is None or not token.usable(now):
            return None
        self.tokens[token_hash] = dataclasses.replace(token, used_at=now)
        return self.tokens[token_hash]

    async def revoke_session(self, session_id: str, now: datetime) -> None:
        for digest, token in list(self.tokens.items()):
            if token.session_id == session_id and token.revoked_at is None:
                self.tokens[digest] = dataclasses.replace(token, revoked_at=now)

    async def revoke_user(self, user_id: str, now: datetime) -> list[str]:
        sessions: set[str] = set()
        for digest, token in list(self.tokens.items()):
            if token.user_id == user_id and token.revoked_at is None:
                self.tokens[digest] = dataclasses.replace(token, revoked_at=now)
                sessions.add(token.session_id)
        return sorted(sessions)


class MemorySessionRevocations:
    """Revoked sessions with expiry times."""

    def __init__(self) -> None:
        self.revoked: dict[str, float] = {}

    async def revoke(self, session_id: str, ttl_s: int) -> None:
        self.revoked[session_id] = time.monotonic() + ttl_s

    async def is_revoked(self, session_id: str) -> bool:
        return self.revoked.get(session_id, 0.0) > time.monotonic()


class MemoryLoginThrottle:
    """Failure counters without expiry (tests reset by building a new one)."""

    def __init__(self, window_s: int = 900) -> None:
        self.failures: dict[str, int] = {}
        self.window_s = window_s

    async def retry_after(self, keys: Mapping[str, int]) -> int | None:
        over = any(self.failures.get(k, 0) >= limit for k, limit in keys.items())
        return self.window_s if over else None

    async def record_failure(self, keys: Mapping[str, int]) -> None:
        for key in keys:
            self.failures[key] = self.failures.get(key, 0) + 1

    async def clear(self, key: str) -> None:
        self.failures.pop(key, None)


class MemoryAuditLog:
    """Audit entries as dicts."""

    def __init__(self) -> None:
        self.entries: list[dict[str, object]] = []

    async def record(
        self,
        action: str,
        *,
        actor_id: str | None,
        subject_id: str | None = None,
        ip: str | None = None,
        details: Mapping[str, object] | None = None,
    ) -> None:
        self.entries.append(
            {
                "id": str(uuid.uuid4()),
                "at": datetime.now(UTC),
                "action": action,
                "actor_id": actor_id,
                "subject_id": subject_id,
                "ip": ip,
                "details": dict(details or {}),
            }
        )

    def actions(self) -> list[object]:
        """The recorded actions in order."""
        return [e["action"] for e in self.entries]


class CheckingPlainHasher(PlainHasher):
    """The readable test hasher, able to verify too."""

    def verify(self, password_hash: str, password: str) -> bool:
        return password_hash == self.hash(password)

    def needs_rehash(self, password_hash: str) -> bool:
        return False
