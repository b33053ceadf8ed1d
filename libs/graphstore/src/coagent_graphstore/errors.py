"""Errors of the storage ports, rendered by the kit's handler as ``{"detail", "code"}``."""

from __future__ import annotations

from coagent_kit.errors import BadRequest, Unprocessable


class InvalidScope(BadRequest):
    """A room or course id that cannot name a partition."""

    code = "invalid_scope"


class InvalidRecord(Unprocessable):
    """A record the store refuses: empty name, wrong vector dimension, unknown endpoint…"""

    code = "invalid_graph_record"


class UnknownEntity(Unprocessable):
    """A relation or merge names an entity the room's graph does not have."""

    code = "unknown_entity"


class InvalidRequest(BadRequest):
    """Paging or size caps out of range."""

    code = "invalid_graph_request"
