"""``/api/v1/ws``: one connection, many subscriptions, each resuming from its own ``seq``.

Client → server (JSON): ``{"op": "subscribe", "topic": "room:<id>" | "run:<id>", "since": <seq>?,
"id": …}``,
``{"op": "unsubscribe", "topic": …}``,
``{"op": "post", "topic": "room:<id>", "content": …, "client_msg_id": …?}`` (a retry with the same
``client_msg_id`` is stored once and answered like the first),
``{"op": "typing", "topic": "room:<id>"}`` (a subscribed room; rate-limited, no answer),
``{"op": "ask", "topic": "room:<id>", "question": …, "mode": "auto" | "basic" | "local" |
"global"?, "level": <int>?, "id": …}`` (a question about a room the caller may read;
no subscription needed),
``{"op": "ping"}``. Server → client: ``{"op": "event", "topic", "data": <frame>}``,
``{"op": "subscribed" | "unsubscribed" | "posted" | "pong", "id", …}`` (``posted`` carries the
message's ``seq``, ``message_id`` and ``client_msg_id``),
``{"op": "revoked", "topic"}`` (access lost: the subscription is gone),
``{"op": "answer_delta", "id", "topic", "text", "citations"}`` (one grounded claim of an ``ask``,
to the asking socket only), then ``{"op": "answer", "id", "topic", …}`` (the fields of the
HTTP answer of ``POST /api/v1/graph/{room_id}/query``) or an ``error`` with the ask's ``id``
(see :mod:`~coagent_gateway.chat.answers`; at most 3 asks run at once, ``too_many_asks``
beyond) and ``{"op": "error", "code", "detail", "id"}``. Frames of a topic arrive in ``seq``
order, each once, including across a replay; ephemeral frames (``presence``, ``typing``,
``message_delta``) and tombstones (``message_deleted``) have no ``seq``.

A ``run:<id>`` topic follows one workflow run (see :mod:`~coagent_gateway.chat.runs`): its
``seq`` is the event's JetStream stream sequence, ``since`` replays the events after it (without
``since``: only new ones), and its ``subscribed`` answer carries the run's current ``status``.
Runs the caller may not follow are refused like rooms (``run_not_found``). ``post`` and
``typing`` take room topics only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from coagent_gateway.adapters.services_http import ServiceClient
from coagent_gateway.chat.answers import Asks, question_of
from coagent_gateway.chat.delivery import deliver_span, receive_span
from coagent_gateway.chat.endpoints import SLOW_CONSUMER, access_check, handshake_user
from coagent_gateway.chat.frames import event_text
from coagent_gateway.chat.live import REVOKED, Listener, Outbox, RoomHub
from coagent_gateway.chat.messages import KEY_PATTERN
from coagent_gateway.chat.runs import RunFeed, RunTopics
from coagent_gateway.chat.service import ChatGateway, display_name
from coagent_gateway.domain import User
from coagent_gateway.metrics import connected, disconnected, frame_sent
from coagent_gateway.policy import Action
from coagent_kit.auth import InternalIdentity
from coagent_kit.errors import ServiceError

router = APIRouter(prefix="/api/v1")
MAX_SUBSCRIPTIONS = 100
#: Same rule as the HTTP route's ``client_msg_id``: the key travels on as a header value.
CLIENT_MSG_ID = re.compile(KEY_PATTERN)
REPLAY_LIMIT = 500
#: Position of a frame within its ``seq``: a resume point ``since`` covers every part of it.
LAST_PART = sys.maxsize
Position = tuple[int, int]


class BadRequest(ValueError):
    """A client frame that cannot be acted on; answered with an ``error`` frame."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code


