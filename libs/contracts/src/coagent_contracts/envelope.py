"""The envelope every integration event shares, plus ids, timestamps and union plumbing.

A concrete event subclasses :class:`Event`, narrows ``type`` and ``version`` with ``Literal``
defaults, types ``data`` with a frozen :class:`EventData` model, declares its consumer ``FILTER``
and builds its ``subject`` from ``data``. Wire evolution rules: new *optional* fields may be added
to an existing version (old consumers ignore them, ``extra="ignore"``); anything else is a new
``V2`` class with a ``.v2`` subject, published side by side until consumers have moved.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from abc import abstractmethod
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Literal, Union, get_args, get_origin

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
)

__all__ = [
    "Event",
    "EventData",
    "UtcDatetime",
    "event_tag",
    "new_event_id",
    "tagged_union",
    "utc_now",
    "uuid7",
]

# ---------------------------------------------------------------------------- UUIDv7

_RAND_BITS = 74  # 12 bits of rand_a + 62 bits of rand_b (RFC 9562 §5.7)
_RAND_LIMIT = 1 << _RAND_BITS
_uuid7_lock = threading.Lock()
_last_ms = 0
_last_rand = 0


def _reset_uuid7_state() -> None:
    # A forked child would otherwise continue the parent's counter and could mint the very ids
    # the parent mints next in the same millisecond.
    global _last_ms, _last_rand
    _last_ms = 0
    _last_rand = 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_uuid7_state)


def _fresh_random() -> int:
    return int.from_bytes(os.urandom(10), "big") >> (80 - _RAND_BITS)


def uuid7() -> uuid.UUID:
    """Return a new RFC 9562 UUID version 7.

    48-bit Unix timestamp in milliseconds, version 7, RFC 4122 variant, 74 random bits. Ids are
    strictly increasing within a process: inside one millisecond (or if the wall clock steps
    back) the previous random part is incremented instead of redrawn, so sorting ids sorts
    events by creation order.
    """
    global _last_ms, _last_rand
    with _uuid7_lock:
        now_ms = time.time_ns() // 1_000_000
        if now_ms > _last_ms:
            ms, rand = now_ms, _fresh_random()
        else:
            ms, rand = _last_ms, _last_rand + 1
            if rand >= _RAND_LIMIT:
                # Counter exhausted: borrow the next millisecond rather than break ordering.
                ms, rand = ms + 1, _fresh_random()
        _last_ms, _last_rand = ms, rand
    value = (
        ((ms & 0xFFFF_FFFF_FFFF) << 80)
        | (0x7 << 76)
        | ((rand >> 62) << 64)
        | (0b10 << 62)
        | (rand & ((1 << 62) - 1))
    )
    return uuid.UUID(int=value)


def new_event_id() -> str:
    """Return a fresh event id: the canonical string form of a :func:`uuid7`."""
    return str(uuid7())


def utc_now() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(UTC)


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
"""An aware datetime (naive input is rejected), normalised to UTC so equal instants compare and
serialise identically whatever offset the producer used."""

# ---------------------------------------------------------------------------- models


class EventData(BaseModel):
    """Base of every event payload: immutable, tolerant of fields added by newer producers."""

    model_config = ConfigDict(frozen=True, extra="ignore", use_attribute_docstrings=True)


class Event(BaseModel):
    """Base of every integration event (the envelope).

    Concrete subclasses set ``type`` and ``version`` as ``Literal`` defaults, a ``FILTER``
    wildcard subject for consumers, and implement :attr:`subject`. ``TAG`` (``"<type>.v<version>"``)
    is derived automatically and is the discriminator value in the context unions.
    """

    model_config = ConfigDict(frozen=True, extra="ignore", use_attribute_docstrings=True)

    FILTER: ClassVar[str]
    """Wildcard subject matching every instance of this event class (for consumer filters)."""
    TAG: ClassVar[str]
    """``"<type>.v<version>"``: the discriminator tag and the schema snapshot name."""

    event_id: str = Field(default_factory=new_event_id, min_length=1)
    type: str
    version: int
    occurred_at: UtcDatetime = Field(default_factory=utc_now)
    producer: str = Field(min_length=1)
    correlation_id: str | None = None
    causation_id: str | None = None
    data: EventData

    @field_validator("version", mode="before")
    @classmethod
    def _version_is_not_a_bool(cls, value: object) -> object:
        # ``True == 1`` in Python, so JSON ``true`` would otherwise satisfy ``Literal[1]``.
        if isinstance(value, bool):
            raise ValueError("version must be an integer, not a boolean")
        return value

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        """Derive ``TAG`` and refuse concrete events that could not be routed or discriminated."""
        super().__pydantic_init_subclass__(**kwargs)
        type_field = cls.model_fields["type"]
        version_field = cls.model_fields["version"]
        if not isinstance(type_field.default, str) or not isinstance(version_field.default, int):
            return  # an abstract intermediate class: nothing to check yet
        for name, field in (("type", type_field), ("version", version_field)):
            # A plain ``str``/``int`` with a default would let a payload of another type through.
            if get_origin(field.annotation) is not Literal or get_args(field.annotation) != (
                field.default,
            ):
                raise TypeError(f"{cls.__name__}.{name} must be a single-value Literal")
        if not isinstance(getattr(cls, "FILTER", None), str):
            raise TypeError(f"{cls.__name__} must declare FILTER: ClassVar[str]")
        cls.TAG = f"{type_field.default}.v{version_field.default}"

    @property
    @abstractmethod
    def subject(self) -> str:
        """The concrete subject this event is published on, built from its data."""

    @property
    def msg_id(self) -> str:
        """The ``Nats-Msg-Id`` header value that makes publishing this event idempotent."""
        return self.event_id


# ---------------------------------------------------------------------------- unions


def event_tag(value: Any) -> str | None:
    """Discriminator callable: ``"<type>.v<version>"`` of a raw dict or an event instance.

    Returns ``None`` when either key is missing or ill-typed, which pydantic reports as a
    validation error (so a consumer can dead-letter it) instead of guessing a member.
    """
    if isinstance(value, dict):
        type_, version = value.get("type"), value.get("version")
    else:
        type_, version = getattr(value, "type", None), getattr(value, "version", None)
    # bool is an int subclass; ``true`` must not be read as version 1.
    if not isinstance(type_, str) or isinstance(version, bool) or not isinstance(version, int):
        return None
    return f"{type_}.v{version}"


def tagged_union(*classes: type[Event]) -> Any:
    """Build the discriminated-union type over ``classes``, discriminating on type and version.

    Typed ``Any`` because the union is assembled at runtime; each context pairs it with a
    static alias for callers (e.g. ``TypeAdapter[ChatEvent]``).
    """
    if not classes:
        raise ValueError("a union needs at least one event class")
    tags = [cls.TAG for cls in classes]
    if len(set(tags)) != len(tags):
        raise ValueError(f"duplicate event tags in union: {tags}")
    members = tuple(Annotated[cls, Tag(cls.TAG)] for cls in classes)
    return Annotated[Union[members], Discriminator(event_tag)]  # noqa: UP007 - runtime tuple
