"""Server errors found by the OpenAPI fuzz run (tests/e2e/test_api_fuzz.py), closed for good."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.exc import DBAPIError

from coagent_gateway.adapters.postgres_errors import install_data_exception_handler
from coagent_gateway.adapters.services_http import ServiceClient
from coagent_gateway.chat.service import MAX_SEQ, ChatGateway
from coagent_gateway.domain import User
from coagent_gateway.policy import Action
from coagent_gateway.settings import GatewaySettings
from coagent_kit.app import build_app

from ..conftest import SECRET, AuthKit


class PgError(Exception):
    """What asyncpg's SQLAlchemy adapter raises: the SQLSTATE is on the error."""

    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"sqlstate {sqlstate}")
        self.sqlstate = sqlstate


@pytest.fixture
async def client(settings: GatewaySettings) -> AsyncIterator[httpx.AsyncClient]:
    app: FastAPI = build_app(settings, title="test gateway")
    install_data_exception_handler(app)

    @app.post("/store/{sqlstate}")
    async def store(sqlstate: str) -> None:
        raise DBAPIError("INSERT INTO rooms (name) VALUES ($1)", ("a\x00b",), PgError(sqlstate))

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw.test") as c:
        yield c


@pytest.mark.parametrize(
    "sqlstate",
    [
        "22021",  # character_not_in_repertoire: a NUL in any text (room name, search, id…)
        "22P05",  # untranslatable_character: a NUL in JSON (audit details)
        "22003",  # numeric_value_out_of_range
    ],
)
async def test_a_value_postgres_refuses_is_a_422_not_a_500(
    client: httpx.AsyncClient, sqlstate: str
) -> None:
    response = await client.post(f"/store/{sqlstate}")
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_input"


@pytest.mark.parametrize("sqlstate", ["23505", "40001", "57P01"])
async def test_other_database_errors_stay_server_errors(
    client: httpx.AsyncClient, sqlstate: str
) -> None:
    response = await client.post(f"/store/{sqlstate}")
    assert response.status_code == 500
    assert response.json()["code"] == "internal_error"


async def test_history_after_the_largest_sequence_is_empty_without_asking_chat(
    auth: AuthKit,
) -> None:
    # ?since=1208434419850031661056 reached the chat service, whose BIGINT bind failed (500).
    services = ServiceClient({"chat": "http://127.0.0.1:9"}, SECRET)  # down: any call is a 503

    class Rooms:
        async def authorize(self, user: User, room_id: str, action: Action) -> str | None:
            return "student"

    gateway = ChatGateway(services, Rooms())
    identity = await gateway.authorize(auth.add_user(), "r1", Action.ROOM_READ)
    try:
        assert await gateway.history(identity, "r1", MAX_SEQ, 10) == []
        assert await gateway.history(identity, "r1", 1208434419850031661056, 10) == []
    finally:
        await services.aclose()