class MuxSession:
    """The state of one multiplexed connection."""

    def __init__(
        self,
        ws: WebSocket,
        user: User,
        chat: ChatGateway,
        hub: RoomHub,
        runs: RunTopics | None = None,
        services: ServiceClient | None = None,
    ) -> None:
        self._ws, self._user, self._chat, self._hub, self._runs = ws, user, chat, hub, runs
        self.outbox = Outbox()
        self._send_lock = asyncio.Lock()
        self.asks = Asks(services, self.send)
        self._subs: dict[str, tuple[Listener, InternalIdentity]] = {}
        self._feeds: dict[str, RunFeed] = {}
        self._unwatch: dict[str, Callable[[], None]] = {}
        self._last_seq: dict[str, Position] = {}
        self._replaying: dict[str, list[dict[str, Any]]] = {}

    async def send(self, message: dict[str, Any]) -> None:
        """Send one JSON frame; receive loop and pump never interleave partial writes."""
        async with self._send_lock:
            await self._ws.send_json(message)

    async def handle(self, raw: str) -> None:
        """Act on one client frame."""
        request_id: object = None
        try:
            message = _parse(raw)
            request_id = message.get("id")
            await self._dispatch(message)
        except BadRequest as exc:
            await self.send({"op": "error", "code": exc.code, "detail": str(exc), "id": request_id})
        except ServiceError as exc:
            await self.send(
                {"op": "error", "code": exc.code, "detail": exc.detail, "id": request_id}
            )

    async def _dispatch(self, message: dict[str, Any]) -> None:
        op, rid = message.get("op"), message.get("id")
        if op == "ping":
            await self.send({"op": "pong", "id": rid})
        elif op == "subscribe":
            kind, ident = _topic_of(message)
            if kind == "run":
                await self._subscribe_run(ident, message.get("since"), rid)
            else:
                await self._subscribe(ident, message.get("since"), rid)
        elif op == "unsubscribe":
            kind, ident = _topic_of(message)
            await self._unsubscribe(f"{kind}:{ident}")
            await self.send({"op": "unsubscribed", "topic": message.get("topic"), "id": rid})
        elif op == "typing":
            await self._typing(_room_of(message))
        elif op == "ask":
            room_id = _room_of(message)
            question = question_of(room_id, message)
            identity = await self._chat.authorize(self._user, room_id, Action.ROOM_READ)
            self.asks.start(identity, question, rid)
        elif op == "post":
            room_id = _room_of(message)
            with receive_span(room_id, self._user.id):
                await self._post(room_id, message.get("content"), message.get("client_msg_id"), rid)
        else:
            raise BadRequest("unknown_op", f"Unknown op {op!r}")

    def _check_subscribe(self, topic: str, since: object) -> int | None:
        """``since`` once the subscription may be made."""
        taken = len(self._subs) + len(self._feeds)
        if topic not in self._subs and topic not in self._feeds and taken >= MAX_SUBSCRIPTIONS:
            raise BadRequest("too_many_subscriptions", f"At most {MAX_SUBSCRIPTIONS} topics")
        if since is not None and (
            not isinstance(since, int) or isinstance(since, bool) or since < 0
        ):
            raise BadRequest("bad_request", "since must be a non-negative integer")
        return since

    async def _subscribe(self, room_id: str, since: object, rid: object) -> None:
        topic = f"room:{room_id}"
        self._check_subscribe(topic, since)
        identity = await self._chat.authorize(self._user, room_id, Action.ROOM_READ)
        await self._unsubscribe(topic)
        self._replaying[topic] = []  # hold live frames until the replay is out
        check = access_check(self._chat, self._user, room_id, Action.ROOM_READ)
        name = display_name(self._user)
        listener = await self._hub.enter(room_id, self.outbox, self._user.id, name, check)
        self._subs[topic] = (listener, identity)
        self._last_seq[topic] = (since if isinstance(since, int) else 0, LAST_PART)
        await self.send({"op": "subscribed", "topic": topic, "id": rid})
        try:
            if isinstance(since, int):
                for frame in await self._chat.history(identity, room_id, since, REPLAY_LIMIT):
                    await self._deliver(topic, frame)
        finally:
            for frame in self._replaying.pop(topic, []):
                await self._deliver(topic, frame)

    async def _subscribe_run(self, run_id: str, since: object, rid: object) -> None:
        """Authorise, then follow the run: replay after ``since`` and live, as one flow."""
        topic = f"run:{run_id}"
        after = self._check_subscribe(topic, since)
        if self._runs is None:
            raise BadRequest("unsupported_topic", "Run topics are not served here")
        info = await self._runs.access.authorize(self._user, run_id)
        await self._unsubscribe(topic)
        feed = RunFeed(run_id, self.outbox, after)
        self._replaying[topic] = []  # hold frames until ``subscribed`` is out
        try:
            feed.stop = await self._runs.events.follow(feed, after)
            self._feeds[topic] = feed
            if info.room_id is not None:
                self._unwatch[topic] = self._hub.watch(
                    info.room_id, self._user.id, self._run_recheck(run_id, feed)
                )
            self._last_seq[topic] = (after or 0, LAST_PART)
            await self.send({"op": "subscribed", "topic": topic, "id": rid, "status": info.status})
        finally:
            for frame in self._replaying.pop(topic, []):
                if self._current(topic, frame):
                    await self._deliver(topic, frame)

    def _run_recheck(self, run_id: str, feed: RunFeed) -> Callable[[], Awaitable[None]]:
        """After a removal from the run's room: keep following only if still allowed (the run's
        creator and admins are), else revoke the topic like a room's."""

        async def recheck() -> None:
            if self._runs is None:
                return
            try:
                await self._runs.access.authorize(self._user, run_id)
            except ServiceError:
                feed.revoked = True
                self.outbox.revoke(feed.topic)

        return recheck

    def _current(self, topic: str, frame: dict[str, Any]) -> bool:
        """Whether ``frame`` belongs to the topic's live subscription."""
        if topic in self._subs:
            return True
        feed = self._feeds.get(topic)
        return feed is not None and getattr(frame, "feed", None) is feed

    async def _unsubscribe(self, topic: str) -> None:
        entry = self._subs.pop(topic, None)
        feed = self._feeds.pop(topic, None)
        unwatch = self._unwatch.pop(topic, None)
        if unwatch is not None:
            unwatch()
        self._last_seq.pop(topic, None)
        if entry is not None:
            await self._hub.exit(entry[0])
        if feed is not None:
            await feed.close()

    async def _typing(self, room_id: str) -> None:
        entry = self._subs.get(f"room:{room_id}")
        if entry is None:
            raise BadRequest("not_subscribed", "Subscribe to the room before typing in it")
        await self._hub.typing(entry[0])

    async def _post(
        self, room_id: str, content: object, client_msg_id: object, rid: object
    ) -> None:
        if not isinstance(content, str) or not content.strip():
            raise BadRequest("bad_request", "content must be a non-empty string")
        if client_msg_id is not None and not (
            isinstance(client_msg_id, str) and CLIENT_MSG_ID.fullmatch(client_msg_id)
        ):
            raise BadRequest("bad_request", "client_msg_id must be 1-128 printable ASCII chars")
        identity = await self._chat.authorize(self._user, room_id, Action.ROOM_CHAT)
        frame = await self._chat.post(identity, self._user, room_id, content, client_msg_id)
        await self.send(
            {
                "op": "posted",
                "topic": f"room:{room_id}",
                "seq": frame["seq"],
                "message_id": frame.get("id"),
                "client_msg_id": client_msg_id,
                "id": rid,
            }
        )

    async def pump(self) -> None:
        """Forward live frames until the socket overflows, then close it with a reason."""
        while (item := await self.outbox.next()) is not None:
            topic, frame = item
            if frame is REVOKED:
                await self._revoked(topic)
                continue
            held = self._replaying.get(topic)
            if held is not None:
                held.append(frame)
            elif self._current(topic, frame):
                await self._deliver(topic, frame)
        await self._ws.close(code=SLOW_CONSUMER, reason="slow consumer: resubscribe with since")

    async def _revoked(self, topic: str) -> None:
        entry, feed = self._subs.get(topic), self._feeds.get(topic)
        revoked = (entry is not None and entry[0].revoked) or (feed is not None and feed.revoked)
        if not revoked:
            return  # already gone, or subscribed again since
        self._replaying.pop(topic, None)
        await self._unsubscribe(topic)
        await self.send({"op": "revoked", "topic": topic})

    async def _deliver(self, topic: str, frame: dict[str, Any]) -> None:
        seq = frame.get("seq")
        if isinstance(seq, int):
            position = (seq, getattr(frame, "part", 0))
            if position <= self._last_seq.get(topic, (0, LAST_PART)):
                return
            self._last_seq[topic] = position
        async with self._send_lock:
            with deliver_span(topic, frame):
                await self._ws.send_text(event_text(topic, frame))
        frame_sent("multiplexed")

    async def close(self) -> None:
        """Cancel running asks and drop every subscription (releasing JetStream consumers)."""
        await self.asks.close()
        for topic in [*self._subs, *self._feeds]:
            await self._unsubscribe(topic)


