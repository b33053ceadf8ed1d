"""Trigger policies and firings: pure types, ownership and message matching.

A policy belongs to its creator; admins see and edit every policy. Anyone else gets the same 404
as for a missing policy, so ids of other people's policies cannot be probed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from coagent_contracts.chat import MessagePostedData
from coagent_contracts.trigger import FiringKind, TriggerEventType
from coagent_kit.errors import Conflict, Forbidden, NotFound, Unprocessable
from coagent_trigger.conditions import UserMessageConditions

ADMIN_ROLES = frozenset({"admin", "super_admin"})
#: Only this much of a message is searched by keywords and regexes (bounds the matching cost).
MAX_MATCHED_CHARS = 10_000

FiringOutcome = Literal["fired", "debounced", "skipped", "buffered"]


class TriggerNotFound(NotFound):
    code = "trigger_not_found"


class TriggerInactive(Conflict):
    code = "trigger_inactive"


class RoomOutOfScope(Unprocessable):
    code = "room_out_of_scope"


class ScopeConflict(Unprocessable):
    """A policy is scoped to one room, or to one course, never to both."""

    code = "scope_conflict"


class ScopeForbidden(Forbidden):
    """The caller may not act on the room or course they tried to scope a policy to."""

    code = "scope_forbidden"


@dataclass(frozen=True)
class Caller:
    """Who is asking, as the gateway's signed identity says."""

    user_id: str
    platform_role: str

    @property
    def is_admin(self) -> bool:
        return self.platform_role in ADMIN_ROLES


@dataclass(frozen=True)
class Policy:
    """When to start which workflow, and where.

    The scope is one room (``scope_session_id``), one course (``scope_course_id``: every room of
    it) or neither (every room the owner may act on); never both.

    ``secret_cipher`` is the webhook signing secret, encrypted; it never leaves the service.
    """

    id: str
    name: str
    event_type: TriggerEventType
    conditions: dict[str, Any]
    target_workflow_id: str
    scope_session_id: str | None
    is_active: bool
    created_by: str
    created_at: datetime
    updated_at: datetime
    secret_cipher: str | None = None
    #: The owner's platform role when they created the policy: the workflow engine lets a
    #: policy run only workflows its owner may run (their own, or any for admins).
    owner_role: str | None = None
    scope_course_id: str | None = None

    def visible_to(self, caller: Caller) -> bool:
        """Owners and admins may read and change a policy."""
        return caller.is_admin or self.created_by == caller.user_id

    @property
    def course_scoped(self) -> bool:
        """Scoped to a course (deciding whether it covers a room needs the room's course)."""
        return self.scope_course_id is not None

    def covers_room(self, room_id: str, course_id: str | None) -> bool:
        """Whether the scope includes ``room_id``, whose course is ``course_id`` (None when the
        room projection does not know the room: then no course scope covers it). A policy
        without scope covers every room; whose rooms it applies to is the owner's access."""
        if self.scope_session_id is not None:
            return self.scope_session_id == room_id
        if self.scope_course_id is not None:
            return course_id is not None and self.scope_course_id == course_id
        return True


@dataclass(frozen=True)
class Firing:
    """One entry of the firing log; ``firing_key`` is unique (one run per firing).

    A room's fallback firing (``kind == "room_fallback"``) belongs to no policy: its
    ``policy_id`` is ``None``.
    """

    id: str
    firing_key: str
    policy_id: str | None
    event_type: TriggerEventType
    outcome: FiringOutcome
    room_id: str | None
    source_event_id: str | None
    fired_by: str | None
    created_at: datetime
    detail: dict[str, Any] = field(default_factory=dict)
    kind: FiringKind = "policy"


def matches_message(conditions: UserMessageConditions, message: MessagePostedData) -> bool:
    """Whether one posted message satisfies every condition of a ``user_message`` policy.

    ``message_count`` and ``debounce`` are not decided here: they depend on earlier messages.
    System messages (joins, notices) never match, so a policy cannot fire on its own side
    effects such as a "run started" notice.
    """
    if message.sender_kind == "system":
        return False
    if conditions.sender_kind != "any" and message.sender_kind != conditions.sender_kind:
        return False
    if conditions.sender_roles is not None:
        # The chat event carries the agent's type but no role of a human sender.
        roles = {r.lower() for r in conditions.sender_roles}
        if message.agent_type is None or message.agent_type.lower() not in roles:
            return False
    text = message.content[:MAX_MATCHED_CHARS]
    keywords = conditions.keywords()
    if keywords and not any(k.lower() in text.lower() for k in keywords):
        return False
    if conditions.regex is not None and re.search(conditions.regex, text) is None:
        return False
    return conditions.mention is None or _mentions(message, conditions.mention)


def _mentions(message: MessagePostedData, who: str) -> bool:
    wanted = who.lower()
    if any(m.lower() == wanted for m in message.mentions):
        return True
    # Clients that do not fill ``mentions`` still write "@name" in the text.
    return re.search(rf"(?<!\w)@{re.escape(wanted)}(?!\w)", message.content.lower()) is not None


def message_payload(message: MessagePostedData, count: int) -> dict[str, Any]:
    """What a run started by a message receives: the message and how many matched so far."""
    return {
        "type": "user_message",
        "content": message.content,
        "message": {
            "id": message.message_id,
            "room_id": message.room_id,
            "seq": message.seq,
            "sender_id": message.sender_id,
            "sender_kind": message.sender_kind,
            "sender_name": message.sender_name,
            "agent_id": message.agent_id,
            "content": message.content,
            "created_at": message.created_at.isoformat(),
        },
        "count": count,
    }
