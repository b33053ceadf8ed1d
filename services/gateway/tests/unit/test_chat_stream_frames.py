"""Token deltas and message tombstones on the room sockets.

Deltas come from other services on core NATS (``live.room.<room>``): only contract-shaped ones
reach a browser. Tombstones come from chat's ``message.erased`` events. Neither may look like a
chat message to the reference client (no ``sender``/``content``).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from coagent_contracts.chat import (
    ArtifactChangedData,
    ArtifactChangedV1,
    MessagesErasedData,
    MessagesErasedV1,
)
from coagent_contracts.live import MessageDeltaFrame, room_live
from coagent_gateway.chat.endpoints import _pump
from coagent_gateway.chat.live import Outbox, RoomHub
from coagent_gateway.chat.multiplex import MuxSession
from coagent_gateway.chat.presence import ephemeral_frame
from coagent_gateway.chat.traces import TRACE_FILTERS, room_frame
from coagent_gateway.domain import PlatformRole, User
from coagent_kit.auth import InternalIdentity

from .test_chat_multiplex import FakeChat, FakeSocket, frame

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
ADA = User("u1", "ada@example.org", "ada", PlatformRole.STUDENT, full_name="Ada")
DELTA = {
    "type": "message_delta",
    "room_id": "r1",
    "stream_id": "s1",
    "index": 0,
    "delta": "Hel",
    "run_id": "run1",
    "agent_id": "ag1",
    "agent_name": "Teacher AI",
}


@dataclass
class Msg:
    """The fields of a NATS message the hub reads."""

    subject: str
    data: bytes
    headers: dict[str, str] | None = None


def _drain(outbox: Outbox) -> list[dict[str, Any]]:
    frames = []
    while not outbox.queue.empty():
        frames.append(outbox.queue.get_nowait()[1])
    return frames


def _erased(**changes: Any) -> MessagesErasedV1:
    data = {
        "room_id": "r1",
        "message_ids": ("m1", "m2"),
        "seqs": (1, 2),
        "reason": "forgotten",
        "forgotten_by": "u1",
    }
    return MessagesErasedV1(
        producer="chat", occurred_at=NOW, data=MessagesErasedData(**{**data, **changes})
    )


# --- message_delta -------------------------------------------------------------------------


def test_a_contract_shaped_delta_is_relayed_as_is() -> None:
    relayed = ephemeral_frame("r1", json.dumps(DELTA).encode())
    assert relayed == DELTA
    assert MessageDeltaFrame.model_validate(relayed)
    minimal = {"type": "message_delta", "room_id": "r1", "stream_id": "s", "index": 3, "delta": ""}
    assert ephemeral_frame("r1", json.dumps(minimal).encode()) == {
        **minimal,
        "run_id": None,
        "agent_id": None,
        "agent_name": None,
    }


@pytest.mark.parametrize(
    "change",
    [
        {"sender": "Teacher AI"},  # would be drawn as a chat bubble by the reference client
        {"content": "Hel"},
        {"room_id": "r2"},  # published on another room's subject
        {"index": -1},
        {"stream_id": ""},
        {"delta": 7},
        {"extra": "field"},  # only the contract's fields reach a browser
    ],
)
def test_malformed_deltas_are_dropped(change: dict[str, Any]) -> None:
    assert ephemeral_frame("r1", json.dumps({**DELTA, **change}).encode()) is None


def test_deltas_missing_required_fields_are_dropped() -> None:
    for key in ("stream_id", "index", "delta"):
        partial = {k: v for k, v in DELTA.items() if k != key}
        assert ephemeral_frame("r1", json.dumps(partial).encode()) is None


async def test_the_hub_relays_deltas_from_the_live_subject_to_room_sockets() -> None:
    hub = RoomHub("nats://unused")
    inside, elsewhere = Outbox(), Outbox()
    hub.join("r1", inside)
    hub.join("r2", elsewhere)
    await hub._on_live(Msg(room_live("r1"), json.dumps(DELTA).encode()))
    await hub._on_live(Msg(room_live("r1"), json.dumps({**DELTA, "content": "x"}).encode()))
    await hub._on_live(Msg(room_live("r2"), json.dumps(DELTA).encode()))  # wrong room inside
    assert _drain(inside) == [DELTA]
    assert _drain(elsewhere) == []


async def test_deltas_reach_both_sockets_without_a_seq() -> None:
    hub = RoomHub("nats://unused")
    outbox = Outbox()
    hub.join("r1", outbox)
    hub.publish("r1", frame(1))
    hub.publish("r1", DELTA)
    hub.publish("r1", {**DELTA, "index": 1, "delta": "lo"})
    identity = InternalIdentity(user_id="u1", platform_role="student", resource_role="student")
    socket = FakeSocket()
    pump = asyncio.create_task(
        _pump(socket, outbox, FakeChat(hub), identity, "r1", None)  # type: ignore[arg-type]
    )
    await asyncio.sleep(0.05)
    pump.cancel()
    assert [m.get("seq", m.get("delta")) for m in socket.sent] == [1, "Hel", "lo"]

    mux_socket = FakeSocket()
    session = MuxSession(mux_socket, ADA, FakeChat(hub), hub)  # type: ignore[arg-type]
    await session.handle(json.dumps({"op": "subscribe", "topic": "room:r9"}))
    hub.publish("r9", {**DELTA, "room_id": "r9"})
    pump = asyncio.create_task(session.pump())
    await asyncio.sleep(0.05)
    pump.cancel()
    events = [m["data"]["type"] for m in mux_socket.sent if m["op"] == "event"]
    assert "message_delta" in events


# --- message_deleted -----------------------------------------------------------------------


def test_erased_messages_become_a_message_deleted_frame() -> None:
    translated = room_frame(_erased().model_dump_json().encode())
    assert translated == (
        "r1",
        {
            "type": "message_deleted",
            "room_id": "r1",
            "message_ids": ["m1", "m2"],
            "seqs": [1, 2],
            "reason": "forgotten",
            "timestamp": "2026-11-24T12:00:00Z",
        },
    )
    assert "sender" not in translated[1]
    assert "content" not in translated[1]


def test_retention_pruning_is_a_message_deleted_frame_too() -> None:
    translated = room_frame(
        _erased(reason="retention", forgotten_by=None).model_dump_json().encode()
    )
    assert translated is not None
    assert translated[1]["reason"] == "retention"


def test_the_hub_follows_tombstones() -> None:
    assert MessagesErasedV1.FILTER in TRACE_FILTERS


async def test_the_hub_sends_tombstones_to_the_room_and_they_pass_the_seq_dedupe() -> None:
    hub = RoomHub("nats://unused")
    outbox = Outbox()
    hub.join("r1", outbox)
    hub.publish("r1", frame(2))
    await hub._on_room_event(
        Msg("chat.room.r1.message.erased.v1", _erased().model_dump_json().encode())
    )
    identity = InternalIdentity(user_id="u1", platform_role="student", resource_role="student")
    socket = FakeSocket()
    pump = asyncio.create_task(
        _pump(socket, outbox, FakeChat(hub), identity, "r1", None)  # type: ignore[arg-type]
    )
    await asyncio.sleep(0.05)
    pump.cancel()
    assert [m.get("seq", m["type"]) for m in socket.sent] == [2, "message_deleted"]


# --- artifact frames carry the stored timestamps -------------------------------------------


def test_artifact_updates_carry_creator_and_times_from_the_event() -> None:
    created = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
    event = ArtifactChangedV1(
        producer="chat",
        occurred_at=NOW,
        data=ArtifactChangedData(
            artifact_id="a1",
            room_id="r1",
            artifact_type="task",
            title="Write",
            content={"status": "done"},
            version=3,
            changed_by="u2",
            created_by="u1",
            created_at=created,
            updated_at=NOW,
        ),
    )
    translated = room_frame(event.model_dump_json().encode())
    assert translated is not None
    artifact = translated[1]["artifact"]
    assert artifact["created_by"] == "u1"
    assert artifact["created_at"] == "2026-11-01T08:00:00Z"
    assert artifact["updated_at"] == "2026-11-24T12:00:00Z"
    assert artifact["last_modified_by"] == "u2"
    assert artifact["version"] == 3
