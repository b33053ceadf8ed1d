"""Internal HTTP API of the chat service (called by the gateway with an identity token)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from coagent_chat.domain import NewMessage
from coagent_chat.schemas import MessageRead, PostMessage
from coagent_chat.service import ChatService
from coagent_kit.auth import Identity

router = APIRouter(prefix="/internal/rooms/{room_id}", tags=["messages"])


def _service(request: Request) -> ChatService:
    service: ChatService = request.app.state.chat
    return service


Service = Annotated[ChatService, Depends(_service)]


@router.post("/messages", status_code=201)
async def post_message(
    room_id: str, body: PostMessage, identity: Identity, chat: Service
) -> MessageRead:
    """Append a human message to the room's history."""
    message = NewMessage(
        room_id=room_id,
        content=body.content,
        sender_kind="human",
        sender_id=identity.user_id,
        sender_name=body.sender_name,
        thread_id=body.thread_id,
        mentions=tuple(body.mentions),
    )
    return MessageRead.of(await chat.post_message(message))


@router.get("/messages")
async def list_messages(
    room_id: str,
    identity: Identity,
    chat: Service,
    since: Annotated[int, Query(ge=0, description="Return messages after this seq")] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[MessageRead]:
    """The room's history after ``since``, oldest first."""
    return [MessageRead.of(m) for m in await chat.history(room_id, since, limit)]
