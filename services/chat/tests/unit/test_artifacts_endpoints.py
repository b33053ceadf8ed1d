"""The artifact HTTP API over the memory-backed service (paths, bodies, status and error codes)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from coagent_chat.adapters.memory import MemoryStore
from coagent_chat.settings import ChatSettings
from coagent_contracts.chat import ArtifactChangedV1, ArtifactDeletedV1
from coagent_kit.auth import HEADER, InternalIdentity, sign_identity

Headers = Callable[..., dict[str, str]]
BASE = "/api/v1/workspaces"
ARTIFACT_KEYS = {
    "id",
    "room_id",
    "type",
    "title",
    "content",
    "version",
    "created_by",
    "last_modified_by",
    "parent_artifact_id",
    "created_at",
    "updated_at",
}


@pytest.fixture
def client(memory_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(memory_app) as http:
        yield http


@pytest.fixture
def as_user(settings: ChatSettings) -> Headers:
    """Identity headers: ``as_user("u1", resource_role="student", platform_role="student")``."""
    secret = settings.internal_token_secret.get_secret_value()

    def make(
        user_id: str = "u1", resource_role: str | None = "student", platform_role: str = "student"
    ) -> dict[str, str]:
        identity = InternalIdentity(
            user_id=user_id, platform_role=platform_role, resource_role=resource_role
        )
        return {HEADER: sign_identity(secret, identity, audience="chat")}

    return make


def create(
    client: TestClient, headers: dict[str, str], room: str = "r1", **body: Any
) -> dict[str, Any]:
    payload = {"type": "task", "title": "Task", "content": {}} | body
    response = client.post(f"{BASE}/{room}/artifacts", json=payload, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def test_create_returns_201_with_the_client_artifact_shape(
    client: TestClient, as_user: Headers, store: MemoryStore
) -> None:
    body = create(client, as_user("u1"), title="Intro", content={"priority": "medium", "order": 1})

    assert set(body) == ARTIFACT_KEYS
    assert (body["room_id"], body["type"], body["title"], body["version"]) == (
        "r1",
        "task",
        "Intro",
        1,
    )
    assert body["content"] == {"status": "todo", "priority": "medium", "order": 1}
    assert (body["created_by"], body["last_modified_by"]) == ("u1", "u1")
    assert body["parent_artifact_id"] is None
    assert body["created_at"].startswith("20")
    assert [type(e) for e in store.published] == [ArtifactChangedV1]


def test_an_idempotency_key_replays_with_200_and_no_new_event(
    client: TestClient, as_user: Headers, store: MemoryStore
) -> None:
    headers = as_user("u1") | {"Idempotency-Key": "abc"}
    payload = {"type": "doc", "title": "Doc", "content": {"type": "doc"}}

    first = client.post(f"{BASE}/r1/artifacts", json=payload, headers=headers)
    again = client.post(f"{BASE}/r1/artifacts", json=payload, headers=headers)

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert len(store.published) == 1


def test_list_is_newest_first_with_type_filter_and_bounded_limit(
    client: TestClient, as_user: Headers
) -> None:
    ids = [create(client, as_user(), type=t, title=t)["id"] for t in ("task", "doc", "task")]

    listed = client.get(f"{BASE}/r1/artifacts", headers=as_user())
    assert listed.status_code == 200
    assert [a["id"] for a in listed.json()] == ids[::-1]
    tasks = client.get(f"{BASE}/r1/artifacts?artifact_type=task", headers=as_user()).json()
    assert [a["id"] for a in tasks] == [ids[2], ids[0]]
    assert len(client.get(f"{BASE}/r1/artifacts?limit=1", headers=as_user()).json()) == 1
    for query in ("limit=0", "limit=1001", "artifact_type=note"):
        bad = client.get(f"{BASE}/r1/artifacts?{query}", headers=as_user())
        assert (bad.status_code, bad.json()["code"]) == (422, "validation_error")


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_update_merges_task_content_and_bumps_the_version(
    client: TestClient, as_user: Headers, method: str
) -> None:
    created = create(client, as_user("u1"), content={"priority": "high", "order": 4})

    response = client.request(
        method,
        f"{BASE}/artifacts/{created['id']}",
        json={"content": {"status": "done"}, "expected_version": 1},
        headers=as_user("u2"),
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["content"] == {"status": "done", "priority": "high", "order": 4}
    assert (body["version"], body["last_modified_by"], body["created_by"]) == (2, "u2", "u1")
    assert client.get(f"{BASE}/artifacts/{created['id']}", headers=as_user()).json() == body


def test_a_stale_expected_version_is_409_with_the_current_version(
    client: TestClient, as_user: Headers
) -> None:
    created = create(client, as_user())
    url = f"{BASE}/artifacts/{created['id']}"
    assert client.put(url, json={"title": "B", "expected_version": 1}, headers=as_user()).is_success

    response = client.put(url, json={"title": "C", "expected_version": 1}, headers=as_user())

    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "version_conflict"
    assert body["current_version"] == 2
    assert isinstance(body["detail"], str)
    assert client.get(url, headers=as_user()).json()["title"] == "B"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"type": "task", "title": "t", "content": {"status": "blocked"}}, "invalid_artifact"),
        ({"type": "task", "title": "t", "content": {"priority": "p0"}}, "invalid_artifact"),
        ({"type": "doc", "title": "t", "content": {"x": "y" * 300_000}}, "invalid_artifact"),
        ({"type": "doc", "title": "t", "parent_artifact_id": "nope"}, "invalid_parent"),
        ({"type": "note", "title": "t"}, "validation_error"),
        ({"type": "doc", "title": ""}, "validation_error"),
        ({"type": "doc", "title": "x" * 501}, "validation_error"),
    ],
)
def test_invalid_creations_are_422_with_a_code(
    client: TestClient, as_user: Headers, store: MemoryStore, body: dict[str, Any], code: str
) -> None:
    response = client.post(f"{BASE}/r1/artifacts", json=body, headers=as_user())

    assert (response.status_code, response.json()["code"]) == (422, code)
    assert store.published == []


def test_a_parent_in_another_room_is_invalid(client: TestClient, as_user: Headers) -> None:
    other = create(client, as_user(), room="r2")
    same = create(client, as_user(), room="r1")

    bad = client.post(
        f"{BASE}/r1/artifacts",
        json={"type": "doc", "title": "c", "parent_artifact_id": other["id"]},
        headers=as_user(),
    )
    good = create(client, as_user(), type="doc", parent_artifact_id=same["id"])

    assert (bad.status_code, bad.json()["code"]) == (422, "invalid_parent")
    assert good["parent_artifact_id"] == same["id"]


def test_an_invalid_merged_task_is_422(client: TestClient, as_user: Headers) -> None:
    created = create(client, as_user())

    response = client.patch(
        f"{BASE}/artifacts/{created['id']}", json={"content": {"status": "x"}}, headers=as_user()
    )

    assert (response.status_code, response.json()["code"]) == (422, "invalid_artifact")


def test_missing_artifacts_are_404(client: TestClient, as_user: Headers) -> None:
    for method, path in [
        ("GET", f"{BASE}/artifacts/nope"),
        ("PUT", f"{BASE}/artifacts/nope"),
        ("DELETE", f"{BASE}/artifacts/nope"),
        ("GET", f"{BASE}/artifacts/nope/versions"),
        ("GET", "/internal/artifacts/nope/room"),
    ]:
        response = client.request(method, path, json={"title": "x"}, headers=as_user())
        assert (response.status_code, response.json()["code"]) == (404, "artifact_not_found")


def test_soft_delete_is_204_hides_the_artifact_but_keeps_the_room_lookup(
    client: TestClient, as_user: Headers, store: MemoryStore
) -> None:
    created = create(client, as_user())
    url = f"{BASE}/artifacts/{created['id']}"

    response = client.delete(url, headers=as_user())

    assert response.status_code == 204
    assert client.get(url, headers=as_user()).status_code == 404
    assert client.delete(url, headers=as_user()).status_code == 404
    assert client.get(f"{BASE}/r1/artifacts", headers=as_user()).json() == []
    with_deleted = client.get(f"{BASE}/r1/artifacts?include_deleted=true", headers=as_user())
    assert [a["id"] for a in with_deleted.json()] == [created["id"]]
    room = client.get(f"/internal/artifacts/{created['id']}/room", headers=as_user())
    assert (room.status_code, room.json()) == (200, {"room_id": "r1"})
    [deleted] = [e for e in store.published if isinstance(e, ArtifactDeletedV1)]
    assert deleted.data.hard is False


def test_hard_delete_is_403_for_students_and_204_for_course_staff(
    client: TestClient, as_user: Headers, store: MemoryStore
) -> None:
    created = create(client, as_user())
    url = f"{BASE}/artifacts/{created['id']}?hard_delete=true"

    denied = client.delete(url, headers=as_user("u1", resource_role="student"))
    assert (denied.status_code, denied.json()["code"]) == (403, "hard_delete_forbidden")
    assert client.get(f"{BASE}/artifacts/{created['id']}", headers=as_user()).status_code == 200

    allowed = client.delete(url, headers=as_user("t1", resource_role="ta"))

    assert allowed.status_code == 204
    room = client.get(f"/internal/artifacts/{created['id']}/room", headers=as_user())
    assert room.status_code == 404
    [deleted] = [e for e in store.published if isinstance(e, ArtifactDeletedV1)]
    assert (deleted.data.hard, deleted.data.deleted_by) == (True, "t1")


def test_versions_list_get_and_restore(client: TestClient, as_user: Headers) -> None:
    created = create(client, as_user("u1"), title="One", content={"priority": "low"})
    url = f"{BASE}/artifacts/{created['id']}"
    client.put(url, json={"title": "Two", "content": {"status": "review"}}, headers=as_user("u2"))

    history = client.get(f"{url}/versions", headers=as_user())
    assert history.status_code == 200
    assert [(v["version"], v["title"], v["changed_by"]) for v in history.json()] == [
        (2, "Two", "u2"),
        (1, "One", "u1"),
    ]
    assert set(history.json()[0]) == {"version", "title", "content", "changed_by", "changed_at"}
    one = client.get(f"{url}/versions/1", headers=as_user())
    assert one.json()["content"] == {"status": "todo", "priority": "low"}
    missing = client.get(f"{url}/versions/7", headers=as_user())
    assert (missing.status_code, missing.json()["code"]) == (404, "version_not_found")

    stale = client.post(
        f"{url}/versions/1/restore", json={"expected_version": 1}, headers=as_user()
    )
    assert (stale.status_code, stale.json()["current_version"]) == (409, 2)
    restored = client.post(f"{url}/versions/1/restore", headers=as_user("u3"))

    assert restored.status_code == 200, restored.text
    body = restored.json()
    assert (body["version"], body["title"], body["last_modified_by"]) == (3, "One", "u3")
    assert body["content"] == {"status": "todo", "priority": "low"}


def test_no_identity_is_401(client: TestClient) -> None:
    response = client.get(f"{BASE}/r1/artifacts")

    assert (response.status_code, response.json()["code"]) == (401, "identity_missing")
