"""JetStream streams, declared in code: one per bounded context, capturing ``<context>.>``.

Streams use limits retention so history can be replayed (a new projection, the WebSocket resume
from a room sequence). Services declare them once at bootstrap from these specs; subscribers only
bind to them by name.
"""

from __future__ import annotations

from dataclasses import dataclass

from coagent_contracts.subjects import join_subject

__all__ = [
    "ALL_STREAMS",
    "CHAT",
    "DEAD_LETTERS",
    "DUPLICATE_WINDOW_S",
    "FLEET_STREAMS",
    "GATEWAY",
    "GRAPHRAG",
    "TRIGGER",
    "UnknownSubject",
    "WORKFLOW",
    "StreamSpec",
    "dead_letter_subject",
    "replay_subject",
    "stream_for_subject",
    "subject_matches",
    "subjects_overlap",
]

_DAY_S = 24 * 60 * 60.0
_GIB = 1024**3

DUPLICATE_WINDOW_S = 5 * 60.0
"""Dedup window of every stream. It must outlast the longest delay before the same
``Nats-Msg-Id`` can be published again (outbox relay retries, backoff before a re-publish), so
every such delay in the fleet must stay below it; five minutes leave room over the two-minute
retry ceiling for a relay that is itself restarting."""


@dataclass(frozen=True)
class StreamSpec:
    """Configuration of one JetStream stream (limits retention)."""

    name: str
    subjects: tuple[str, ...]
    description: str
    duplicate_window_s: float
    max_age_s: float
    max_bytes: int
    allow_msg_schedules: bool = False


GATEWAY = StreamSpec(
    name="GATEWAY",
    subjects=("gateway.>",),
    description="Identity and membership events published by the gateway.",
    duplicate_window_s=DUPLICATE_WINDOW_S,
    # Membership projections in other services are rebuilt by replaying this stream, so it keeps
    # as long a history as chat does.
    max_age_s=30 * _DAY_S,
    max_bytes=1 * _GIB,
)

CHAT = StreamSpec(
    name="CHAT",
    subjects=("chat.>",),
    description="Room messages, artifacts and room activity published by chat.",
    duplicate_window_s=DUPLICATE_WINDOW_S,
    # Clients resume rooms from a sequence number and graphrag re-ingests from history.
    max_age_s=30 * _DAY_S,
    max_bytes=8 * _GIB,
)

WORKFLOW = StreamSpec(
    name="WORKFLOW",
    subjects=("workflow.>",),
    description="Run lifecycle, node results and agent replies published by workflow-engine.",
    duplicate_window_s=DUPLICATE_WINDOW_S,
    max_age_s=7 * _DAY_S,
    max_bytes=4 * _GIB,
)

TRIGGER = StreamSpec(
    name="TRIGGER",
    subjects=("trigger.>",),
    description="Trigger firings and the message schedules (timers) that produce them.",
    duplicate_window_s=DUPLICATE_WINDOW_S,
    max_age_s=7 * _DAY_S,
    max_bytes=1 * _GIB,
    # Timers are NATS message schedules; the server requires the schedule subject and its target
    # to live in the same stream, hence both under ``trigger.>``.
    allow_msg_schedules=True,
)

GRAPHRAG = StreamSpec(
    name="GRAPHRAG",
    subjects=("graphrag.>",),
    description="Knowledge-graph ingest jobs and their outcomes.",
    duplicate_window_s=DUPLICATE_WINDOW_S,
    max_age_s=7 * _DAY_S,
    max_bytes=2 * _GIB,
)

ALL_STREAMS: tuple[StreamSpec, ...] = (GATEWAY, CHAT, WORKFLOW, TRIGGER, GRAPHRAG)
"""Every stream of the fleet; their subject patterns never overlap."""

DEAD_LETTERS = StreamSpec(
    name="DEAD_LETTERS",
    subjects=("deadletter.>",),
    description="Messages a consumer could never process, kept for inspection and replay.",
    duplicate_window_s=DUPLICATE_WINDOW_S,
    max_age_s=30 * _DAY_S,
    max_bytes=1 * _GIB,
)
"""Not an event stream: the original message bodies that a consumer gave up on, one subject
per consumer (``deadletter.<consumer>``), with the reason and source in headers."""

FLEET_STREAMS: tuple[StreamSpec, ...] = (*ALL_STREAMS, DEAD_LETTERS)
"""Every stream the services declare at start-up."""


def dead_letter_subject(consumer: str) -> str:
    """``deadletter.<consumer>``: where ``consumer``'s unprocessable messages are kept."""
    return join_subject("deadletter", consumer)


def replay_subject(consumer: str) -> str:
    """``replay.<consumer>``: core-NATS request subject that hands one dead letter back to
    ``consumer`` (and only to it), answered once its handler has processed the message."""
    return join_subject("replay", consumer)


class UnknownSubject(KeyError):
    """No stream captures the given subject."""

    def __str__(self) -> str:
        # KeyError's default repr-quotes its argument, which reads badly in logs.
        return str(self.args[0]) if self.args else "unknown subject"


def _split(value: str, *, what: str) -> list[str]:
    tokens = value.split(".")
    if not value or any(not part for part in tokens):
        raise ValueError(f"malformed {what} {value!r}: empty token")
    return tokens


def _pattern_tokens(pattern: str) -> list[str]:
    tokens = _split(pattern, what="pattern")
    for index, part in enumerate(tokens):
        if part == ">" and index != len(tokens) - 1:
            raise ValueError(f"malformed pattern {pattern!r}: '>' must be the last token")
        if part not in ("*", ">") and ("*" in part or ">" in part):
            raise ValueError(f"malformed pattern {pattern!r}: wildcard inside token {part!r}")
    return tokens


def subject_matches(pattern: str, subject: str) -> bool:
    """Whether a concrete ``subject`` matches a NATS ``pattern``.

    ``*`` matches exactly one token; ``>`` (last token only) matches one or more tokens, so
    ``chat.>`` does not match ``chat``. Raises ``ValueError`` for a malformed pattern or a subject
    that is empty, has empty tokens or contains wildcards.
    """
    pattern_tokens = _pattern_tokens(pattern)
    subject_tokens = _split(subject, what="subject")
    if any("*" in part or ">" in part for part in subject_tokens):
        raise ValueError(f"subject {subject!r} must not contain wildcards")
    for index, part in enumerate(pattern_tokens):
        if part == ">":
            return len(subject_tokens) > index
        if index >= len(subject_tokens):
            return False
        if part != "*" and part != subject_tokens[index]:
            return False
    return len(subject_tokens) == len(pattern_tokens)


def subjects_overlap(first: str, second: str) -> bool:
    """Whether some concrete subject matches both patterns.

    NATS refuses streams whose subjects overlap, and a consumer filter overlapping two event
    classes would receive both, so this is checked for streams and event filters alike.
    """
    left, right = _pattern_tokens(first), _pattern_tokens(second)
    for index in range(max(len(left), len(right))):
        if index >= len(left) or index >= len(right):
            return False
        a, b = left[index], right[index]
        if a == ">" or b == ">":
            return True  # both still have a token here, and '>' takes it and any rest
        if a != "*" and b != "*" and a != b:
            return False
    return True


def stream_for_subject(subject: str) -> StreamSpec:
    """Return the stream that captures ``subject``; raise :class:`UnknownSubject` if none does."""
    for spec in ALL_STREAMS:
        if any(subject_matches(pattern, subject) for pattern in spec.subjects):
            return spec
    raise UnknownSubject(f"no stream captures subject {subject!r}")
