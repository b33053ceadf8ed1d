"""The room-access client: service token, short bounded cache, invalidation, failures."""

from __future__ import annotations

import httpx
import pytest

from coagent_kit.auth import HEADER, verify_identity
from coagent_trigger.adapters.gateway_access import GatewayAccess
from coagent_trigger.rooms import Access, GatewayUnavailable

SECRET = "test-internal-secret-0123456789abcdefghij"


class Gateway:
    """Answers like the gateway's internal route; records what was asked."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.status = 200
        self.allowed = True

    def __call__(self, request: httpx.Request) -> httpx.Response:
        identity = verify_identity(SECRET, request.headers[HEADER], "gateway")
        assert identity.platform_role == "service"
        self.asked.append(request.url.path)
        if request.url.path.startswith("/internal/v1/access/courses/"):
            body = {"allowed": self.allowed, "platform_role": "teacher", "course_role": "ta"}
            return httpx.Response(self.status, json=body)
        body = {
            "allowed": self.allowed,
            "platform_role": "teacher",
            "room_role": "owner",
            "course_id": "c1",
        }
        return httpx.Response(self.status, json=body)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def gateway() -> Gateway:
    return Gateway()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def access(gateway: Gateway, clock: Clock) -> GatewayAccess:
    return GatewayAccess(
        "http://gw",
        SECRET,
        ttl_s=30,
        max_entries=2,
        transport=httpx.MockTransport(gateway),
        clock=clock,
    )


async def test_answers_are_reused_until_their_ttl_ends(
    access: GatewayAccess, gateway: Gateway, clock: Clock
) -> None:
    first = await access.check("r1", "u1")
    assert first == Access(allowed=True, platform_role="teacher", room_role="owner")
    gateway.allowed = False
    assert await access.check("r1", "u1") == first  # cached
    clock.now += 31
    assert (await access.check("r1", "u1")).allowed is False
    assert gateway.asked == ["/internal/v1/access/rooms/r1/users/u1"] * 2


async def test_invalidating_a_room_drops_only_its_answers(
    access: GatewayAccess, gateway: Gateway
) -> None:
    await access.check("r1", "u1")
    await access.check("r2", "u1")
    access.invalidate("r1")
    await access.check("r1", "u1")
    await access.check("r2", "u1")
    assert [p.split("/")[5] for p in gateway.asked] == ["r1", "r2", "r1"]


async def test_the_cache_is_bounded(access: GatewayAccess, gateway: Gateway) -> None:
    for user in ("u1", "u2", "u3"):
        await access.check("r1", user)
    await access.check("r1", "u3")  # still cached
    await access.check("r1", "u1")  # the oldest was dropped
    assert [p.rsplit("/", 1)[1] for p in gateway.asked] == ["u1", "u2", "u3", "u1"]


async def test_a_failing_gateway_gives_no_answer(access: GatewayAccess, gateway: Gateway) -> None:
    gateway.status = 503
    with pytest.raises(GatewayUnavailable):
        await access.check("r1", "u1")
    gateway.status = 200
    assert (await access.check("r1", "u1")).allowed is True  # failures are not cached


async def test_course_answers_are_cached_apart_from_room_answers(
    access: GatewayAccess, gateway: Gateway, clock: Clock
) -> None:
    answer = await access.check_course("c1", "u1")
    assert answer == Access(allowed=True, platform_role="teacher", room_role="ta")
    gateway.allowed = False
    assert await access.check_course("c1", "u1") == answer  # cached
    assert (await access.check("c1", "u1")).allowed is False  # a room id is another question
    clock.now += 31
    assert (await access.check_course("c1", "u1")).allowed is False
    assert gateway.asked == [
        "/internal/v1/access/courses/c1/users/u1",
        "/internal/v1/access/rooms/c1/users/u1",
        "/internal/v1/access/courses/c1/users/u1",
    ]


async def test_a_change_of_one_of_its_rooms_drops_the_courses_answers(
    access: GatewayAccess, gateway: Gateway
) -> None:
    await access.check_course("c1", "u1")
    access.invalidate("r1")  # the room's course is not known yet: nothing to drop
    await access.check_course("c1", "u1")
    await access.check("r1", "u1")  # the answer names the room's course, c1
    access.invalidate("r1")
    await access.check_course("c1", "u1")
    assert [p.split("/")[4] for p in gateway.asked] == ["courses", "rooms", "courses"]


async def test_a_failing_gateway_gives_no_course_answer(
    access: GatewayAccess, gateway: Gateway
) -> None:
    gateway.status = 500
    with pytest.raises(GatewayUnavailable):
        await access.check_course("c1", "u1")
