"""The whole fleet, started once for the e2e tier with the same code as ``coagent up``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from coagent_cli.fleet import Fleet
from coagent_cli.testing import running_fleet
from coagent_cli.testing_traces import OtlpReceiver, exporting_to

ADMIN_EMAIL = "ada@example.org"
ADMIN_PASSWORD = "correct-horse-battery"
LOCAL_TEST_NETWORK = "127.0.0.1/32"


@pytest.fixture(scope="session")
def trace_receiver() -> Iterator[OtlpReceiver]:
    """The OTLP/HTTP endpoint the session's fleet exports its spans to."""
    with OtlpReceiver() as receiver:
        yield receiver


@pytest.fixture(scope="session")
def fleet(trace_receiver: OtlpReceiver) -> Iterator[Fleet]:
    """Embedded stack + migrations + super admin + six services, all ready, exporting spans."""
    # Workflow http nodes may call servers the tests start on loopback (dev/test only).
    os.environ.setdefault("WORKFLOW_ENGINE_HTTP_ALLOW_NETWORKS", LOCAL_TEST_NETWORK)
    with exporting_to(trace_receiver), running_fleet(ADMIN_EMAIL, ADMIN_PASSWORD) as running:
        yield running


def login(client: httpx.Client, username: str, password: str) -> None:
    """Sign ``client`` in the way the web client does (multipart form); its cookies follow."""
    response = client.post(
        "/api/v1/login/access-token",
        files={"username": (None, username), "password": (None, password)},
    )
    assert response.status_code == 200, response.text


def one_agent_graph(agent_id: str) -> dict[str, Any]:
    """The smallest runnable workflow: start → the agent → end."""
    return {
        "schema_version": 1,
        "nodes": [
            {"id": "start", "type": "start"},
            {"id": "tutor", "type": "agent", "config": {"agent_id": agent_id}},
            {"id": "end", "type": "end"},
        ],
        "edges": [
            {"id": "e1", "source": "start", "target": "tutor"},
            {"id": "e2", "source": "tutor", "target": "end"},
        ],
    }
