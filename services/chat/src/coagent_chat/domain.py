"""Messages of a room, its activity and its retention rule: pure types and rules (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Literal

from coagent_kit.errors import Conflict, Forbidden, NotFound, Unprocessable

SenderKind = Literal["human", "agent", "system"]
MAX_CONTENT_CHARS = 32_000
MAX_CLIENT_MSG_ID_CHARS = 128
#: Course roles that moderate a room (forget any message, change its retention).
STAFF_ROLES = frozenset({"owner", "teacher", "ta"})
#: Platform roles that may moderate every room.
ADMIN_ROLES = frozenset({"super_admin", "admin"})
#: Upper bounds keep the age cutoff representable (``timedelta`` overflows near 2.7 million years).
MAX_RETENTION_DAYS = 36_500.0


class InvalidMessage(Unprocessable):
    code = "invalid_message"


class IdempotencyConflict(Conflict):
    code = "idempotency_conflict"


class MessageNotFound(NotFound):
    code = "message_not_found"


class ActivityNotFound(NotFound):
    code = "activity_not_found"


class NotAllowed(Forbidden):
    code = "forbidden"


class InvalidRetention(Unprocessable):
    code = "invalid_retention"


@dataclass(frozen=True)
class NewMessage:
    """A message before the room history has given it a place (``seq``)."""

    room_id: str
    content: str
    sender_kind: SenderKind
    sender_id: str | None = None
    sender_name: str | None = None
    agent_id: str | None = None
    thread_id: str | None = None
    mentions: tuple[str, ...] = field(default_factory=tuple)
    agent_type: str | None = None
    run_id: str | None = None
    offline: bool = False
    stream_id: str | None = None
    client_msg_id: str | None = None
    """The poster's idempotency key, unique per (room, sender)."""

    def __post_init__(self) -> None:
        if not self.content.strip():
            raise InvalidMessage("A message needs some content")
        if len(self.content) > MAX_CONTENT_CHARS:
            raise InvalidMessage(f"A message holds at most {MAX_CONTENT_CHARS} characters")
        if self.client_msg_id is not None and not 1 <= len(self.client_msg_id) <= (
            MAX_CLIENT_MSG_ID_CHARS
        ):
            raise InvalidMessage(
                f"An idempotency key holds 1 to {MAX_CLIENT_MSG_ID_CHARS} characters"
            )

    def is_retry_of(self, stored: NewMessage) -> bool:
        """True if this post repeats ``stored`` (same key and same text): answer with the original.

        The same key with other text is a client bug (a reused key), not a retry, so it must fail
        loudly instead of silently returning a message the client did not write.
        """
        return (
            self.client_msg_id == stored.client_msg_id
            and self.content == stored.content
            and self.thread_id == stored.thread_id
        )


@dataclass(frozen=True)
class Message:
    """A stored message: ``seq`` orders it in its room and is what clients resume from."""

    id: str
    seq: int
    created_at: datetime
    body: NewMessage


def check_retry(new: NewMessage, stored: Message) -> Message:
    """The stored original when ``new`` is a retry of it; otherwise ``IdempotencyConflict``."""
    if not new.is_retry_of(stored.body):
        raise IdempotencyConflict(
            "This idempotency key was already used for a different message in this room"
        )
    return stored


@dataclass(frozen=True)
class HistoryWindow:
    """Which page of a room's history to read; pages are always returned oldest first.

    Without cursors a client wants the newest messages (opening a room), with ``after`` it catches
    up, with ``before`` it scrolls back; both bound the window on each side.
    """

    after: int | None = None
    before: int | None = None
    limit: int = 200

    @property
    def newest_first(self) -> bool:
        """Read from the ``before`` end (or the latest) unless only ``after`` anchors the page."""
        return self.after is None

    def select(self, ordered: list[Message]) -> list[Message]:
        """Apply the window to a room's messages sorted by ``seq`` (the memory adapter's query)."""
        inside = [
            m
            for m in ordered
            if (self.after is None or m.seq > self.after)
            and (self.before is None or m.seq < self.before)
        ]
        return inside[-self.limit :] if self.newest_first else inside[: self.limit]


