"""``/organizations`` and ``/projects`` over HTTP on memory adapters."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from coagent_gateway.domain import PlatformRole
from coagent_gateway.settings import GatewaySettings

from ..conftest import AuthKit
from .membership_kit import As, MembershipKit


@pytest.fixture
async def kit(settings: GatewaySettings, auth: AuthKit) -> MembershipKit:
    return MembershipKit(settings, auth)


@pytest.fixture
async def people(kit: MembershipKit) -> AsyncIterator[tuple[As, As, As]]:
    owner, other = await kit.user("olga"), await kit.user("pete")
    admin = await kit.user("adam", PlatformRole.ADMIN)
    async with kit.client() as client:
        yield As(kit, client, owner), As(kit, client, other), As(kit, client, admin)


async def test_creator_owns_the_organization_and_only_members_see_it(
    kit: MembershipKit, people: tuple[As, As, As]
) -> None:
    owner, other, admin = people
    created = await owner.post("/api/v1/organizations", {"name": "Acme", "description": "d"})
    assert created.status_code == 201
    org = created.json()
    assert {"id", "name"} <= set(org)
    assert kit.state.organization_members[(org["id"], owner.user.id)] == "owner"
    assert [o["id"] for o in (await owner.get("/api/v1/organizations")).json()] == [org["id"]]
    assert (await other.get("/api/v1/organizations")).json() == []
    hidden = await other.get(f"/api/v1/organizations/{org['id']}")
    assert (hidden.status_code, hidden.json()["code"]) == (404, "organization_not_found")
    assert (await admin.get(f"/api/v1/organizations/{org['id']}")).status_code == 200
    assert (await owner.post("/api/v1/organizations", {"name": ""})).status_code == 422


async def test_projects_belong_to_members_of_their_organization(
    kit: MembershipKit, people: tuple[As, As, As]
) -> None:
    owner, other, _ = people
    org_id = (await owner.post("/api/v1/organizations", {"name": "Acme"})).json()["id"]
    body = {"name": "P1", "description": None, "organization_id": org_id}
    created = await owner.post("/api/v1/projects", body)
    assert created.status_code == 201
    project = created.json()
    assert kit.state.project_members[(project["id"], owner.user.id)] == "owner"
    listed = await owner.get("/api/v1/projects", org_id=org_id)
    assert [p["name"] for p in listed.json()] == ["P1"]
    assert [p["id"] for p in (await owner.get("/api/v1/projects")).json()] == [project["id"]]
    assert (await owner.get(f"/api/v1/projects/{project['id']}")).status_code == 200
    denied = await other.post("/api/v1/projects", body)
    assert (denied.status_code, denied.json()["code"]) == (404, "organization_not_found")
    hidden = await other.get(f"/api/v1/projects/{project['id']}")
    assert (hidden.status_code, hidden.json()["code"]) == (404, "project_not_found")
    assert (await other.get("/api/v1/projects", org_id=org_id)).status_code == 404
