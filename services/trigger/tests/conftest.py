"""Fixtures shared by the trigger tests: sample events and a memory-backed service and app."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from coagent_contracts.chat import MessagePostedData, MessagePostedV1, SenderKind
from coagent_kit.app import build_app
from coagent_trigger.adapters.memory import MemoryStore, MemoryUnitOfWork
from coagent_trigger.endpoints import router
from coagent_trigger.policy_endpoints import router as policy_router
from coagent_trigger.policy_service import PolicyService
from coagent_trigger.secrets_box import SecretBox
from coagent_trigger.service import TriggerService
from coagent_trigger.settings import TriggerSettings

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
SECRET = "test-internal-secret-0123456789abcdefghij"

MessageFactory = Callable[..., MessagePostedV1]


@pytest.fixture
def posted() -> MessageFactory:
    """Build a ``MessagePostedV1``: ``posted(seq, sender_kind="human", room_id="r1", …)``.

    ``created_at`` is ``T0 + seq`` minutes unless given, so seq order is time order.
    """

    def make(
        seq: int,
        sender_kind: SenderKind = "human",
        room_id: str = "r1",
        created_at: datetime | None = None,
        content: str | None = None,
        mentions: tuple[str, ...] = (),
        agent_type: str | None = None,
    ) -> MessagePostedV1:
        return MessagePostedV1(
            producer="chat",
            data=MessagePostedData(
                message_id=f"m-{room_id}-{seq}",
                room_id=room_id,
                seq=seq,
                sender_id="u1" if sender_kind == "human" else None,
                sender_kind=sender_kind,
                agent_id="a1" if sender_kind == "agent" else None,
                agent_type=agent_type,
                content=f"message {seq}" if content is None else content,
                mentions=mentions,
                created_at=created_at or T0 + timedelta(minutes=seq),
            ),
        )

    return make


@pytest.fixture
def store() -> MemoryStore:
    """Committed state of the memory adapters."""
    return MemoryStore()


@pytest.fixture
def service(store: MemoryStore) -> TriggerService:
    """The trigger service on memory adapters."""
    return TriggerService(lambda: MemoryUnitOfWork(store))


@pytest.fixture
def box() -> SecretBox:
    """The webhook-secret cipher of the tests."""
    return SecretBox("test-webhook-key")


@pytest.fixture
def policies(store: MemoryStore, box: SecretBox) -> PolicyService:
    """The policy service on memory adapters."""
    return PolicyService(lambda: MemoryUnitOfWork(store), box)


class _GatewayAccessAnswers(BaseHTTPRequestHandler):
    """The gateway's internal access routes as a trigger app under test sees them: every policy
    owner may act on every room and course, as a teacher (the real routes are tested in the
    gateway)."""

    def do_GET(self) -> None:
        if self.path.startswith("/internal/v1/access/rooms/"):
            answer = {"allowed": True, "platform_role": "teacher", "room_role": "member"}
        elif self.path.startswith("/internal/v1/access/courses/"):
            answer = {"allowed": True, "platform_role": "teacher", "course_role": "teacher"}
        else:
            self.send_error(404)
            return
        body = json.dumps(answer)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture(scope="session")
def gateway_url() -> Iterator[str]:
    """URL of an HTTP server answering the gateway's internal access route."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _GatewayAccessAnswers)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def settings(gateway_url: str) -> TriggerSettings:
    """Test settings with a known internal-token secret; room access is asked of
    ``gateway_url``."""
    return TriggerSettings(
        env="test", internal_token_secret=SecretStr(SECRET), gateway_url=gateway_url
    )


@pytest.fixture
def memory_app(
    settings: TriggerSettings, service: TriggerService, policies: PolicyService
) -> FastAPI:
    """The trigger HTTP API over the memory-backed services (no broker, no database)."""
    app = build_app(settings, title="CoAgent trigger (memory)")
    app.state.trigger = service
    app.state.policies = policies
    app.include_router(router)
    app.include_router(policy_router)
    return app
