"""Gateway context: identity and membership events (publisher: gateway).

Other services keep local projections of users and room membership from these events instead of
asking the gateway or reading its tables.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, TypeAdapter

from coagent_contracts.envelope import Event, EventData, tagged_union
from coagent_contracts.subjects import SubjectToken, join_subject

__all__ = [
    "GATEWAY_EVENTS",
    "GATEWAY_EVENT_TYPES",
    "GatewayEvent",
    "MembershipChangeKind",
    "MembershipChangedData",
    "MembershipChangedV1",
    "PlatformRole",
    "RoomChangedData",
    "RoomChangedV1",
    "UserCreatedData",
    "UserCreatedV1",
    "UserForgottenData",
    "UserForgottenV1",
    "membership_changed_subject",
    "room_changed_subject",
    "user_created_subject",
    "user_forgotten_subject",
]

PlatformRole = Literal["super_admin", "admin", "teacher", "ta", "student", "guest"]
"""Platform-wide role of a user (membership roles on resources are free-form strings)."""

MembershipChangeKind = Literal["added", "removed", "role_changed"]
"""What happened to a room membership."""


def user_created_subject(user_id: str) -> str:
    """``gateway.user.<user_id>.created.v1``."""
    return join_subject("gateway", "user", user_id, "created", "v1")


def user_forgotten_subject(user_id: str) -> str:
    """``gateway.user.<user_id>.forgotten.v1``."""
    return join_subject("gateway", "user", user_id, "forgotten", "v1")


def membership_changed_subject(room_id: str) -> str:
    """``gateway.room.<room_id>.membership.changed.v1``."""
    return join_subject("gateway", "room", room_id, "membership", "changed", "v1")


def room_changed_subject(room_id: str) -> str:
    """``gateway.room.<room_id>.changed.v1``."""
    return join_subject("gateway", "room", room_id, "changed", "v1")


class UserCreatedData(EventData):
    """A user account was created."""

    user_id: SubjectToken
    email: str
    username: str
    platform_role: PlatformRole


class UserCreatedV1(Event):
    """A user account was created (``gateway.user.<user_id>.created.v1``)."""

    FILTER: ClassVar[str] = "gateway.user.*.created.v1"

    type: Literal["gateway.user.created"] = "gateway.user.created"
    version: Literal[1] = 1
    data: UserCreatedData

    @property
    def subject(self) -> str:
        """Subject keyed by the new user's id."""
        return user_created_subject(self.data.user_id)


class UserForgottenData(EventData):
    """A user asked to be (or was) forgotten: every copy of what they wrote must go.

    The account is deactivated in the same transaction; each owner of content the user wrote
    erases it and publishes its own tombstones (chat: ``MessagesErasedV1`` per room).
    """

    user_id: SubjectToken
    forgotten_by: str = Field(min_length=1)
    """Administrator who asked for it."""


class UserForgottenV1(Event):
    """A user is to be forgotten (``gateway.user.<user_id>.forgotten.v1``)."""

    FILTER: ClassVar[str] = "gateway.user.*.forgotten.v1"

    type: Literal["gateway.user.forgotten"] = "gateway.user.forgotten"
    version: Literal[1] = 1
    data: UserForgottenData

    @property
    def subject(self) -> str:
        """Subject keyed by the forgotten user's id."""
        return user_forgotten_subject(self.data.user_id)


class MembershipChangedData(EventData):
    """A user joined or left a room, or their role in it changed."""

    room_id: SubjectToken
    user_id: str = Field(min_length=1)
    change: MembershipChangeKind
    role: str | None = None
    """Membership role after the change; null when the user was removed."""
    course_id: str | None = None
    """Course the room belongs to, when membership derives from a course enrollment."""


class MembershipChangedV1(Event):
    """Room membership changed (``gateway.room.<room_id>.membership.changed.v1``)."""

    FILTER: ClassVar[str] = "gateway.room.*.membership.changed.v1"

    type: Literal["gateway.membership.changed"] = "gateway.membership.changed"
    version: Literal[1] = 1
    data: MembershipChangedData

    @property
    def subject(self) -> str:
        """Subject keyed by the room, so a room's consumers filter on the server."""
        return membership_changed_subject(self.data.room_id)


class RoomChangedData(EventData):
    """A room was created, changed or deleted: its state after the change.

    The gateway owns the room's attached workflow (the room's fallback when no trigger policy
    applies to it); other services keep a projection of it from these events.
    """

    room_id: SubjectToken
    course_id: str = Field(min_length=1)
    attached_workflow_id: str | None = None
    """Workflow a human message in the room runs when no ``user_message`` policy applies."""
    attached_by: str | None = None
    """User who attached it: the fallback runs with their authority (null when none is attached
    or it was attached before attachers were recorded)."""
    deleted: bool = False
    """True when the room was deleted (the other fields are its last state)."""


class RoomChangedV1(Event):
    """A room was created, updated or deleted (``gateway.room.<room_id>.changed.v1``)."""

    FILTER: ClassVar[str] = "gateway.room.*.changed.v1"

    type: Literal["gateway.room.changed"] = "gateway.room.changed"
    version: Literal[1] = 1
    data: RoomChangedData

    @property
    def subject(self) -> str:
        """Subject keyed by the room."""
        return room_changed_subject(self.data.room_id)


GatewayEvent = UserCreatedV1 | UserForgottenV1 | MembershipChangedV1 | RoomChangedV1
"""Static type of any gateway event."""

GATEWAY_EVENT_TYPES: tuple[type[Event], ...] = (
    UserCreatedV1,
    UserForgottenV1,
    MembershipChangedV1,
    RoomChangedV1,
)
"""Every gateway event class, in declaration order."""

GATEWAY_EVENTS: TypeAdapter[GatewayEvent] = TypeAdapter(tagged_union(*GATEWAY_EVENT_TYPES))
"""Validates any gateway event, discriminating on ``type`` and ``version``."""
