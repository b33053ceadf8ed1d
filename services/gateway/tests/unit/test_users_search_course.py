"""People search on behalf of a course: its TAs may find people to enrol, nobody else gains."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from coagent_gateway.adapters.media import LocalMediaStore
from coagent_gateway.adapters.users_memory import (
    MemoryApiKeyStore,
    MemoryAuditReader,
    MemoryUserDirectory,
)
from coagent_gateway.settings import GatewaySettings
from coagent_gateway.users.service import UserPorts
from coagent_gateway.users.wiring import install_users

from ..conftest import AuthKit
from .membership_kit import World, course_world

SEARCH = "/api/v1/users/search"


@pytest.fixture
async def world(settings: GatewaySettings, auth: AuthKit, tmp_path: Path) -> AsyncIterator[World]:
    async with course_world(settings, auth) as w:
        install_users(
            w.kit.app,
            UserPorts(
                directory=MemoryUserDirectory(auth.accounts),
                hasher=auth.hasher,
                audit=auth.audit,
                audit_reader=MemoryAuditReader(auth.audit),
                avatars=LocalMediaStore(tmp_path),
                api_keys=MemoryApiKeyStore(),
                sessions=auth.service,
            ),
            auth.accounts,
        )
        yield w


async def test_a_ta_searches_people_for_their_own_course(world: World) -> None:
    w = world
    as_ta = w.as_(w.ta)
    assert (await as_ta.get(SEARCH, q="otto")).status_code == 403
    hits = await as_ta.get(SEARCH, q="otto", course_id=w.course_id)
    assert hits.status_code == 200, hits.text
    assert [h["id"] for h in hits.json()] == [w.outsider.id]


async def test_students_and_outsiders_gain_nothing_from_a_course_id(world: World) -> None:
    w = world
    student = await w.as_(w.student).get(SEARCH, q="otto", course_id=w.course_id)
    assert student.status_code == 403
    assert "example.org" not in student.text
    outsider = await w.as_(w.outsider).get(SEARCH, q="stu", course_id=w.course_id)
    assert (outsider.status_code, outsider.json()["code"]) == (404, "course_not_found")


async def test_the_course_owner_and_teachers_still_search(world: World) -> None:
    w = world
    hits = await w.as_(w.teacher).get(SEARCH, q="tad", course_id=w.course_id)
    assert [h["id"] for h in hits.json()] == [w.ta.id]
