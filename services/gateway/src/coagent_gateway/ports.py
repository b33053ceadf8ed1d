"""What the gateway needs from the outside world."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from coagent_contracts.gateway import UserCreatedV1
from coagent_gateway.domain import PlatformRole, User


class PasswordHasher(Protocol):
    """One-way password hashing."""

    def hash(self, password: str) -> str:
        """A salted hash of ``password``."""
        ...


class UserStore(Protocol):
    """Users, written in one transaction with the events they cause."""

    async def find_super_admin(self) -> User | None:
        """Any super admin, or None on a fresh installation."""
        ...

    async def create_user(
        self,
        email: str,
        username: str,
        password_hash: str,
        role: PlatformRole,
        event: UserCreatedV1,
    ) -> User:
        """Insert a user and queue ``event`` atomically."""
        ...


class FleetProbe(Protocol):
    """Readiness of the internal services, by name."""

    async def services(self) -> Mapping[str, Mapping[str, object]]:
        """``{service: {"status": "ok" | "unavailable", ...}}``."""
        ...
