"""In-memory implementations of the gateway's ports (unit tests)."""

from __future__ import annotations

from collections.abc import Mapping

from coagent_contracts.gateway import UserCreatedV1
from coagent_gateway.domain import PlatformRole, User


class MemoryUserStore:
    """Users and the events their creation queued."""

    def __init__(self) -> None:
        self.users: list[User] = []
        self.hashes: dict[str, str] = {}
        self.published: list[UserCreatedV1] = []

    async def find_super_admin(self) -> User | None:
        return next((u for u in self.users if u.platform_role == PlatformRole.SUPER_ADMIN), None)

    async def create_user(
        self,
        email: str,
        username: str,
        password_hash: str,
        role: PlatformRole,
        event: UserCreatedV1,
    ) -> User:
        user = User(event.data.user_id, email, username, role)
        self.users.append(user)
        self.hashes[user.id] = password_hash
        self.published.append(event)
        return user


class PlainHasher:
    """Reversible 'hash' for tests that need to see what was stored."""

    def hash(self, password: str) -> str:
        return f"plain:{password}"


class StaticFleetProbe:
    """A fleet whose readiness a test sets directly."""

    def __init__(self, statuses: Mapping[str, str]) -> None:
        self.statuses = dict(statuses)

    async def services(self) -> dict[str, dict[str, object]]:
        return {name: {"status": status} for name, status in self.statuses.items()}
