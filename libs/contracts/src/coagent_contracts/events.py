"""The union of every event of every context, for code that consumes more than one context.

A consumer bound to one context should prefer that context's adapter (``CHAT_EVENTS``, …); this
one serves generic plumbing such as the outbox relay, dead-letter inspection and the AsyncAPI
catalogue.
"""

from __future__ import annotations

from pydantic import TypeAdapter

from coagent_contracts.chat import CHAT_EVENT_TYPES, ChatEvent
from coagent_contracts.envelope import Event, tagged_union
from coagent_contracts.gateway import GATEWAY_EVENT_TYPES, GatewayEvent
from coagent_contracts.graphrag import GRAPHRAG_EVENT_TYPES, GraphragEvent
from coagent_contracts.trigger import TRIGGER_EVENT_TYPES, TriggerEvent
from coagent_contracts.workflow import WORKFLOW_EVENT_TYPES, WorkflowEvent

__all__ = ["ALL_EVENT_TYPES", "ANY_EVENT", "AnyEvent", "event_type_for_tag", "parse_event"]

AnyEvent = GatewayEvent | ChatEvent | TriggerEvent | WorkflowEvent | GraphragEvent
"""Static type of any event of the fleet."""

ALL_EVENT_TYPES: tuple[type[Event], ...] = (
    *GATEWAY_EVENT_TYPES,
    *CHAT_EVENT_TYPES,
    *TRIGGER_EVENT_TYPES,
    *WORKFLOW_EVENT_TYPES,
    *GRAPHRAG_EVENT_TYPES,
)
"""Every event class of every context."""

ANY_EVENT: TypeAdapter[AnyEvent] = TypeAdapter(tagged_union(*ALL_EVENT_TYPES))
"""Validates any event of the fleet, discriminating on ``type`` and ``version``."""

_BY_TAG: dict[str, type[Event]] = {cls.TAG: cls for cls in ALL_EVENT_TYPES}


def parse_event(raw: bytes | str) -> AnyEvent:
    """Parse a JSON message body into its concrete event class.

    Raises ``pydantic.ValidationError`` for malformed JSON, an unknown ``type``/``version`` pair
    or an invalid payload, so consumers can terminate and dead-letter the message.
    """
    return ANY_EVENT.validate_json(raw)


def event_type_for_tag(tag: str) -> type[Event]:
    """Return the event class for a ``"<type>.v<version>"`` tag; ``KeyError`` if unknown."""
    return _BY_TAG[tag]