@dataclass(frozen=True)
class Actor:
    """Who asks for a moderation action, as the gateway vouched for them."""

    user_id: str
    platform_role: str
    resource_role: str | None = None

    @property
    def moderates(self) -> bool:
        """Course staff of the room's course and platform admins moderate the room."""
        return self.resource_role in STAFF_ROLES or self.platform_role in ADMIN_ROLES


def ensure_may_forget(actor: Actor, message: Message) -> None:
    """A human may erase what they wrote; moderators may erase anything in the room."""
    body = message.body
    own = body.sender_kind == "human" and body.sender_id == actor.user_id
    if not (own or actor.moderates):
        raise NotAllowed("Only the sender or the course staff may forget this message")


def ensure_may_set_retention(actor: Actor) -> None:
    """Retention erases everyone's messages, so only moderators decide it."""
    if not actor.moderates:
        raise NotAllowed("Only the course staff or an admin may change the room's retention")


@dataclass(frozen=True)
class RoomActivity:
    """Running counters of a room: every message ever stored (erasures do not rewind them)."""

    room_id: str
    last_message_at: datetime
    last_human_message_at: datetime | None = None
    last_agent_message_at: datetime | None = None
    message_count: int = 0
    human_message_count: int = 0
    agent_message_count: int = 0
    last_seq: int = 0
    last_sender_kind: SenderKind | None = None


def record_activity(previous: RoomActivity | None, message: Message) -> RoomActivity:
    """The room's activity after ``message`` was stored."""
    at, kind = message.created_at, message.body.sender_kind
    base = previous or RoomActivity(room_id=message.body.room_id, last_message_at=at)
    return replace(
        base,
        last_message_at=max(base.last_message_at, at),
        last_human_message_at=at if kind == "human" else base.last_human_message_at,
        last_agent_message_at=at if kind == "agent" else base.last_agent_message_at,
        message_count=base.message_count + 1,
        human_message_count=base.human_message_count + (kind == "human"),
        agent_message_count=base.agent_message_count + (kind == "agent"),
        last_seq=max(base.last_seq, message.seq),
        last_sender_kind=kind,
    )


@dataclass(frozen=True)
class RetentionPolicy:
    """How long a room keeps messages: by age, by count, both (either prunes) or neither."""

    max_age_days: float | None = None
    max_messages: int | None = None

    def __post_init__(self) -> None:
        age, count = self.max_age_days, self.max_messages
        if age is not None and not 0 < age <= MAX_RETENTION_DAYS:
            raise InvalidRetention(f"max_age_days must be > 0 and <= {MAX_RETENTION_DAYS:g}")
        if count is not None and count < 1:
            raise InvalidRetention("max_messages must be at least 1")

    @property
    def prunes(self) -> bool:
        """False when nothing would ever be deleted."""
        return self.max_age_days is not None or self.max_messages is not None

    def cutoff(self, now: datetime) -> datetime | None:
        """Messages created before this instant are too old (None: no age limit)."""
        return None if self.max_age_days is None else now - timedelta(days=self.max_age_days)

    def over(self, default: RetentionPolicy) -> RetentionPolicy:
        """The effective rule: each limit of the room, else the fleet default for that limit."""
        return RetentionPolicy(
            max_age_days=self.max_age_days
            if self.max_age_days is not None
            else default.max_age_days,
            max_messages=self.max_messages
            if self.max_messages is not None
            else default.max_messages,
        )


@dataclass(frozen=True)
class RoomRetention:
    """A room's own retention setting and who set it last."""

    room_id: str
    policy: RetentionPolicy
    updated_at: datetime
    updated_by: str | None = None


def expired(ordered: list[Message], policy: RetentionPolicy, now: datetime) -> list[Message]:
    """Messages of a room (sorted by ``seq``) that ``policy`` removes, oldest first."""
    cutoff = policy.cutoff(now)
    overflow = len(ordered) - policy.max_messages if policy.max_messages is not None else 0
    return [
        m
        for i, m in enumerate(ordered)
        if i < overflow or (cutoff is not None and m.created_at < cutoff)
    ]
