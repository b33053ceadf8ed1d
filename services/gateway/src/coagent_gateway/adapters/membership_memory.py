"""In-memory membership adapters (unit tests): courses, rooms, organizations and projects.

The stores share one :class:`MembershipState`, as the Postgres stores share one database, so a
course change sees the course's rooms and the events land in one list.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field

from coagent_contracts.envelope import Event, utc_now
from coagent_gateway.courses.domain import (
    Announcement,
    Course,
    CourseMember,
    MembershipChange,
    membership_events,
)
from coagent_gateway.domain import User
from coagent_gateway.organizations.domain import Organization, Project
from coagent_gateway.rooms.domain import Room, RoomAccess, RoomSettings, room_changed

ROLE_ORDER = {"teacher": 0, "ta": 1, "student": 2}


class MemoryUserDirectory:
    """Users by id; emails match case-insensitively."""

    def __init__(self, users: Iterable[User] = ()) -> None:
        self.users = {u.id: u for u in users}

    def add(self, user: User) -> None:
        self.users[user.id] = user

    async def get(self, user_id: str) -> User | None:
        return self.users.get(user_id)

    async def find_by_email(self, email: str) -> User | None:
        return next((u for u in self.users.values() if u.email.lower() == email.lower()), None)


@dataclass
class MembershipState:
    """Every membership table, plus the events committed with the writes."""

    directory: MemoryUserDirectory = field(default_factory=MemoryUserDirectory)
    courses: dict[str, Course] = field(default_factory=dict)
    course_members: dict[tuple[str, str], str] = field(default_factory=dict)
    announcements: list[Announcement] = field(default_factory=list)
    rooms: dict[str, Room] = field(default_factory=dict)
    published: list[Event] = field(default_factory=list)
    organizations: dict[str, Organization] = field(default_factory=dict)
    organization_members: dict[tuple[str, str], str] = field(default_factory=dict)
    projects: dict[str, Project] = field(default_factory=dict)
    project_members: dict[tuple[str, str], str] = field(default_factory=dict)

    def room_ids(self, course_id: str) -> list[str]:
        return [r.id for r in self.rooms.values() if r.course_id == course_id]


def _with_owner_name(state: MembershipState, course: Course) -> Course:
    owner = state.directory.users.get(course.owner_id or "")
    return dataclasses.replace(course, owner_name=owner.full_name if owner else None)


class MemoryCourseStore:
    """Courses, enrolments and announcements."""

    def __init__(self, state: MembershipState) -> None:
        self.state = state

    def _named(self, course: Course) -> Course:
        return _with_owner_name(self.state, course)

    async def create(self, course: Course) -> Course:
        self.state.courses[course.id] = course
        if course.owner_id:
            self.state.course_members[(course.id, course.owner_id)] = "teacher"
        return self._named(course)

    async def get(self, course_id: str) -> Course | None:
        course = self.state.courses.get(course_id)
        return self._named(course) if course else None

    async def list_for(self, member_id: str | None) -> list[Course]:
        found = [
            self._named(c)
            for c in self.state.courses.values()
            if member_id is None
            or c.owner_id == member_id
            or (c.id, member_id) in self.state.course_members
        ]
        return sorted(found, key=lambda c: c.created_at, reverse=True)

    async def update(self, course_id: str, title: str, description: str | None) -> Course | None:
        course = self.state.courses.get(course_id)
        if course is None:
            return None
        self.state.courses[course_id] = dataclasses.replace(
            course, title=title, description=description
        )
        return await self.get(course_id)

    async def delete(self, course_id: str) -> bool:
        if self.state.courses.pop(course_id, None) is None:
            return False
        s = self.state
        s.course_members = {k: v for k, v in s.course_members.items() if k[0] != course_id}
        for room in [r for r in s.rooms.values() if r.course_id == course_id]:
            s.published.append(room_changed(room.id, course_id, room.settings, deleted=True))
        s.rooms = {k: r for k, r in s.rooms.items() if r.course_id != course_id}
        s.announcements = [a for a in s.announcements if a.course_id != course_id]
        return True

    async def role_of(self, course_id: str, user_id: str) -> str | None:
        return self.state.course_members.get((course_id, user_id))

    async def members(self, course_id: str) -> list[CourseMember]:
        found = []
        for (cid, uid), role in self.state.course_members.items():
            user = self.state.directory.users.get(uid)
            if cid == course_id and user is not None:
                found.append(CourseMember(uid, user.email, user.full_name, user.avatar_url, role))
        return sorted(found, key=lambda m: (ROLE_ORDER.get(m.role, 9), m.email))

    async def apply(self, change: MembershipChange) -> None:
        key = (change.course_id, change.user_id)
        room_ids = self.state.room_ids(change.course_id)
        if change.role is None:
            self.state.course_members.pop(key, None)
            for room_id in room_ids:
                room = self.state.rooms[room_id]
                members = room.member_ids - {change.user_id}
                self.state.rooms[room_id] = dataclasses.replace(room, member_ids=members)
        else:
            self.state.course_members[key] = change.role
        self.state.published.extend(membership_events(change, room_ids))

    async def add_announcement(self, announcement: Announcement) -> None:
        self.state.announcements.append(announcement)

    async def announcements(self, course_id: str) -> list[Announcement]:
        found = [a for a in self.state.announcements if a.course_id == course_id]
        return sorted(found, key=lambda a: a.created_at, reverse=True)


class MemoryRoomStore:
    """Rooms and room assignments."""

    def __init__(self, state: MembershipState) -> None:
        self.state = state

    async def create(self, room: Room, event: Event | None = None) -> None:
        self.state.rooms[room.id] = room
        if event is not None:
            self.state.published.append(event)

    async def get(self, room_id: str) -> Room | None:
        return self.state.rooms.get(room_id)

    async def access(self, room_id: str, user_id: str) -> RoomAccess | None:
        room = self.state.rooms.get(room_id)
        course = self.state.courses.get(room.course_id) if room else None
        if room is None or course is None:
            return None
        role = self.state.course_members.get((course.id, user_id))
        return RoomAccess(room, _with_owner_name(self.state, course), role)

    async def in_course(self, course_id: str) -> list[Room]:
        found = [r for r in self.state.rooms.values() if r.course_id == course_id]
        return sorted(found, key=lambda r: r.created_at)

    async def update(
        self, room_id: str, settings: RoomSettings, event: Event | None = None
    ) -> Room | None:
        room = self.state.rooms.get(room_id)
        if room is None:
            return None
        self.state.rooms[room_id] = dataclasses.replace(room, settings=settings)
        if event is not None:
            self.state.published.append(event)
        return self.state.rooms[room_id]

    async def delete(self, room_id: str, event: Event | None = None) -> bool:
        gone = self.state.rooms.pop(room_id, None) is not None
        if gone and event is not None:
            self.state.published.append(event)
        return gone

    async def assign(self, room_id: str, user_id: str, event: Event) -> bool:
        room = self.state.rooms[room_id]
        if user_id in room.member_ids:
            return False
        self.state.rooms[room_id] = dataclasses.replace(
            room, member_ids=room.member_ids | {user_id}
        )
        self.state.published.append(event)
        return True

    async def unassign(self, room_id: str, user_id: str, event: Event) -> bool:
        room = self.state.rooms.get(room_id)
        if room is None or user_id not in room.member_ids:
            return False
        self.state.rooms[room_id] = dataclasses.replace(
            room, member_ids=room.member_ids - {user_id}
        )
        self.state.published.append(event)
        return True


class MemoryOrganizationStore:
    """Organizations, projects and their links."""

    def __init__(self, state: MembershipState) -> None:
        self.state = state

    async def create_organization(self, org: Organization, owner_id: str) -> None:
        self.state.organizations[org.id] = org
        self.state.organization_members[(org.id, owner_id)] = "owner"

    async def get_organization(self, org_id: str) -> Organization | None:
        return self.state.organizations.get(org_id)

    async def list_organizations(self, member_id: str | None) -> list[Organization]:
        links = self.state.organization_members
        found = [
            o
            for o in self.state.organizations.values()
            if member_id is None or (o.id, member_id) in links
        ]
        return sorted(found, key=lambda o: (o.name, o.id))

    async def organization_role(self, org_id: str, user_id: str) -> str | None:
        return self.state.organization_members.get((org_id, user_id))

    async def create_project(self, project: Project, owner_id: str) -> None:
        self.state.projects[project.id] = project
        self.state.project_members[(project.id, owner_id)] = "owner"

    async def get_project(self, project_id: str) -> Project | None:
        return self.state.projects.get(project_id)

    async def list_projects(self, member_id: str | None, org_id: str | None) -> list[Project]:
        links = self.state.project_members
        found = [
            p
            for p in self.state.projects.values()
            if (member_id is None or (p.id, member_id) in links)
            and (org_id is None or p.organization_id == org_id)
        ]
        return sorted(found, key=lambda p: (p.name, p.id))

    async def project_role(self, project_id: str, user_id: str) -> str | None:
        return self.state.project_members.get((project_id, user_id))


def now_room(course_id: str, room_id: str, name: str = "Room") -> Room:
    """A room created now with default settings (test set-up)."""
    return Room(room_id, course_id, RoomSettings(name=name), utc_now())
