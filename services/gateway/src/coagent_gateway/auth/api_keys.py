"""Personal API keys for programs: shown once, stored hashed, scoped, expiring, last use kept."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol

from coagent_gateway.auth.domain import InvalidToken, hash_token
from coagent_gateway.auth.ports import AccountStore, AuditLog
from coagent_gateway.domain import User
from coagent_kit.errors import Forbidden, NotFound, Unprocessable

KEY_PREFIX = "cak_"
#: Recording every use would write on every request; a minute's resolution is enough.
LAST_USED_RESOLUTION = timedelta(seconds=60)
MAX_KEYS_PER_USER = 50
MAX_LIFETIME = timedelta(days=366)
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Scope(StrEnum):
    READ = "read"
    WRITE = "write"


class InsufficientScope(Forbidden):
    code = "insufficient_scope"


class TooManyKeys(Unprocessable):
    code = "too_many_api_keys"


@dataclass(frozen=True)
class ApiKey:
    """A stored key: its hash and what it may do, never the key itself."""

    id: str
    user_id: str
    name: str
    prefix: str
    key_hash: str
    scopes: tuple[Scope, ...]
    created_at: datetime
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None

    def usable(self, now: datetime) -> bool:
        """Neither revoked nor expired."""
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)

    def allows(self, method: str) -> bool:
        """Whether an HTTP ``method`` is within the key's scopes (writes need ``write``)."""
        return method.upper() in READ_METHODS or Scope.WRITE in self.scopes

    @property
    def masked(self) -> str:
        """What a listing shows: enough to recognise the key, never enough to use it."""
        return f"{self.prefix}…"


@dataclass(frozen=True)
class IssuedKey:
    """A new key with its plain value: returned once, at creation."""

    key: ApiKey
    secret: str


def looks_like_api_key(value: str) -> bool:
    """Whether a credential is an API key rather than a session token."""
    return value.startswith(KEY_PREFIX)


class ApiKeyStore(Protocol):
    """API keys by id and by hash."""

    async def add(self, key: ApiKey) -> None:
        """Store a new key."""
        ...

    async def find_by_hash(self, key_hash: str) -> ApiKey | None:
        """The key with this hash, whatever its state."""
        ...

    async def list_for(self, user_id: str) -> Sequence[ApiKey]:
        """A user's keys that are not revoked, newest first."""
        ...

    async def revoke(self, user_id: str, key_id: str, now: datetime) -> bool:
        """Revoke one of ``user_id``'s keys; False if there is no such live key."""
        ...

    async def revoke_all(self, user_id: str, now: datetime) -> None:
        """Revoke every key of a user (the account was deactivated)."""
        ...

    async def touch(self, key_id: str, now: datetime) -> None:
        """Record a use."""
        ...


class ApiKeyService:
    """Creates, lists, revokes and checks personal API keys."""

    def __init__(self, store: ApiKeyStore, accounts: AccountStore, audit: AuditLog) -> None:
        self._store = store
        self._accounts = accounts
        self._audit = audit

    async def create(
        self,
        user: User,
        name: str,
        scopes: Sequence[Scope],
        expires_in_days: int | None,
        ip: str | None,
    ) -> IssuedKey:
        """Mint a key for ``user``; the plain value is in the result and nowhere else."""
        if len(await self._store.list_for(user.id)) >= MAX_KEYS_PER_USER:
            raise TooManyKeys(f"At most {MAX_KEYS_PER_USER} API keys per user")
        now = datetime.now(UTC)
        lifetime = timedelta(days=expires_in_days) if expires_in_days else None
        if lifetime is not None and lifetime > MAX_LIFETIME:
            raise Unprocessable("An API key lives at most 366 days", code="expiry_too_long")
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        key = ApiKey(
            id=str(uuid.uuid4()),
            user_id=user.id,
            name=name,
            prefix=secret[:10],
            key_hash=hash_token(secret),
            scopes=tuple(sorted(set(scopes) | {Scope.READ})),
            created_at=now,
            expires_at=now + lifetime if lifetime else None,
        )
        await self._store.add(key)
        await self._audit.record(
            "api_key_created",
            actor_id=user.id,
            subject_id=user.id,
            ip=ip,
            details=_details(key),
        )
        return IssuedKey(key, secret)

    async def list(self, user: User) -> Sequence[ApiKey]:
        """The caller's live keys (masked by the schema)."""
        return await self._store.list_for(user.id)

    async def revoke(self, user: User, key_id: str, ip: str | None) -> None:
        """Revoke one of the caller's keys; 404 for someone else's (no probing)."""
        if not await self._store.revoke(user.id, key_id, datetime.now(UTC)):
            raise NotFound("API key not found", code="api_key_not_found")
        await self._audit.record(
            "api_key_revoked", actor_id=user.id, subject_id=user.id, ip=ip, details={"key": key_id}
        )

    async def authenticate(self, secret: str) -> tuple[User, ApiKey]:
        """The active owner of a usable key; 401 otherwise."""
        now = datetime.now(UTC)
        key = await self._store.find_by_hash(hash_token(secret))
        if key is None or not key.usable(now):
            raise InvalidToken("Invalid, expired or revoked API key", code="api_key_invalid")
        account = await self._accounts.get(key.user_id)
        if account is None or not account.user.is_active:
            raise InvalidToken("User not found or inactive")
        if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
            await self._store.touch(key.id, now)
        return account.user, key


def _details(key: ApiKey) -> Mapping[str, object]:
    expires = key.expires_at.isoformat() if key.expires_at else None
    return {"key": key.id, "name": key.name, "scopes": list(key.scopes), "expires_at": expires}
