"""Room history over HTTP: read (paged by ``seq``), post (idempotent), forget, retention.

Membership is checked here; what only the chat service can judge (whether the caller wrote the
message being forgotten, whether a retried post is a duplicate) is left to it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from coagent_gateway.auth.dependencies import CurrentUser
from coagent_gateway.chat.service import ChatGateway, NewPost
from coagent_gateway.policy import Action

router = APIRouter()
MAX_CONTENT = 32_000
#: Printable ASCII only (the key travels on as a header), as long as chat keeps them.
KEY_PATTERN = r"^[\x21-\x7e]{1,128}$"


def _chat(request: Request) -> ChatGateway:
    chat: ChatGateway = request.app.state.chat
    return chat


Chat = Annotated[ChatGateway, Depends(_chat)]


class PostMessageBody(BaseModel):
    """A message from the caller. Retrying with the same ``client_msg_id`` stores it once."""

    model_config = ConfigDict(extra="forbid")

    content: str = Field(min_length=1, max_length=MAX_CONTENT)
    client_msg_id: str | None = Field(default=None, pattern=KEY_PATTERN)
    thread_id: str | None = Field(default=None, min_length=1, max_length=64)
    mentions: list[Annotated[str, Field(min_length=1, max_length=255)]] = Field(
        default_factory=list, max_length=50
    )


class RetentionRule(BaseModel):
    """How long a room keeps messages; ``null`` falls back to the platform default."""

    model_config = ConfigDict(extra="forbid")

    max_age_days: float | None = Field(default=None, gt=0, le=36_500)
    max_messages: int | None = Field(default=None, ge=1, le=1_000_000_000)


class RetentionRead(BaseModel):
    """The room's own rule and the one in force (after platform defaults)."""

    room_id: str
    max_age_days: float | None = None
    max_messages: int | None = None
    effective_max_age_days: float | None = None
    effective_max_messages: int | None = None


@router.get("/messages/{room_id}")
async def room_history(
    room_id: str,
    user: CurrentUser,
    chat: Chat,
    since: Annotated[int | None, Query(ge=0, description="Alias of `after`")] = None,
    after: Annotated[int | None, Query(ge=0, description="Only messages with a larger seq")] = None,
    before: Annotated[
        int | None, Query(ge=1, description="Only messages with a smaller seq")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[dict[str, Any]]:
    """The room's messages, oldest first: after ``after``/``since``, before ``before``, or else
    the latest ``limit``. Items are the WebSocket's message frames (``seq``, ``id``, ...)."""
    identity = await chat.authorize(user, room_id, Action.ROOM_READ)
    return await chat.history(
        identity, room_id, after if after is not None else since, limit, before
    )


@router.post(
    "/messages/{room_id}",
    status_code=201,
    responses={200: {"description": "A retry of an already stored message (same key)"}},
)
async def post_message(
    room_id: str,
    body: PostMessageBody,
    user: CurrentUser,
    chat: Chat,
    response: Response,
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", pattern=KEY_PATTERN)
    ] = None,
) -> dict[str, Any]:
    """Post a message as the caller (201); a retry with the same key answers 200, once stored.

    Every socket of the room gets the message frame, the caller's included.
    """
    identity = await chat.authorize(user, room_id, Action.ROOM_CHAT)
    post = NewPost(
        body.content,
        client_msg_id=body.client_msg_id,
        thread_id=body.thread_id,
        mentions=body.mentions,
        idempotency_key=idempotency_key,
    )
    frame, created = await chat.post_message(identity, user, room_id, post)
    if not created:
        response.status_code = 200
    return frame


@router.delete("/messages/{room_id}/{message_id}", status_code=204)
async def forget_message(room_id: str, message_id: str, user: CurrentUser, chat: Chat) -> Response:
    """Forget a message (its sender, course staff or an admin): gone from history, and every
    socket of the room gets a ``message_deleted`` frame."""
    identity = await chat.authorize(user, room_id, Action.ROOM_CHAT)
    await chat.delete_message(identity, room_id, message_id)
    return Response(status_code=204)


@router.get("/rooms/{room_id}/retention")
async def get_retention(room_id: str, user: CurrentUser, chat: Chat) -> RetentionRead:
    """The room's retention rule and the one in force."""
    identity = await chat.authorize(user, room_id, Action.ROOM_READ)
    return RetentionRead.model_validate(await chat.retention(identity, room_id))


@router.put("/rooms/{room_id}/retention")
async def put_retention(
    room_id: str, rule: RetentionRule, user: CurrentUser, chat: Chat
) -> RetentionRead:
    """Set the room's retention rule (course staff); older messages are pruned by chat."""
    identity = await chat.authorize(user, room_id, Action.ROOM_UPDATE)
    answer = await chat.retention(identity, room_id, rule.model_dump())
    return RetentionRead.model_validate(answer)
