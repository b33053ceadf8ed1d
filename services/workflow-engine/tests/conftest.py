"""Fixtures shared by the workflow-engine tests: sample firings and a memory-backed service/app."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from coagent_contracts.envelope import new_event_id
from coagent_contracts.trigger import TriggerEventType, TriggerFiredData, TriggerFiredV1, firing_key
from coagent_kit.app import build_app
from coagent_workflow_engine.adapters.memory import MemoryStore, MemoryUnitOfWork
from coagent_workflow_engine.endpoints import router
from coagent_workflow_engine.graphs import install_graph_errors, parse_graph
from coagent_workflow_engine.internal import internal_router
from coagent_workflow_engine.service import WorkflowEngineService
from coagent_workflow_engine.settings import WorkflowEngineSettings
from coagent_workflow_engine.workflows.domain import Workflow, WorkflowVersion
from coagent_workflow_engine.workflows.endpoints import rooms_router
from coagent_workflow_engine.workflows.endpoints import router as workflows_router
from coagent_workflow_engine.workflows.service import WorkflowService

SECRET = "test-internal-secret-0123456789abcdefghij"
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
#: Workflows every memory store starts with (owner ``u1``): a runnable start → end graph.
SEEDED_WORKFLOWS = ("w1", "w2", "w7")
START_END = {
    "schema_version": 1,
    "nodes": [{"id": "start", "type": "start"}, {"id": "end", "type": "end"}],
    "edges": [{"id": "e1", "source": "start", "target": "end"}],
}


def seed_workflow(
    store: MemoryStore,
    workflow_id: str,
    graph: dict[str, object] | None = None,
    *,
    owner: str = "u1",
    is_active: bool = True,
) -> None:
    """Put a workflow (version 1) straight into the committed memory tables."""
    canonical = parse_graph(graph or START_END, runnable=False).model_dump(mode="json")
    tables = store.engine_tables
    tables.workflows[workflow_id] = Workflow(
        workflow_id, workflow_id, owner, is_active, 1, canonical["limits"], T0, T0
    )
    tables.versions[(workflow_id, 1)] = WorkflowVersion(workflow_id, 1, canonical, owner, T0)


@pytest.fixture
def fired() -> Callable[..., TriggerFiredV1]:
    """Build a ``TriggerFiredV1``: ``fired(workflow_id="w1", policy_id="p1", source=None)``.

    Message-driven firings are keyed by ``source`` (an event id, fresh unless given); pass
    ``at=<datetime>`` for a scheduled (silence/timer/cron) firing instead.
    """

    def make(
        workflow_id: str = "w1",
        policy_id: str = "p1",
        source: str | None = None,
        at: datetime | None = None,
        room_id: str | None = "r1",
        event_type: TriggerEventType | None = None,
    ) -> TriggerFiredV1:
        if at is not None:
            key = firing_key(policy_id, scheduled_for=at, room_id=room_id)
            kind: TriggerEventType = event_type or "silence"
        else:
            source = source or new_event_id()
            key = firing_key(policy_id, source_event_id=source)
            kind = event_type or "user_message"
        return TriggerFiredV1(
            producer="trigger",
            data=TriggerFiredData(
                policy_id=policy_id,
                workflow_id=workflow_id,
                room_id=room_id,
                event_type=kind,
                firing_key=key,
                scheduled_for=at,
                source_event_id=None if at is not None else source,
            ),
        )

    return make


@pytest.fixture
def clock() -> Callable[[], datetime]:
    """A clock one second further on at every call, so creation order is unambiguous."""
    ticks = iter(range(1_000_000))
    return lambda: T0 + timedelta(seconds=next(ticks))


@pytest.fixture
def store() -> MemoryStore:
    """Committed state of the memory adapters, with the seeded workflows."""
    store = MemoryStore()
    for workflow_id in SEEDED_WORKFLOWS:
        seed_workflow(store, workflow_id)
    return store


@pytest.fixture
def service(store: MemoryStore, clock: Callable[[], datetime]) -> WorkflowEngineService:
    """The workflow engine on memory adapters."""
    return WorkflowEngineService(lambda: MemoryUnitOfWork(store), clock=clock)


@pytest.fixture
def settings() -> WorkflowEngineSettings:
    """Test settings with a known internal-token secret."""
    return WorkflowEngineSettings(env="test", internal_token_secret=SecretStr(SECRET))


@pytest.fixture
def memory_app(settings: WorkflowEngineSettings, service: WorkflowEngineService) -> FastAPI:
    """The workflow-engine HTTP API over the memory-backed service (no broker, no database)."""
    app = build_app(settings, title="CoAgent workflow engine (memory)")
    app.state.workflow_engine = service
    app.state.workflows = WorkflowService(service._uow)  # type: ignore[arg-type]
    install_graph_errors(app)
    app.include_router(workflows_router)
    app.include_router(rooms_router)
    app.include_router(router)
    app.include_router(internal_router)
    return app


# ------------------------------------------------------ a local HTTP server for http nodes


class _Handler(BaseHTTPRequestHandler):
    """Routes of the local server ``http``/``tool`` node tests call (allow-listed loopback)."""

    def log_message(self, *_: object) -> None:  # keep test output clean
        return

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {"Content-Type": "application/json"}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        path, _, query = self.path.partition("?")
        if path == "/json":
            payload = {"hello": "world", "query": query, "host": self.headers.get("Host")}
            self._send(200, json.dumps(payload).encode())
        elif path == "/redirect-internal":
            self._send(302, b"", {"Location": "http://169.254.169.254/latest/meta-data"})
        elif path == "/redirect-ok":
            self._send(302, b"", {"Location": "/json?via=redirect"})
        elif path == "/big":
            self._send(200, b"x" * (256 * 1024), {"Content-Type": "text/plain"})
        elif path == "/slow":
            time.sleep(5)
            self._send(200, b"{}")
        else:
            self._send(500, b'{"error": "boom"}')

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"null")
        echoed = {"received": body, "token": self.headers.get("X-Token")}
        self._send(201, json.dumps(echoed).encode())


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        return  # a client that gave up (timeout, size cap) is expected here


@pytest.fixture
def local_http() -> Iterator[str]:
    """Base URL of a threaded HTTP server on 127.0.0.1 (an ephemeral port)."""
    server = _QuietServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
