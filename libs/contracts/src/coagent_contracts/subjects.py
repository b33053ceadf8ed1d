"""NATS subject tokens and the subject grammar shared by every context.

Event subjects follow ``<context>.<entity>.<id>.<…noun>.<past-tense-verb>.v<major>``, e.g.
``chat.room.<room_id>.message.posted.v1``. Every token is lowercase except the id tokens, which
carry the tenancy key so consumers can filter on the server. Subjects are only ever built through
:func:`join_subject`, so an id that would break the grammar (a ``.`` splits a token in two, ``*``
and ``>`` turn a publish subject into a wildcard) is rejected before it reaches the broker.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator, WithJsonSchema

__all__ = [
    "InvalidSubjectToken",
    "SubjectToken",
    "join_subject",
    "token",
]

_FORBIDDEN = frozenset(".*>")


class InvalidSubjectToken(ValueError):
    """A value cannot be used as one token of a NATS subject."""


def token(value: str) -> str:
    """Return ``value`` unchanged if it is a valid single subject token.

    A token must be non-empty and contain no ``.``, ``*``, ``>``, whitespace or control
    characters. Raises :class:`InvalidSubjectToken` otherwise.
    """
    if not isinstance(value, str):
        raise InvalidSubjectToken(f"subject token must be a string, got {type(value).__name__}")
    if not value:
        raise InvalidSubjectToken("subject token must not be empty")
    for char in value:
        if char in _FORBIDDEN or char.isspace() or unicodedata.category(char) == "Cc":
            raise InvalidSubjectToken(f"invalid character {char!r} in subject token {value!r}")
    return value


def join_subject(*tokens: str) -> str:
    """Join tokens into a concrete (wildcard-free) subject, validating each of them."""
    if not tokens:
        raise InvalidSubjectToken("a subject needs at least one token")
    return ".".join(token(part) for part in tokens)


# ``token`` is the single authority (its error names the rule); the schema only documents it for
# the snapshots and the AsyncAPI catalogue.
SubjectToken = Annotated[
    str,
    AfterValidator(token),
    WithJsonSchema(
        {"type": "string", "minLength": 1, "pattern": r"^[^.*>\s\x00-\x1f\x7f-\x9f]+$"},
    ),
]
"""A string field that is embedded as an id token in a subject (room_id, run_id, policy_id, …)."""
