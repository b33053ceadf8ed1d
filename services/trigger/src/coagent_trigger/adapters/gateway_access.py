"""Room access asked of the gateway over its internal API, with a short bounded cache.

Every message of a room with unscoped policies needs an answer per policy owner, so answers are
kept for a few seconds (``ttl_s``) and at most ``max_entries`` of them (oldest dropped first).
A room's answers are dropped as soon as the gateway announces a change of that room or of its
membership, so the TTL only bounds what the events cannot tell (a platform role changed).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from coagent_kit.auth import HEADER, InternalIdentity, sign_identity
from coagent_trigger.rooms import Access, GatewayUnavailable

#: The gateway's internal routes accept identity tokens for this audience with this role only.
GATEWAY_AUDIENCE = "gateway"
SERVICE_ROLE = "service"


class _Answer(BaseModel):
    allowed: bool
    platform_role: str | None = None
    room_role: str | None = None


class GatewayAccess:
    """:class:`~coagent_trigger.rooms.AccessChecker` over ``GET /internal/v1/access/...``."""

    def __init__(
        self,
        base_url: str,
        secret: str,
        *,
        ttl_s: float = 30.0,
        max_entries: int = 10_000,
        timeout_s: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._secret = secret
        self._ttl_s = ttl_s
        self._max = max_entries
        self._clock = clock
        self._cache: OrderedDict[tuple[str, str], tuple[float, Access]] = OrderedDict()
        self._http = httpx.AsyncClient(base_url=base_url, transport=transport, timeout=timeout_s)

    async def check(self, room_id: str, user_id: str) -> Access:
        """The cached answer while fresh, else the gateway's (raises ``GatewayUnavailable``)."""
        key = (room_id, user_id)
        cached = self._cache.get(key)
        if cached is not None and cached[0] > self._clock():
            return cached[1]
        answer = await self._ask(room_id, user_id)
        self._cache[key] = (self._clock() + self._ttl_s, answer)
        self._cache.move_to_end(key)
        while len(self._cache) > self._max:
            self._cache.popitem(last=False)
        return answer

    def invalidate(self, room_id: str) -> None:
        """Drop every cached answer about ``room_id``."""
        for key in [k for k in self._cache if k[0] == room_id]:
            del self._cache[key]

    async def _ask(self, room_id: str, user_id: str) -> Access:
        path = (
            f"/internal/v1/access/rooms/{quote(room_id, safe='')}/users/{quote(user_id, safe='')}"
        )
        try:
            response = await self._http.get(path, headers={HEADER: self._token()})
            response.raise_for_status()
            answer = _Answer.model_validate_json(response.content)
        except (httpx.HTTPError, ValidationError) as exc:
            raise GatewayUnavailable(f"Could not ask the gateway about room access: {exc}") from exc
        return Access(answer.allowed, answer.platform_role, answer.room_role)

    def _token(self) -> str:
        identity = InternalIdentity(user_id="service:trigger", platform_role=SERVICE_ROLE)
        return sign_identity(self._secret, identity, audience=GATEWAY_AUDIENCE)

    async def aclose(self) -> None:
        """Release the connection pool."""
        await self._http.aclose()