def _parse(raw: str) -> dict[str, Any]:
    try:
        message = json.loads(raw)
    except ValueError as exc:
        raise BadRequest("bad_request", "Frames must be JSON objects") from exc
    if not isinstance(message, dict):
        raise BadRequest("bad_request", "Frames must be JSON objects")
    return message


def _topic_of(message: dict[str, Any]) -> tuple[str, str]:
    topic = message.get("topic")
    kind, _, ident = topic.partition(":") if isinstance(topic, str) else ("", "", "")
    if kind not in ("room", "run") or not ident:
        raise BadRequest(
            "unsupported_topic", f"Unsupported topic {topic!r}; use room:<id> or run:<id>"
        )
    return kind, ident


def _room_of(message: dict[str, Any]) -> str:
    kind, ident = _topic_of(message)
    if kind != "room":
        raise BadRequest("unsupported_topic", f"{message.get('op')} needs a room:<id> topic")
    return ident


@router.websocket("/ws")
async def multiplexed_socket(websocket: WebSocket) -> None:
    """Authenticate at the handshake, then serve subscriptions until the client leaves."""
    await websocket.accept()
    state = websocket.app.state
    try:
        user = await handshake_user(websocket, state.auth)
    except ServiceError as refusal:
        await websocket.close(code=4000 + refusal.status, reason=refusal.detail[:120])
        return
    runs: RunTopics | None = getattr(state, "run_topics", None)
    services: ServiceClient | None = getattr(state, "services", None)
    session = MuxSession(websocket, user, state.chat, state.room_hub, runs, services)
    pump = asyncio.create_task(session.pump())
    connected("multiplexed")
    try:
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                await session.handle(await websocket.receive_text())
    finally:
        disconnected("multiplexed")
        await session.close()
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await pump
