"""Room access asked of the gateway over its internal API, with a short bounded cache.

Every message of a room with unscoped policies needs an answer per policy owner, so answers are
kept for a few seconds (``ttl_s``) and at most ``max_entries`` of them (oldest dropped first).
A room's answers are dropped as soon as the gateway announces a change of that room or of its
membership, so the TTL only bounds what the events cannot tell (a platform role changed).
Course answers (asked when a policy is scoped to a course) are kept the same way and dropped
with any room of that course (a course's membership change is announced on each of its rooms).
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
    course_id: str | None = None


class _CourseAnswer(BaseModel):
    allowed: bool
    platform_role: str | None = None
    course_role: str | None = None


#: Cache keys: ("room", room, user) or ("course", course, user).
_Key = tuple[str, str, str]


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
        self._cache: OrderedDict[_Key, tuple[float, Access]] = OrderedDict()
        #: The course of each room asked about, so a room's change also drops its course answers.
        self._course_of: dict[str, str] = {}
        self._http = httpx.AsyncClient(base_url=base_url, transport=transport, timeout=timeout_s)

    async def check(self, room_id: str, user_id: str) -> Access:
        """The cached answer while fresh, else the gateway's (raises ``GatewayUnavailable``)."""
        key = ("room", room_id, user_id)
        return self._cached(key) or self._keep(key, await self._ask(room_id, user_id))

    async def check_course(self, course_id: str, user_id: str) -> Access:
        """Like :meth:`check`, for the course (the gateway's course read rule)."""
        key = ("course", course_id, user_id)
        return self._cached(key) or self._keep(key, await self._ask_course(course_id, user_id))

    def _cached(self, key: _Key) -> Access | None:
        cached = self._cache.get(key)
        if cached is not None and cached[0] > self._clock():
            return cached[1]
        return None

    def _keep(self, key: _Key, answer: Access) -> Access:
        self._cache[key] = (self._clock() + self._ttl_s, answer)
        self._cache.move_to_end(key)
        while len(self._cache) > self._max:
            self._cache.popitem(last=False)
        return answer

    def invalidate(self, room_id: str) -> None:
        """Drop every cached answer about ``room_id`` and about its course (when known)."""
        course = self._course_of.get(room_id)
        stale = {("room", room_id)} | ({("course", course)} if course is not None else set())
        for key in [k for k in self._cache if k[:2] in stale]:
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
        if answer.course_id is not None:
            if len(self._course_of) >= self._max:
                self._course_of.clear()  # only an invalidation hint: rebuilt by later answers
            self._course_of[room_id] = answer.course_id
        return Access(answer.allowed, answer.platform_role, answer.room_role)

    async def _ask_course(self, course_id: str, user_id: str) -> Access:
        path = (
            f"/internal/v1/access/courses/{quote(course_id, safe='')}"
            f"/users/{quote(user_id, safe='')}"
        )
        try:
            response = await self._http.get(path, headers={HEADER: self._token()})
            response.raise_for_status()
            answer = _CourseAnswer.model_validate_json(response.content)
        except (httpx.HTTPError, ValidationError) as exc:
            raise GatewayUnavailable(
                f"Could not ask the gateway about course access: {exc}"
            ) from exc
        return Access(answer.allowed, answer.platform_role, answer.course_role)

    def _token(self) -> str:
        identity = InternalIdentity(user_id="service:trigger", platform_role=SERVICE_ROLE)
        return sign_identity(self._secret, identity, audience=GATEWAY_AUDIENCE)

    async def aclose(self) -> None:
        """Release the connection pool."""
        await self._http.aclose()
