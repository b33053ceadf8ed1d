"""``/api/v1/admin/dead-letters``: admins read, replay and discard what consumers gave up on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from coagent_gateway.admin.dead_letters import (
    ConsumerUnreachable,
    DeadLetter,
    ReplayRefused,
)
from coagent_gateway.admin.dead_letters import router as dead_letters_router
from coagent_gateway.domain import PlatformRole
from coagent_gateway.settings import GatewaySettings
from coagent_kit.app import build_app

from ..conftest import AuthKit

URL = "/api/v1/admin/dead-letters"


def _letter(seq: int, consumer: str = "trigger-room-activity") -> DeadLetter:
    return DeadLetter(
        seq=seq,
        consumer=consumer,
        subject=f"chat.room.r{seq}.message.posted.v1",
        reason="exhausted",
        error="RuntimeError: database is down",
        attempts=20,
        event_type="chat.message.posted",
        stored_at=datetime(2026, 11, 24, tzinfo=UTC),
        body=b'{"event_id": "e%d"}' % seq,
    )


class FakeDeadLetters:
    """Dead letters in a dict; ``outcome`` decides how a hand-back goes."""

    def __init__(self) -> None:
        self.letters = {seq: _letter(seq) for seq in (1, 2, 3)}
        self.letters[4] = _letter(4, consumer="graphrag-ingest-messages")
        self.outcome: Exception | None = None
        self.handed_back: list[int] = []

    async def recent(
        self, consumer: str | None, before_seq: int | None, limit: int
    ) -> list[DeadLetter]:
        seqs = sorted(self.letters, reverse=True)
        picked = [
            self.letters[s]
            for s in seqs
            if (before_seq is None or s < before_seq)
            and consumer in (None, self.letters[s].consumer)
        ]
        return picked[:limit]

    async def get(self, seq: int) -> DeadLetter | None:
        return self.letters.get(seq)

    async def discard(self, seq: int) -> bool:
        return self.letters.pop(seq, None) is not None

    async def hand_back(self, letter: DeadLetter) -> None:
        self.handed_back.append(letter.seq)
        if self.outcome is not None:
            raise self.outcome


@pytest.fixture
def store() -> FakeDeadLetters:
    return FakeDeadLetters()


@pytest.fixture
async def as_role(
    settings: GatewaySettings, auth: AuthKit, store: FakeDeadLetters
) -> AsyncIterator[dict[PlatformRole, httpx.AsyncClient]]:
    app = build_app(settings, title="test gateway")
    app.state.auth = auth.service
    app.state.auth_codec = auth.codec
    app.state.dead_letters = store
    app.include_router(dead_letters_router)
    clients: dict[PlatformRole, httpx.AsyncClient] = {}
    for role in (PlatformRole.SUPER_ADMIN, PlatformRole.ADMIN, PlatformRole.TEACHER):
        user = auth.add_user(role.value.replace("_", ""), role=role)
        session = await auth.service.login(user.username or "", "correct-horse", None)
        clients[role] = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://gateway.test",
            headers={"Authorization": f"Bearer {session.access_token}"},
        )
    yield clients
    for client in clients.values():
        await client.aclose()


async def test_only_admins_see_dead_letters(
    as_role: dict[PlatformRole, httpx.AsyncClient],
) -> None:
    refused = await as_role[PlatformRole.TEACHER].get(URL)
    assert (refused.status_code, refused.json()["code"]) == (403, "forbidden")
    for role in (PlatformRole.ADMIN, PlatformRole.SUPER_ADMIN):
        listed = await as_role[role].get(URL)
        assert listed.status_code == 200
        assert [item["seq"] for item in listed.json()] == [4, 3, 2, 1]


async def test_listing_pages_and_filters_by_consumer(
    as_role: dict[PlatformRole, httpx.AsyncClient],
) -> None:
    admin = as_role[PlatformRole.ADMIN]
    page = (await admin.get(URL, params={"limit": 2, "before_seq": 4})).json()
    assert [item["seq"] for item in page] == [3, 2]
    first = page[0]
    assert first["consumer"] == "trigger-room-activity"
    assert first["payload"] == {"event_id": "e3"}
    assert (first["reason"], first["attempts"]) == ("exhausted", 20)
    only = (await admin.get(URL, params={"consumer": "graphrag-ingest-messages"})).json()
    assert [item["seq"] for item in only] == [4]
    bad = await admin.get(URL, params={"consumer": "no.dots.allowed"})
    assert bad.status_code == 422


async def test_a_processed_replay_removes_the_dead_letter(
    as_role: dict[PlatformRole, httpx.AsyncClient], store: FakeDeadLetters
) -> None:
    admin = as_role[PlatformRole.ADMIN]
    replayed = await admin.post(f"{URL}/2/replay")
    assert replayed.status_code == 200
    assert replayed.json() == {"seq": 2, "consumer": "trigger-room-activity", "status": "processed"}
    assert store.handed_back == [2]
    gone = await admin.get(f"{URL}/2")
    assert (gone.status_code, gone.json()["code"]) == (404, "dead_letter_not_found")


@pytest.mark.parametrize(
    ("outcome", "status", "code"),
    [
        (ReplayRefused("still failing"), 409, "replay_failed"),
        (ConsumerUnreachable("no replica"), 503, "consumer_unavailable"),
        (TimeoutError(), 504, "replay_timeout"),
    ],
)
async def test_a_failed_replay_keeps_the_dead_letter(
    as_role: dict[PlatformRole, httpx.AsyncClient],
    store: FakeDeadLetters,
    outcome: Exception,
    status: int,
    code: str,
) -> None:
    store.outcome = outcome
    admin = as_role[PlatformRole.ADMIN]
    response = await admin.post(f"{URL}/1/replay")
    assert (response.status_code, response.json()["code"]) == (status, code)
    assert (await admin.get(f"{URL}/1")).status_code == 200


async def test_discarding_is_final_and_unknown_ids_are_404(
    as_role: dict[PlatformRole, httpx.AsyncClient], store: FakeDeadLetters
) -> None:
    admin = as_role[PlatformRole.ADMIN]
    assert (await admin.delete(f"{URL}/3")).status_code == 204
    assert 3 not in store.letters
    again = await admin.delete(f"{URL}/3")
    assert (again.status_code, again.json()["code"]) == (404, "dead_letter_not_found")
    assert (await admin.post(f"{URL}/99/replay")).status_code == 404
    assert (await as_role[PlatformRole.TEACHER].delete(f"{URL}/1")).status_code == 403
    assert 1 in store.letters
