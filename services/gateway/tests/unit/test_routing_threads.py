"""`/api/v1/threads…` (the agent sandbox) reaches the workflow engine as the caller."""

from __future__ import annotations

import httpx
import pytest

from ..conftest import AuthKit
from .test_routing_owned import (  # noqa: F401 -- fixtures shared with the owned-routes tests
    _login_as,
    calls,
    client,
    course,
    members,
)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/threads"),
        ("POST", "/api/v1/threads"),
        ("POST", "/api/v1/threads/"),
        ("GET", "/api/v1/threads/t1"),
        ("GET", "/api/v1/threads/t1/messages"),
        ("POST", "/api/v1/threads/t1/messages"),
        ("POST", "/api/v1/threads/stateless/a1"),
    ],
)
async def test_thread_routes_reach_the_engine_as_the_caller(
    client: httpx.AsyncClient,  # noqa: F811
    auth: AuthKit,
    members: dict[str, str],  # noqa: F811
    method: str,
    path: str,
) -> None:
    user = await _login_as(client, auth, members, None)
    response = await client.request(method, path, json={"message": "hi"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["service"] == "workflow-engine"
    assert body["path"] == path
    assert body["method"] == method
    assert body["user"] == user.id


async def test_thread_routes_need_a_session(
    client: httpx.AsyncClient,  # noqa: F811
    calls: list[str],  # noqa: F811
) -> None:
    response = await client.post("/api/v1/threads/stateless/a1", json={"message": "hi"})
    assert response.status_code == 401
    assert calls == []
