"""The chat routes under ``/api/v1/chat``: the room WebSocket ``/ws/{room_id}`` here, the HTTP
history routes in :mod:`coagent_gateway.chat.messages`."""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import urlsplit

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from coagent_gateway.auth.dependencies import ACCESS_COOKIE
from coagent_gateway.auth.service import AuthService
from coagent_gateway.chat.delivery import deliver_span, receive_span
from coagent_gateway.chat.frames import frame_text
from coagent_gateway.chat.live import REVOKED, Check, Outbox, RoomHub
from coagent_gateway.chat.messages import router as messages_router
from coagent_gateway.chat.service import ChatGateway, display_name
from coagent_gateway.domain import User
from coagent_gateway.metrics import connected, disconnected, frame_sent
from coagent_gateway.policy import Action
from coagent_kit.auth import InternalIdentity
from coagent_kit.errors import ServiceError

router = APIRouter(prefix="/api/v1/chat", tags=["chat"])
#: Application close codes: 4000 + the HTTP status of the refusal, so clients can tell why.
SLOW_CONSUMER = 4008
REVOKED_ACCESS = 4403
REPLAY_LIMIT = 500
router.include_router(messages_router)


@router.websocket("/ws/{room_id}")
async def room_socket(websocket: WebSocket, room_id: str, since: int | None = None) -> None:
    """Raw text in, JSON frames out; the sender's own message comes back like everyone's."""
    await websocket.accept()
    state = websocket.app.state
    try:
        user = await handshake_user(websocket, state.auth)
        identity = await state.chat.authorize(user, room_id, Action.ROOM_CHAT)
    except ServiceError as refusal:
        await websocket.close(code=4000 + refusal.status, reason=refusal.detail[:120])
        return
    hub: RoomHub = state.room_hub
    outbox = Outbox()
    check = access_check(state.chat, user, room_id, Action.ROOM_CHAT)
    listener = await hub.enter(room_id, outbox, user.id, display_name(user), check)
    connected("room")
    pump = asyncio.create_task(_pump(websocket, outbox, state.chat, identity, room_id, since))
    receive = asyncio.create_task(_receive(websocket, state.chat, identity, user, room_id))
    try:
        # Either side may end it: the client leaves, or the pump closes (slow, revoked).
        await asyncio.wait({pump, receive}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        disconnected("room")
        await hub.exit(listener)
        for task in (pump, receive):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def access_check(chat: ChatGateway, user: User, room_id: str, action: Action) -> Check:
    """Re-checks ``action`` on the room for ``user`` (after a membership change)."""

    async def allowed() -> bool:
        try:
            await chat.authorize(user, room_id, action)
        except ServiceError:
            return False
        return True

    return allowed


async def handshake_user(websocket: WebSocket, auth: AuthService) -> User:
    """The user of a WebSocket handshake: the access cookie, else ``?token=``.

    A browser page from another origin is refused even with a valid cookie: that would be
    cross-site WebSocket hijacking.
    """
    if not _origin_allowed(websocket):
        raise ServiceError("Origin not allowed", code="origin_not_allowed", status=403)
    token = websocket.cookies.get(ACCESS_COOKIE) or websocket.query_params.get("token")
    if not token:
        raise ServiceError("Not authenticated", code="not_authenticated", status=401)
    return await auth.authenticate(token)


def _origin_allowed(websocket: WebSocket) -> bool:
    origin = websocket.headers.get("origin")
    if origin is None:
        return True  # not a browser: programs authenticate with their own credentials
    if urlsplit(origin).netloc == websocket.headers.get("host"):
        return True
    allowed: list[str] = getattr(websocket.app.state.settings, "allowed_origins", [])
    return origin.rstrip("/") in {o.rstrip("/") for o in allowed}


async def _receive(
    websocket: WebSocket, chat: ChatGateway, identity: InternalIdentity, user: User, room_id: str
) -> None:
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            text = await websocket.receive_text()
            if not text.strip():
                continue
            try:
                with receive_span(room_id, user.id):
                    await chat.post(identity, user, room_id, text)
            except ServiceError as exc:
                await websocket.send_json(
                    {"type": "system", "sender": "System", "content": exc.detail, "code": exc.code}
                )


async def _pump(
    websocket: WebSocket,
    outbox: Outbox,
    chat: ChatGateway,
    identity: InternalIdentity,
    room_id: str,
    since: int | None,
) -> None:
    """Replay what the client missed, then live frames, each ``seq`` at most once.

    Ephemeral frames (presence, typing) have no ``seq`` and always pass.
    """
    last_seq = since or 0
    if since is not None:
        for missed in await chat.history(identity, room_id, since, REPLAY_LIMIT):
            await websocket.send_json(missed)
            frame_sent("room")
            last_seq = max(last_seq, missed["seq"])
    while (item := await outbox.next()) is not None:
        frame = item[1]
        if frame is REVOKED:
            await websocket.close(code=REVOKED_ACCESS, reason="access to this room was revoked")
            return
        seq = frame.get("seq")
        if isinstance(seq, int) and seq <= last_seq:
            continue  # already replayed
        with deliver_span(f"room:{room_id}", frame):
            await websocket.send_text(frame_text(frame))
        frame_sent("room")
        if isinstance(seq, int):
            last_seq = seq
    await websocket.close(code=SLOW_CONSUMER, reason="slow consumer: reconnect with ?since=<seq>")
