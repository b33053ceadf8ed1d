"""Shared pieces of the agents API tests: caller headers, a project id, a key and ``create``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

Headers = Callable[..., dict[str, str]]
PROJECT = "7a0c3a4e-0000-4000-8000-000000000001"
KEY = "sk-live-abcdefghijklmnop-wxyz"


async def create(
    client: httpx.AsyncClient, headers: dict[str, str], project: str | None = PROJECT, **body: Any
) -> dict[str, Any]:
    payload = {"name": "Tutor", "type": "teacher", "system_prompt": "Be kind.", **body}
    path = f"/api/v1/agents/{project}" if project else "/api/v1/agents/global"
    response = await client.post(path, json=payload, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())
