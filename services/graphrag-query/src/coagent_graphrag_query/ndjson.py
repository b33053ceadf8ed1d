"""Streamed answers of ``POST /api/v1/graph/{room_id}/query``, as NDJSON.

A client that sends ``Accept: application/x-ndjson`` gets one JSON object per line:

- ``{"type": "answer_delta", "text", "citations": [...]}`` for each kept claim, as soon as it
  is grounded (``text`` appends to the answer so far; ``citations`` are the claim's passages in
  the shape of the answer's ``citations``);
- then ``{"type": "answer", ...}`` with exactly the fields of the plain JSON answer;
- or, if something fails once lines have been sent, a last
  ``{"type": "error", "code", "message"}``.

A failure before the first line (a bad room id, global search without communities) is an
ordinary HTTP error, like the plain route's.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from fastapi import Request
from fastapi.responses import StreamingResponse

from coagent_graphrag_query.answers import Answer
from coagent_graphrag_query.graph_schemas import AnswerRead, CitationRead
from coagent_graphrag_query.streaming import Delta
from coagent_kit.errors import ServiceError
from coagent_kit.logging import get_logger

NDJSON = "application/x-ndjson"

log = get_logger(__name__)

Items = AsyncGenerator[Delta | Answer, None]


def wants_ndjson(request: Request) -> bool:
    """Whether the client asked for the streamed answer (``Accept: application/x-ndjson``)."""
    accepted = request.headers.get("accept", "")
    return any(part.split(";")[0].strip().lower() == NDJSON for part in accepted.split(","))


def line_of(item: Delta | Answer) -> dict[str, Any]:
    """The NDJSON object of one streamed item."""
    if isinstance(item, Delta):
        citations = [CitationRead.of(p).model_dump(mode="json") for p in item.cited]
        return {"type": "answer_delta", "text": item.text, "citations": citations}
    return {"type": "answer", **AnswerRead.of(item).model_dump(mode="json")}


def error_line(exc: Exception) -> dict[str, Any]:
    """The last line of a stream that failed after it started."""
    if isinstance(exc, ServiceError):
        return {"type": "error", "code": exc.code, "message": exc.detail}
    return {"type": "error", "code": "internal_error", "message": "Internal server error"}


def _encoded(line: dict[str, Any]) -> bytes:
    return (json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


async def ndjson_answer(items: Items) -> StreamingResponse:
    """The streamed response; waits for the first item so early failures stay HTTP errors."""
    try:
        first = await anext(items)
    except BaseException:
        await items.aclose()
        raise
    return StreamingResponse(
        _lines(first, items), media_type=NDJSON, headers={"cache-control": "no-store"}
    )


async def _lines(first: Delta | Answer, items: Items) -> AsyncIterator[bytes]:
    try:
        yield _encoded(line_of(first))
        async for item in items:
            yield _encoded(line_of(item))
    except Exception as exc:
        if not isinstance(exc, ServiceError):
            log.exception("answer_stream_failed")
        yield _encoded(error_line(exc))
    finally:
        # A client that leaves early stops the composer too.
        await items.aclose()
