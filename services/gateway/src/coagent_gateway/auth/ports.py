"""What authentication needs from storage, Redis and the clock."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Protocol

from coagent_gateway.auth.domain import Account, RefreshToken


class AccountStore(Protocol):
    """Users as login sees them."""

    async def find_by_login(self, login: str) -> Account | None:
        """The account whose email (case-insensitive) or username is ``login``."""
        ...

    async def get(self, user_id: str) -> Account | None:
        """The account with id ``user_id``."""
        ...

    async def set_password_hash(self, user_id: str, password_hash: str) -> None:
        """Replace the stored hash (rehash on login when parameters changed)."""
        ...


class RefreshTokenStore(Protocol):
    """Refresh tokens by hash; ``consume`` is atomic so one token rotates once."""

    async def add(self, token: RefreshToken) -> None:
        """Store a newly issued token."""
        ...

    async def find(self, token_hash: str) -> RefreshToken | None:
        """The token with this hash, whatever its state."""
        ...

    async def consume(self, token_hash: str, now: datetime) -> RefreshToken | None:
        """Mark a usable token used and return it; None if it was not usable."""
        ...

    async def revoke_session(self, session_id: str, now: datetime) -> None:
        """Revoke every token of a session (logout, reuse detected)."""
        ...

    async def revoke_user(self, user_id: str, now: datetime) -> list[str]:
        """Revoke every live token of a user; the ids of the sessions that had one."""
        ...


class SessionRevocations(Protocol):
    """Sessions whose outstanding access tokens must stop working before they expire."""

    async def revoke(self, session_id: str, ttl_s: int) -> None:
        """Remember ``session_id`` as revoked for ``ttl_s`` seconds (an access token's life)."""
        ...

    async def is_revoked(self, session_id: str) -> bool:
        """True if the session was revoked."""
        ...


class LoginThrottle(Protocol):
    """Counts login failures per key in a fixed window."""

    async def retry_after(self, keys: Mapping[str, int]) -> int | None:
        """Seconds to wait if any key (→ its limit) is over its limit, else None."""
        ...

    async def record_failure(self, keys: Mapping[str, int]) -> None:
        """Count one failed attempt against every key."""
        ...

    async def clear(self, key: str) -> None:
        """Forget a key's failures (after a successful login)."""
        ...


class AuditLog(Protocol):
    """Security-relevant events: who, what, when, from where."""

    async def record(
        self,
        action: str,
        *,
        actor_id: str | None,
        subject_id: str | None = None,
        ip: str | None = None,
        details: Mapping[str, object] | None = None,
    ) -> None:
        """Append one entry."""
        ...


class PasswordHasher(Protocol):
    """Slow, salted password hashing."""

    def hash(self, password: str) -> str:
        """A new hash of ``password``."""
        ...

    def verify(self, password_hash: str, password: str) -> bool:
        """True if ``password`` matches ``password_hash``."""
        ...

    def needs_rehash(self, password_hash: str) -> bool:
        """True if the hash was made with outdated parameters."""
        ...
