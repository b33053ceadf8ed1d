"""The memory membership adapters behave like the Postgres ones (checked in integration)."""

from __future__ import annotations

from coagent_contracts.envelope import utc_now
from coagent_contracts.gateway import RoomChangedV1
from coagent_gateway.adapters.membership_memory import (
    MembershipState,
    MemoryCourseStore,
    MemoryRoomStore,
    MemoryUserDirectory,
    now_room,
)
from coagent_gateway.courses.domain import Course, MembershipChange
from coagent_gateway.domain import PlatformRole, User


def _user(name: str) -> User:
    return User(name, f"{name}@Example.org", name, PlatformRole.STUDENT, full_name=name.title())


async def test_directory_matches_emails_case_insensitively() -> None:
    directory = MemoryUserDirectory([_user("ada")])
    found = await directory.find_by_email("ADA@example.ORG")
    assert found is not None
    assert found.id == "ada"
    assert await directory.find_by_email("bob@example.org") is None


async def test_course_membership_lifecycle_and_events() -> None:
    state = MembershipState(directory=MemoryUserDirectory([_user("tess"), _user("stu")]))
    courses, rooms = MemoryCourseStore(state), MemoryRoomStore(state)
    course = await courses.create(Course("c1", "Algebra", None, "tess", utc_now()))
    assert course.owner_name == "Tess"
    await rooms.create(now_room("c1", "r1"))
    await courses.apply(MembershipChange("c1", "stu", "added", "student"))
    assert [m.user_id for m in await courses.members("c1")] == ["tess", "stu"]
    assert [c.id for c in await courses.list_for("stu")] == ["c1"]
    assert await courses.list_for("nobody") == []
    event = state.published[-1]
    assert await rooms.assign("r1", "stu", event) is True
    assert await rooms.assign("r1", "stu", event) is False
    await courses.apply(MembershipChange("c1", "stu", "removed", None))
    assert await courses.role_of("c1", "stu") is None
    room = await rooms.get("r1")
    assert room is not None
    assert room.member_ids == frozenset()
    assert len(state.published) == 3  # added, assigned, removed


async def test_deleting_a_course_removes_rooms_members_and_announcements() -> None:
    state = MembershipState()
    courses, rooms = MemoryCourseStore(state), MemoryRoomStore(state)
    await courses.create(Course("c1", "Algebra", None, "tess", utc_now()))
    await rooms.create(now_room("c1", "r1"))
    assert await courses.delete("c1") is True
    assert await courses.delete("c1") is False
    assert await rooms.get("r1") is None
    (announced,) = [e for e in state.published if isinstance(e, RoomChangedV1)]
    assert (announced.data.room_id, announced.data.deleted) == ("r1", True)
    assert await courses.role_of("c1", "tess") is None
