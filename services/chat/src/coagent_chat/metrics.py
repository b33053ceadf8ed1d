"""Prometheus metrics of the chat service: messages stored, by who sent them.

``sender_kind`` (human, agent, system) is the only label: never a room or a user.
"""

from __future__ import annotations

from prometheus_client import Counter

from coagent_chat.domain import Message

MESSAGES_STORED = Counter(
    "coagent_chat_messages_stored_total",
    "Messages stored in room history (a retried post is not counted twice)",
    ["sender_kind"],
)


def record_stored(message: Message) -> None:
    """Count a message once its transaction committed."""
    MESSAGES_STORED.labels(message.body.sender_kind).inc()
