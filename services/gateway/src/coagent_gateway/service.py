"""Gateway use cases available at this stage: first-start bootstrap and fleet health."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from coagent_contracts.gateway import UserCreatedData, UserCreatedV1
from coagent_gateway.domain import AdminBootstrap, PlatformRole, admin_identity, admin_password
from coagent_gateway.ports import FleetProbe, PasswordHasher, UserStore
from coagent_kit.health import Readiness

PRODUCER = "gateway"


class GatewayService:
    """Identity owner and the fleet's front door."""

    def __init__(self, fleet: FleetProbe, readiness: Readiness) -> None:
        self._fleet = fleet
        self._readiness = readiness

    async def fleet_health(self) -> tuple[bool, dict[str, object]]:
        """(ready, body) for ``GET /api/v1/healthz``."""
        services = {PRODUCER: {"status": "ok"}, **await self._fleet.services()}
        dependencies: Mapping[str, str] = await self._readiness.report()
        ready = all(s.get("status") == "ok" for s in services.values()) and all(
            v == "ok" for v in dependencies.values()
        )
        body: dict[str, object] = {
            "status": "ok" if ready else "unavailable",
            "services": services,
            "dependencies": dict(dependencies),
        }
        return ready, body


async def ensure_super_admin(
    users: UserStore, hasher: PasswordHasher, email: str, username: str | None, password: str | None
) -> AdminBootstrap:
    """Create the first super admin unless one exists; generate a password if none is given."""
    existing = await users.find_super_admin()
    if existing is not None:
        return AdminBootstrap(existing, created=False)
    email, name = admin_identity(email, username)
    secret, generated = admin_password(password)
    user_id, role = str(uuid.uuid4()), PlatformRole.SUPER_ADMIN
    event = UserCreatedV1(
        producer=PRODUCER,
        data=UserCreatedData(user_id=user_id, email=email, username=name, platform_role=role.value),
    )
    user = await users.create_user(email, name, hasher.hash(secret), role, event)
    return AdminBootstrap(user, created=True, generated_password=secret if generated else None)
