"""In-memory room projection and a scripted access checker (unit tests)."""

from __future__ import annotations

from coagent_trigger.rooms import Access, GatewayUnavailable, RoomView


class MemoryRoomRepository:
    """Staged rows over the committed ones; newer-wins like the SQL upsert."""

    def __init__(self, committed: dict[str, RoomView]) -> None:
        self._committed = committed
        self.staged: dict[str, RoomView] = {}

    async def get(self, room_id: str) -> RoomView | None:
        return self.staged.get(room_id, self._committed.get(room_id))

    async def ids_in_course(self, course_id: str) -> set[str]:
        merged = {**self._committed, **self.staged}
        return {r.room_id for r in merged.values() if r.course_id == course_id and not r.deleted}

    async def apply(self, room: RoomView) -> bool:
        current = await self.get(room.room_id)
        if current is not None and current.changed_at > room.changed_at:
            return False
        self.staged[room.room_id] = room
        return True


class ScriptedAccess:
    """Answers from tables of allowed (room, user) and (course, user) pairs; records questions.

    ``down`` makes every question fail like an unreachable gateway.
    """

    def __init__(
        self,
        allowed: set[tuple[str, str]] | None = None,
        roles: dict[str, str] | None = None,
        courses: set[tuple[str, str]] | None = None,
    ) -> None:
        self.allowed = set(allowed or ())
        self.roles = dict(roles or {})
        self.courses = set(courses or ())
        self.asked: list[tuple[str, str]] = []
        self.asked_courses: list[tuple[str, str]] = []
        self.invalidated: list[str] = []
        self.down = False

    async def check(self, room_id: str, user_id: str) -> Access:
        self.asked.append((room_id, user_id))
        if self.down:
            raise GatewayUnavailable("the gateway is unreachable")
        if (room_id, user_id) not in self.allowed:
            return Access(allowed=False, platform_role=self.roles.get(user_id))
        return Access(allowed=True, platform_role=self.roles.get(user_id, "student"))

    async def check_course(self, course_id: str, user_id: str) -> Access:
        self.asked_courses.append((course_id, user_id))
        if self.down:
            raise GatewayUnavailable("the gateway is unreachable")
        if (course_id, user_id) not in self.courses:
            return Access(allowed=False, platform_role=self.roles.get(user_id))
        return Access(allowed=True, platform_role=self.roles.get(user_id, "student"))

    def invalidate(self, room_id: str) -> None:
        self.invalidated.append(room_id)
