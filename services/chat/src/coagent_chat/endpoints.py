"""Internal HTTP API of the chat service (called by the gateway with an identity token)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response

from coagent_chat.domain import MAX_CLIENT_MSG_ID_CHARS, Actor, NewMessage, RetentionPolicy
from coagent_chat.retention import RetentionService
from coagent_chat.schemas import (
    ActivityRead,
    MessageRead,
    PostMessage,
    RetentionRead,
    RetentionUpdate,
)
from coagent_chat.service import DEFAULT_PAGE, MAX_PAGE, ChatService
from coagent_kit.auth import Identity, InternalIdentity

router = APIRouter(prefix="/internal/rooms/{room_id}", tags=["messages"])


def _service(request: Request) -> ChatService:
    service: ChatService = request.app.state.chat
    return service


def _retention(request: Request) -> RetentionService:
    service: RetentionService = request.app.state.retention
    return service


Service = Annotated[ChatService, Depends(_service)]
Retention = Annotated[RetentionService, Depends(_retention)]
Seq = Annotated[int | None, Query(ge=0)]


def _actor(identity: InternalIdentity) -> Actor:
    return Actor(identity.user_id, identity.platform_role, identity.resource_role)


@router.post("/messages", status_code=201, responses={200: {"model": MessageRead}})
async def post_message(
    room_id: str,
    body: PostMessage,
    identity: Identity,
    chat: Service,
    response: Response,
    idempotency_key: Annotated[
        str | None,
        Header(alias="Idempotency-Key", min_length=1, max_length=MAX_CLIENT_MSG_ID_CHARS),
    ] = None,
) -> MessageRead:
    """Append a human message; 200 with the original when it retries a stored one (same key)."""
    message = NewMessage(
        room_id=room_id,
        content=body.content,
        sender_kind="human",
        sender_id=identity.user_id,
        sender_name=body.sender_name,
        thread_id=body.thread_id,
        mentions=tuple(body.mentions),
        client_msg_id=body.client_msg_id if body.client_msg_id is not None else idempotency_key,
    )
    posted = await chat.post(message)
    if not posted.created:
        response.status_code = 200
    return MessageRead.of(posted.message)


@router.get("/messages")
async def list_messages(
    room_id: str,
    identity: Identity,
    chat: Service,
    after: Annotated[Seq, Query(description="Messages after this seq")] = None,
    since: Annotated[Seq, Query(description="Same as ``after`` (older clients)")] = None,
    before: Annotated[Seq, Query(description="Messages before this seq")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = DEFAULT_PAGE,
) -> list[MessageRead]:
    """A window of the history, oldest first: the latest ``limit`` unless ``after`` is given."""
    start = after if after is not None else since
    return [MessageRead.of(m) for m in await chat.history(room_id, start, before, limit)]


@router.delete("/messages/{message_id}", status_code=204)
async def forget_message(
    room_id: str, message_id: str, identity: Identity, chat: Service
) -> Response:
    """Erase a message (its sender, course staff or an admin); a tombstone event follows."""
    await chat.forget(room_id, message_id, _actor(identity))
    return Response(status_code=204)


@router.get("/activity")
async def room_activity(room_id: str, identity: Identity, chat: Service) -> ActivityRead:
    """The room's activity counters; 404 ``activity_not_found`` before its first message."""
    return ActivityRead.of(await chat.activity(room_id))


@router.get("/retention")
async def get_retention(room_id: str, identity: Identity, retention: Retention) -> RetentionRead:
    """The room's own retention limits and the effective ones."""
    return RetentionRead.of(await retention.get(room_id))


@router.put("/retention")
async def put_retention(
    room_id: str, body: RetentionUpdate, identity: Identity, retention: Retention
) -> RetentionRead:
    """Replace the room's retention limits (course staff and admins only)."""
    policy = RetentionPolicy(max_age_days=body.max_age_days, max_messages=body.max_messages)
    return RetentionRead.of(await retention.set(room_id, policy, _actor(identity)))
