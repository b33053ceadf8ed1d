"""Wires the membership features (courses, rooms, organizations) into an app.

After :func:`install_membership`, ``app.state.room_access(user, room_id, action=...)`` is the
check every room-scoped route uses (see :meth:`RoomService.room_access`).
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import FastAPI

from coagent_gateway.auth.ports import AuditLog
from coagent_gateway.courses.endpoints import announcements_router
from coagent_gateway.courses.endpoints import router as courses_router
from coagent_gateway.courses.ports import CourseStore, UserDirectory
from coagent_gateway.courses.service import CourseService
from coagent_gateway.organizations.endpoints import router as organizations_router
from coagent_gateway.organizations.ports import OrganizationStore
from coagent_gateway.organizations.service import OrganizationService
from coagent_gateway.rooms.endpoints import router as rooms_router
from coagent_gateway.rooms.ports import RoomStore
from coagent_gateway.rooms.service import RoomService


@dataclass(frozen=True)
class MembershipStores:
    """The adapters the membership features run on."""

    users: UserDirectory
    courses: CourseStore
    rooms: RoomStore
    organizations: OrganizationStore
    #: Membership changes are audited (who changed whose membership, where).
    audit: AuditLog


def install_membership(app: FastAPI, stores: MembershipStores) -> None:
    """Set ``app.state.courses/rooms/organizations/room_access`` and include the routers."""
    courses = CourseService(stores.courses, stores.users, stores.audit)
    rooms = RoomService(stores.rooms, stores.courses, courses, stores.audit)
    app.state.courses = courses
    app.state.rooms = rooms
    app.state.room_access = rooms.room_access
    app.state.organizations = OrganizationService(stores.organizations)
    for router in (courses_router, announcements_router, rooms_router, organizations_router):
        app.include_router(router)
