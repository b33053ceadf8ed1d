"""Rooms as the trigger service sees them: the gateway's room projection and room access.

The gateway owns rooms and membership. The trigger keeps a projection of each room (course,
attached workflow, who attached it) from the gateway's ``RoomChangedV1`` events, and asks the
gateway whether a user may act on a room right now before it acts there on their behalf.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from coagent_contracts.gateway import RoomChangedV1
from coagent_kit.errors import DependencyUnavailable


class GatewayUnavailable(DependencyUnavailable):
    """The gateway could not say whether a user may act on a room: decide nothing, retry."""

    code = "gateway_unavailable"


@dataclass(frozen=True)
class RoomView:
    """One room of the projection, as of the gateway event ``changed_at``."""

    room_id: str
    course_id: str
    attached_workflow_id: str | None
    attached_by: str | None
    deleted: bool
    changed_at: datetime

    @property
    def fallback(self) -> tuple[str, str] | None:
        """``(workflow_id, attacher)`` when a human message may fall back to the room's attached
        workflow: not for a deleted room, nor without a known attacher (nobody's authority to
        run it with)."""
        if self.deleted or self.attached_workflow_id is None or self.attached_by is None:
            return None
        return self.attached_workflow_id, self.attached_by


@dataclass(frozen=True)
class Access:
    """The gateway's answer: may the user act on the room (or course), and their current roles
    (``room_role`` is the course role, ``owner`` for the course owner)."""

    allowed: bool
    platform_role: str | None = None
    room_role: str | None = None


class AccessChecker(Protocol):
    """Asks the gateway (through a short cache) whether a user may act on a room or a course."""

    async def check(self, room_id: str, user_id: str) -> Access:
        """The answer for the pair; raises :class:`GatewayUnavailable` if none can be had."""
        ...

    async def check_course(self, course_id: str, user_id: str) -> Access:
        """Whether the user may act on the course (read it); raises like :meth:`check`."""
        ...

    def invalidate(self, room_id: str) -> None:
        """Forget cached answers about ``room_id`` (its membership or settings changed), and
        about its course when known."""
        ...


def view_of(event: RoomChangedV1) -> RoomView:
    """The projection row an event describes."""
    data = event.data
    return RoomView(
        room_id=data.room_id,
        course_id=data.course_id,
        attached_workflow_id=data.attached_workflow_id,
        attached_by=data.attached_by,
        deleted=data.deleted,
        changed_at=event.occurred_at,
    )
