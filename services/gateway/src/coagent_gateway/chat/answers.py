"""The ``ask`` op of ``/api/v1/ws``: a question about a room, answered as it is written.

The gateway asks graphrag-query's streamed query route (``Accept: application/x-ndjson``) with
the caller's identity and relays each line to the asking socket only: ``answer_delta`` frames
(each a grounded claim and its citations), then one ``answer`` (the fields of the HTTP answer)
or one ``error``. A socket runs at most :data:`MAX_ASKS` questions at once; closing it cancels
them, which also stops the upstream request.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from coagent_gateway.adapters.services_http import ServiceClient, path_segment
from coagent_kit.auth import InternalIdentity
from coagent_kit.errors import BadRequest, ServiceError
from coagent_kit.logging import get_logger

SERVICE = "graphrag-query"
NDJSON = "application/x-ndjson"
#: Questions one socket may have running at once.
MAX_ASKS = 3
MODES = ("auto", "basic", "local", "global")
#: A question still unanswered after this long is given up (its slot is freed).
ASK_TIMEOUT_S = 180.0
#: The query route's own limit: refused here before any upstream call.
MAX_QUESTION = 4000

log = get_logger(__name__)

Send = Callable[[dict[str, Any]], Awaitable[None]]


class TooManyAsks(ServiceError):
    status, code = 429, "too_many_asks"


class UpstreamBroken(ServiceError):
    """graphrag-query answered with something that is not the answer stream."""

    status, code = 502, "bad_upstream"


@dataclass(frozen=True, slots=True)
class Question:
    room_id: str
    text: str
    mode: str = "auto"
    level: int | None = None

    def body(self) -> bytes:
        """The query route's JSON body."""
        fields: dict[str, Any] = {"question": self.text, "mode": self.mode}
        if self.level is not None:
            fields["level"] = self.level
        return json.dumps(fields).encode()


def question_of(room_id: str, message: dict[str, Any]) -> Question:
    """The question an ``ask`` frame asks; a clear ``bad_request`` for malformed fields."""
    text, mode, level = message.get("question"), message.get("mode", "auto"), message.get("level")
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_QUESTION:
        raise BadRequest(f"question must be a non-empty string of at most {MAX_QUESTION} chars")
    if mode is None:
        mode = "auto"
    if mode not in MODES:
        raise BadRequest(f"mode must be one of {', '.join(MODES)}")
    if level is not None and (not isinstance(level, int) or isinstance(level, bool) or level < 0):
        raise BadRequest("level must be a non-negative integer")
    return Question(room_id, text, str(mode), level)


def relayed(item: object, rid: object, topic: str) -> tuple[dict[str, Any] | None, bool]:
    """The socket frame of one NDJSON line (None for kinds this gateway does not know), and
    whether the line ends the answer."""
    if not isinstance(item, dict):
        raise UpstreamBroken("The answer stream sent a line that is not a JSON object")
    kind = item.get("type")
    if kind == "answer_delta":
        text, citations = item.get("text", ""), item.get("citations", [])
        delta = {"op": "answer_delta", "id": rid, "topic": topic, "text": text}
        return {**delta, "citations": citations}, False
    if kind == "answer":
        fields = {k: v for k, v in item.items() if k != "type"}
        return {**fields, "op": "answer", "id": rid, "topic": topic}, True
    if kind == "error":
        code, detail = item.get("code", "internal_error"), item.get("message", "")
        return {"op": "error", "id": rid, "code": code, "detail": detail}, True
    return None, False


def _decoded(line: str) -> object:
    try:
        return json.loads(line)
    except ValueError as exc:
        raise UpstreamBroken("The answer stream sent a line that is not JSON") from exc


async def _one_chunk(body: bytes) -> AsyncIterator[bytes]:
    yield body


def _refusal(response: httpx.Response) -> ServiceError:
    """The error an upstream refusal (e.g. 409 ``communities_not_built``) stands for."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("code"), str):
        detail = body.get("detail")
        return ServiceError(
            detail if isinstance(detail, str) else json.dumps(detail),
            code=body["code"],
            status=response.status_code,
        )
    return UpstreamBroken(f"The {SERVICE} service answered {response.status_code}")


class Asks:
    """The questions one socket has running."""

    def __init__(self, services: ServiceClient | None, send: Send, limit: int = MAX_ASKS) -> None:
        self._services, self._send, self._limit = services, send, limit
        self._tasks: set[asyncio.Task[None]] = set()
        self.timeout_s = ASK_TIMEOUT_S

    @property
    def running(self) -> int:
        return len(self._tasks)

    def start(self, identity: InternalIdentity, question: Question, rid: object) -> None:
        """Answer ``question`` in the background; refused beyond the socket's limit."""
        if self._services is None:
            raise BadRequest("Questions are not answered here", code="unsupported_op")
        if len(self._tasks) >= self._limit:
            raise TooManyAsks(f"At most {self._limit} questions at once on one connection")
        task = asyncio.create_task(self._answer(self._services, identity, question, rid))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """Cancel every running question and wait until each has let go of its request."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _answer(
        self, services: ServiceClient, identity: InternalIdentity, question: Question, rid: object
    ) -> None:
        try:
            async with asyncio.timeout(self.timeout_s):
                await self._relay(services, identity, question, rid)
        except TimeoutError:
            await self._fail(rid, "answer_timeout", f"No answer within {self.timeout_s:g} s")
        except ServiceError as exc:
            await self._fail(rid, exc.code, exc.detail)
        except httpx.HTTPError as exc:
            log.warning("ask_stream_failed", room_id=question.room_id, error=str(exc))
            await self._fail(rid, "service_unavailable", f"The {SERVICE} service stopped answering")
        except Exception as exc:  # a socket closed under a send: the session ends the rest
            log.info("ask_abandoned", room_id=question.room_id, error=repr(exc))

    async def _relay(
        self, services: ServiceClient, identity: InternalIdentity, question: Question, rid: object
    ) -> None:
        response = await services.open_stream(
            SERVICE,
            "POST",
            f"/api/v1/graph/{path_segment(question.room_id)}/query",
            identity,
            headers={"accept": NDJSON, "content-type": "application/json"},
            content=_one_chunk(question.body()),
        )
        try:
            if response.status_code != 200:
                await response.aread()
                raise _refusal(response)
            topic = f"room:{question.room_id}"
            async for line in response.aiter_lines():
                if not line.strip():
                    continue
                frame, last = relayed(_decoded(line), rid, topic)
                if frame is not None:
                    await self._send(frame)
                if last:
                    return
            raise UpstreamBroken("The answer stream ended before the answer")
        finally:
            await response.aclose()

    async def _fail(self, rid: object, code: str, detail: str) -> None:
        # The socket may be gone already; then nobody is left to tell.
        with contextlib.suppress(Exception):
            await self._send({"op": "error", "id": rid, "code": code, "detail": detail})
