"""What the users feature needs from storage."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from coagent_contracts.gateway import UserCreatedV1, UserForgottenV1
from coagent_gateway.domain import User
from coagent_gateway.users.domain import AuditEntry, Forgotten, NewUser, UserChanges


class UserDirectory(Protocol):
    """Users, with case-insensitively unique emails and unique usernames."""

    async def get(self, user_id: str) -> User | None:
        """The user with id ``user_id``."""
        ...

    async def list(self, skip: int, limit: int, search: str | None) -> Sequence[User]:
        """Users ordered by creation, optionally filtered by a case-insensitive substring."""
        ...

    async def search(self, text: str, limit: int) -> Sequence[User]:
        """Active users whose email, username or name contains ``text`` (any case)."""
        ...

    async def create(self, new: NewUser, event: UserCreatedV1) -> User:
        """Insert a user and queue ``event``; EmailTaken / UsernameTaken on conflicts."""
        ...

    async def update(self, user_id: str, changes: UserChanges) -> User | None:
        """Apply ``changes``; None if there is no such user; UsernameTaken on conflicts."""
        ...

    async def forget(self, user_id: str, profile: Forgotten, event: UserForgottenV1) -> User | None:
        """Deactivate and anonymise the user and queue ``event``, all at once; None if absent."""
        ...

    async def username_taken(self, username: str, except_id: str | None = None) -> bool:
        """Whether another user has ``username``."""
        ...

    async def email_taken(self, email: str) -> bool:
        """Whether a user has ``email`` (any case)."""
        ...


class SessionTerminator(Protocol):
    """Ends a user's login sessions."""

    async def end_user_sessions(self, user_id: str) -> None:
        """Revoke every session (refresh chain and access tokens) of ``user_id``."""
        ...


class AvatarStore(Protocol):
    """Where avatar images live; URLs are ``/static/avatars/<name>``."""

    async def save(self, data: bytes, ext: str) -> str:
        """Store an already re-encoded image; its public URL."""
        ...

    async def delete(self, url: str) -> None:
        """Remove the file behind one of our avatar URLs (others are ignored)."""
        ...

    def path_of(self, name: str) -> Path | None:
        """The existing file for a stored avatar name (``<hex>.<ext>``), else None."""
        ...


class AuditReader(Protocol):
    """The audit log, newest first."""

    async def entries(
        self,
        limit: int,
        before: str | None = None,
        action: str | None = None,
        actor_id: str | None = None,
    ) -> Sequence[AuditEntry]:
        """Up to ``limit`` entries older than the entry ``before`` (a cursor), filtered."""
        ...
