"""Who may do what: the one place authorisation is decided.

Every route names the :class:`Action` it needs and builds the :class:`Resource` it acts on (with
the caller's membership role on it, resolved from the membership tables); ``can`` answers. The
rules close the reference system's gaps: course membership is what opens a room, nobody raises
their own role, TAs cannot mint teachers, and admin accounts are managed by super admins only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from coagent_gateway.domain import PlatformRole, User
from coagent_kit.errors import Forbidden

SUPER, ADMIN, TEACHER = PlatformRole.SUPER_ADMIN, PlatformRole.ADMIN, PlatformRole.TEACHER
STAFF_ROLES = frozenset({SUPER, ADMIN})
ADMIN_ROLES = frozenset({SUPER, ADMIN})


class Kind(StrEnum):
    PLATFORM = "platform"
    USER = "user"
    ORGANIZATION = "organization"
    PROJECT = "project"
    COURSE = "course"
    ROOM = "room"


class Action(StrEnum):
    USER_LIST = "user.list"
    USER_READ = "user.read"
    USER_SEARCH = "user.search"
    USER_CREATE = "user.create"
    USER_UPDATE = "user.update"
    USER_SET_ROLE = "user.set_role"
    USER_DELETE = "user.delete"
    USER_IMPERSONATE = "user.impersonate"
    AUDIT_READ = "audit.read"
    ADMIN_DB_READ = "admin.db.read"
    DEAD_LETTERS_MANAGE = "dead_letters.manage"
    ORG_CREATE = "organization.create"
    ORG_READ = "organization.read"
    ORG_MANAGE = "organization.manage"
    PROJECT_CREATE = "project.create"
    PROJECT_READ = "project.read"
    PROJECT_MANAGE = "project.manage"
    COURSE_CREATE = "course.create"
    COURSE_READ = "course.read"
    COURSE_UPDATE = "course.update"
    COURSE_DELETE = "course.delete"
    COURSE_MEMBERS_READ = "course.members.read"
    COURSE_MEMBERS_MANAGE = "course.members.manage"
    ANNOUNCEMENT_CREATE = "announcement.create"
    ANNOUNCEMENT_READ = "announcement.read"
    ROOM_CREATE = "room.create"
    ROOM_READ = "room.read"
    ROOM_CHAT = "room.chat"
    ROOM_UPDATE = "room.update"
    ROOM_DELETE = "room.delete"
    ROOM_ASSIGN = "room.assign"
    ROOM_MANAGE_AGENTS = "room.manage_agents"


@dataclass(frozen=True)
class Resource:
    """What an action is about, with the caller's relation to it already resolved.

    ``membership`` is the caller's role on the resource (for a room: on its course), ``None``
    when the caller is not a member. ``target_role`` is a target user's platform role.
    """

    kind: Kind
    id: str | None = None
    owner_id: str | None = None
    membership: str | None = None
    target_role: PlatformRole | None = None
    #: For user actions that assign a platform role: the role being given.
    new_role: PlatformRole | None = None


PLATFORM = Resource(Kind.PLATFORM)
COURSE_STAFF = frozenset({"teacher", "ta"})
COURSE_MEMBERS = frozenset({"teacher", "ta", "student"})
ORG_MANAGERS = frozenset({"owner", "admin"})
PROJECT_MANAGERS = frozenset({"owner", "admin"})

Rule = Callable[[User, Resource], bool]


def _is_self(user: User, r: Resource) -> bool:
    return r.id == user.id


def _manages_user(user: User, r: Resource) -> bool:
    # Admin accounts (and granting admin roles) are the super admin's alone.
    if user.platform_role is SUPER:
        return True
    protected = {r.target_role, r.new_role} & ADMIN_ROLES
    return user.platform_role is ADMIN and not protected


def _course_role(r: Resource) -> str | None:
    return r.membership


def _course_member(user: User, r: Resource) -> bool:
    return r.owner_id == user.id or _course_role(r) in COURSE_MEMBERS


def _course_staff(user: User, r: Resource) -> bool:
    return r.owner_id == user.id or _course_role(r) in COURSE_STAFF


def _course_teacher(user: User, r: Resource) -> bool:
    return r.owner_id == user.id or _course_role(r) == "teacher"


RULES: dict[Action, Rule] = {
    Action.USER_LIST: lambda u, r: False,
    Action.USER_READ: _is_self,
    # Finding people to enrol is a staff task; students cannot enumerate emails.
    Action.USER_SEARCH: lambda u, r: u.platform_role is TEACHER or r.membership in COURSE_STAFF,
    Action.USER_CREATE: _manages_user,
    Action.USER_UPDATE: lambda u, r: _is_self(u, r) or _manages_user(u, r),
    # Never one's own role: that would be self-promotion (or a super admin locking themself out).
    Action.USER_SET_ROLE: lambda u, r: not _is_self(u, r) and _manages_user(u, r),
    Action.USER_DELETE: lambda u, r: not _is_self(u, r) and _manages_user(u, r),
    Action.USER_IMPERSONATE: lambda u, r: False,
    Action.AUDIT_READ: lambda u, r: False,
    # The raw table browser shows every row of identity data: super admins only (F13).
    Action.ADMIN_DB_READ: lambda u, r: False,
    # Operating the message fleet is a platform admin's job (admins get it by override).
    Action.DEAD_LETTERS_MANAGE: lambda u, r: False,
    Action.ORG_CREATE: lambda u, r: u.platform_role is not PlatformRole.GUEST,
    Action.ORG_READ: lambda u, r: r.membership is not None,
    Action.ORG_MANAGE: lambda u, r: r.membership in ORG_MANAGERS,
    Action.PROJECT_CREATE: lambda u, r: r.membership is not None,  # a member of the org
    Action.PROJECT_READ: lambda u, r: r.membership is not None,
    Action.PROJECT_MANAGE: lambda u, r: r.membership in PROJECT_MANAGERS,
    Action.COURSE_CREATE: lambda u, r: u.platform_role is TEACHER,
    Action.COURSE_READ: _course_member,
    Action.COURSE_UPDATE: _course_teacher,
    Action.COURSE_DELETE: _course_teacher,
    Action.COURSE_MEMBERS_READ: _course_member,
    Action.COURSE_MEMBERS_MANAGE: _course_staff,
    Action.ANNOUNCEMENT_CREATE: _course_staff,
    Action.ANNOUNCEMENT_READ: _course_member,
    Action.ROOM_CREATE: _course_staff,
    Action.ROOM_READ: _course_member,
    Action.ROOM_CHAT: _course_member,
    Action.ROOM_UPDATE: _course_staff,
    Action.ROOM_DELETE: _course_staff,
    Action.ROOM_ASSIGN: _course_staff,
    Action.ROOM_MANAGE_AGENTS: _course_staff,
}

#: Actions a platform admin may take on anything (user actions have their own admin rules).
ADMIN_OVERRIDES = frozenset(RULES) - {
    Action.ADMIN_DB_READ,
    Action.USER_CREATE,
    Action.USER_UPDATE,
    Action.USER_SET_ROLE,
    Action.USER_DELETE,
    Action.USER_IMPERSONATE,
}


def can(user: User, action: Action, resource: Resource = PLATFORM) -> bool:
    """Whether ``user`` may take ``action`` on ``resource``."""
    if not user.is_active:
        return False
    if user.platform_role is SUPER and action is not Action.USER_SET_ROLE:
        return action is not Action.USER_DELETE or not _is_self(user, resource)
    if user.platform_role in ADMIN_ROLES and action in ADMIN_OVERRIDES:
        return True
    return RULES[action](user, resource)


def require(user: User, action: Action, resource: Resource = PLATFORM) -> None:
    """Raise 403 ``forbidden`` unless :func:`can` allows it."""
    if not can(user, action, resource):
        raise Forbidden(f"Not allowed to {action.value}", code="forbidden")


def may_assign_course_role(user: User, course: Resource, current: str | None, new: str) -> bool:
    """Whether ``user`` may give a member of ``course`` the course role ``new``.

    Admins and the course's teachers assign any course role; TAs manage students only: they can
    neither grant nor take away the ta/teacher roles.
    """
    if not can(user, Action.COURSE_MEMBERS_MANAGE, course) or new not in COURSE_MEMBERS:
        return False
    if user.platform_role in ADMIN_ROLES or _course_teacher(user, course):
        return True
    return new == "student" and current in (None, "student")
