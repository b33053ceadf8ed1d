"""Fuzz the gateway's public OpenAPI against the real fleet: no 5xx, no secret-named fields.

Every operation of ``/api/v1/openapi.json`` gets schema-driven cases from schemathesis, sent as the
super admin (``Authorization: Bearer``) in three passes: valid cases, deliberately invalid ones, and
valid cases whose ids (path, query and body) point at real resources seeded first, so the handlers
get past "404 not found". Each response must be below 500, and no key anywhere in a JSON body may
be named like a secret or a hash, except the few that are the point of their endpoint (see
``ALLOWED_SECRET_FIELDS``).

The document is the merged one: the gateway's own operations and the services' operations behind
it, with their real schemas. Bounded and deterministic: a few examples per operation, derandomized,
no example database.
"""

from __future__ import annotations

import contextlib
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.cookiejar import DefaultCookiePolicy
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core.result import Ok
from schemathesis.schemas import APIOperation

from coagent_cli.fleet import Fleet

from .conftest import ADMIN_EMAIL, ADMIN_PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

Operation = APIOperation[Any, Any, Any, Any]

API = "/api/v1"

#: A key named like this must never appear in a response body, at any depth.
SECRET_NAME = re.compile(r"password|hash|secret|api_key|token", re.IGNORECASE)

#: The only secret-named keys a response may carry, by operation. ``TokenPair`` is the bearer
#: credential a program logs in (or refreshes) to obtain: ``access_token`` is the point of the
#: endpoint and ``token_type`` is the constant ``"bearer"`` (``expires_in`` does not match the
#: pattern). Nothing else is allowed: the one-time ``key`` of an API-key creation and the listed
#: ``masked_key`` do not match the pattern, so they need no exception.
ALLOWED_SECRET_FIELDS: dict[str, frozenset[str]] = {
    f"POST {API}/login/access-token": frozenset({"access_token", "token_type"}),
    f"POST {API}/login/refresh": frozenset({"access_token", "token_type"}),
}

#: Operations that would end or swap the fuzzer's own session. WebSocket routes are not in the
#: OpenAPI document at all.
EXCLUDED = frozenset(
    {
        f"POST {API}/login/logout",  # revokes the session the fuzzer runs in
        f"POST {API}/login/impersonate/{{user_id}}",  # swaps the caller for another user
    }
)

#: Failed logins are throttled per address (50 per window): stay well under it, so the rest of the
#: e2e session (all from 127.0.0.1) can still log in after the fuzz.
MAX_EXAMPLES: dict[str, int] = {f"POST {API}/login/access-token": 8}
#: Examples per pass (valid, invalid, seeded). Over every operation of the merged document the
#: fuzz is the largest single item of the suite; these budgets keep it near a minute on two cores,
#: and the derandomized cases are the same on every run, so a regression found once stays found.
DEFAULT_POSITIVE = 12
DEFAULT_NEGATIVE = 6
DEFAULT_SEEDED = 10
#: Operations of the services behind the gateway (marked ``x-coagent-service``) are about as many
#: as the gateway's own and do real work each: a smaller budget still.
FORWARDED_BUDGET = (6, 3, 5)

#: The admin's own profile: the fuzzer may rename itself, but never change the password that the
#: other e2e tests log in with (the original username and name are restored afterwards).
ME = f"PUT {API}/users/me"
ME_FROZEN_FIELDS = ("password",)

#: Body fields that would make the fleet call a real model provider (tests never reach the
#: network): without them the design agent answers with its offline model.
PROVIDER_KEY_FIELDS: dict[str, tuple[str, ...]] = {
    f"POST {API}/agents/generate": ("api_key", "custom_api_key"),
}

FUZZ_SETTINGS = settings(
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
    print_blob=False,
)


@dataclass
class Findings:
    """What the run saw: failures by operation and how many requests each operation got."""

    failures: dict[str, list[str]] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)
    statuses: dict[str, set[int]] = field(default_factory=dict)

    def fail(self, label: str, message: str) -> None:
        self.failures.setdefault(label, []).append(message)


def secret_keys(body: Any, path: str = "$") -> Iterator[tuple[str, str]]:
    """Every ``(json path, key)`` in ``body`` whose key looks like a secret or a hash."""
    if isinstance(body, dict):
        for key, value in body.items():
            here = f"{path}.{key}"
            if SECRET_NAME.search(str(key)):
                yield here, str(key)
            yield from secret_keys(value, here)
    elif isinstance(body, list):
        for index, item in enumerate(body):
            yield from secret_keys(item, f"{path}[{index}]")


def test_secret_keys_walks_nested_bodies() -> None:
    body = {"a": [{"b": {"hashed_password": 1}}], "Refresh_Token": "x", "masked_key": "cak…"}
    assert sorted(secret_keys(body)) == [
        ("$.Refresh_Token", "Refresh_Token"),
        ("$.a[0].b.hashed_password", "hashed_password"),
    ]


def login(base_url: str) -> str:
    with httpx.Client(base_url=base_url, timeout=10) as client:
        response = client.post(
            f"{API}/login/access-token",
            files={"username": (None, ADMIN_EMAIL), "password": (None, ADMIN_PASSWORD)},
        )
        response.raise_for_status()
        token = response.json()["access_token"]
        assert isinstance(token, str)
        return token


def cookieless_session() -> requests.Session:
    """A session that never stores cookies: every request is authenticated by the header alone."""
    session = requests.Session()
    session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
    return session


def check_response(findings: Findings, label: str, response: requests.Response) -> None:
    findings.calls[label] = findings.calls.get(label, 0) + 1
    findings.statuses.setdefault(label, set()).add(response.status_code)
    request = response.request
    sent = f"{request.method} {request.url} body={request.body!r:.300}"
    if response.status_code >= 500:
        findings.fail(label, f"{response.status_code} for {sent}: {response.text[:300]}")
    if "json" not in response.headers.get("content-type", ""):
        return
    try:
        body = response.json()
    except json.JSONDecodeError:
        findings.fail(label, f"invalid JSON ({response.status_code}) for {sent}")
        return
    allowed = ALLOWED_SECRET_FIELDS.get(label, frozenset())
    for where, key in secret_keys(body):
        if not (where == f"$.{key}" and key in allowed):
            findings.fail(label, f"secret-named field {where} in {response.status_code} to {sent}")


def seed(client: httpx.Client) -> dict[str, str]:
    """Real resources for the seeded pass, by the parameter (or body field) names that take them.

    A course with a room, an announcement and an enrolled (and assigned) guest, an organization
    with a project, one of the admin's API keys and a workflow. Only the guest is ever a
    ``user_id``, so the admin itself is never edited or deactivated by the fuzzer.
    """

    def created(path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = client.post(f"{API}{path}", json=body)
        assert response.status_code in (200, 201), f"seeding {path}: {response.text}"
        data = response.json()
        assert isinstance(data, dict)
        return data

    org = created("/organizations", {"name": "fuzz org"})
    project = created("/projects", {"name": "fuzz project", "organization_id": org["id"]})
    course = created("/courses/", {"title": "fuzz course"})
    guest = created(
        "/users/",
        {"email": f"fuzz-{uuid.uuid4().hex[:8]}@example.org", "password": "fuzz-target-password"},
    )
    created(f"/courses/{course['id']}/enroll", {"user_id": guest["id"], "role": "student"})
    room = created("/rooms/", {"course_id": course["id"], "name": "fuzz room"})
    created(f"/rooms/{room['id']}/assign", {"user_id": guest["id"]})
    created("/announcements/", {"course_id": course["id"], "title": "fuzz", "content": "fuzz"})
    key = created("/users/me/api-keys", {"name": "fuzz key"})
    workflow = created("/workflows", {"name": "fuzz workflow"})
    return {
        "course_id": course["id"],
        "room_id": room["id"],
        "org_id": org["id"],
        "organization_id": org["id"],
        "project_id": project["id"],
        "user_id": guest["id"],
        "member_id": guest["id"],
        "user_email": guest["email"],
        "key_id": key["id"],
        "workflow_id": workflow["id"],
    }


def seeded_strategy(operation: Operation, seeds: dict[str, str]) -> Any:
    """Valid cases whose seedable path and query parameters are the real ids (None: no such)."""
    path = {p.name: seeds[p.name] for p in operation.path_parameters if p.name in seeds}
    query = {p.name: seeds[p.name] for p in operation.query if p.name in seeds}
    if not (path or query or list(operation.body)):
        return None
    return operation.as_strategy(
        generation_mode=GenerationMode.POSITIVE,
        path_parameters=path or None,
        query=query or None,
    )


def prepare(case: Any, label: str, seeds: dict[str, str] | None) -> None:
    """Point a seeded case's body ids at real resources; keep the admin's password unchanged
    and provider keys out."""
    if not isinstance(case.body, dict):
        return
    if seeds is not None:
        for name in set(case.body) & set(seeds):
            case.body[name] = seeds[name]
    if label == ME:
        for name in ME_FROZEN_FIELDS:
            case.body.pop(name, None)
    for name in PROVIDER_KEY_FIELDS.get(label, ()):
        case.body.pop(name, None)


@dataclass(frozen=True)
class Target:
    """Where and as whom the cases are sent, and where the outcome is recorded."""

    base_url: str
    headers: dict[str, str]
    session: requests.Session
    findings: Findings


def run_pass(target: Target, label: str, strategy: Any, examples: int, seeds: Any) -> None:
    """Send ``examples`` cases drawn from ``strategy`` and check every response."""

    @settings(FUZZ_SETTINGS, max_examples=examples)
    @given(case=strategy)
    def run(case: Any) -> None:
        prepare(case, label, seeds)
        try:
            response = case.call(
                base_url=target.base_url, session=target.session, headers=target.headers, timeout=15
            )
        except requests.RequestException as exc:
            target.findings.fail(label, f"transport error: {exc!r}")
            return
        finally:
            target.session.cookies.clear()
        check_response(target.findings, label, response)

    run()


def budgets(operation: Operation) -> tuple[int, int, int]:
    """Examples for the valid, invalid and seeded passes (no seeded pass under a fixed cap)."""
    label = f"{operation.method.upper()} {operation.path}"
    cap = MAX_EXAMPLES.get(label)
    if cap is not None:
        return cap, cap, 0
    if operation.definition.raw.get("x-coagent-service"):
        return FORWARDED_BUDGET
    return DEFAULT_POSITIVE, DEFAULT_NEGATIVE, DEFAULT_SEEDED


def fuzz_operation(operation: Operation, target: Target, seeds: dict[str, str]) -> None:
    label = f"{operation.method.upper()} {operation.path}"
    positive, invalid, seeded_examples = budgets(operation)
    run_pass(target, label, operation.as_strategy(), positive, None)
    negative = operation.as_strategy(generation_mode=GenerationMode.NEGATIVE)
    # Unsatisfiable: nothing in the operation can be made invalid (no parameters, no body).
    with contextlib.suppress(Unsatisfiable):
        run_pass(target, label, negative, invalid, None)
    seeded = seeded_strategy(operation, seeds)
    if seeded is not None and seeded_examples:
        run_pass(target, label, seeded, seeded_examples, seeds)


#: Non-DELETE operations that destroy their target like a deletion does (forgetting the seeded
#: guest anonymises it): they run with the deletions, so every other seeded case still finds it.
DESTRUCTIVE = frozenset({f"POST {API}/users/{{user_id}}/forget"})


def delete_order(operation: Operation) -> tuple[bool, int, bool]:
    """Every other operation first, then deletions: the most nested first, rooms before courses
    (deleting a course takes its rooms and memberships with it)."""
    label = f"{operation.method.upper()} {operation.path}"
    if operation.method.upper() != "DELETE" and label not in DESTRUCTIVE:
        return False, 0, False
    return True, -operation.path.count("/"), "/rooms/" not in operation.path


def test_public_api_fuzz(fleet: Fleet) -> None:
    base_url = fleet.gateway_url
    schema = schemathesis.openapi.from_url(f"{base_url}{API}/openapi.json", timeout=30)
    # The document declares the gateway's credentials (cookie, bearer, API key); generated values
    # for them would only turn cases into 401s. Every case carries the admin's bearer token.
    schema.config.generation.update(with_security_parameters=False)
    token = login(base_url)
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=10) as client:
        me = client.get(f"{API}/users/me").json()

    findings = Findings()
    operations: list[Operation] = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"the schema does not load: {result!r}"
        operation = result.ok()
        if f"{operation.method.upper()} {operation.path}" not in EXCLUDED:
            operations.append(operation)
    # Deletions last (nested ones first), so the seeded resources exist for every other operation.
    operations.sort(key=delete_order)
    labels = [f"{op.method.upper()} {op.path}" for op in operations]

    session = cookieless_session()
    with httpx.Client(base_url=base_url, headers=headers, timeout=10) as client:
        seeds = seed(client)
    try:
        target = Target(base_url, headers, session, findings)
        for operation in operations:
            fuzz_operation(operation, target, seeds)
    finally:
        session.close()
        with httpx.Client(base_url=base_url, headers=headers, timeout=10) as client:
            client.put(
                f"{API}/users/me",
                json={"username": me["username"], "full_name": me["full_name"]},
            )

    # The fuzzer's own session survived, and it really covered the API.
    with httpx.Client(base_url=base_url, headers=headers, timeout=10) as client:
        assert client.get(f"{API}/users/me").json()["email"] == ADMIN_EMAIL
    assert len(labels) >= 40, labels
    assert all(findings.calls.get(label) for label in labels), findings.calls
    report = "\n".join(
        f"{label}:\n  " + "\n  ".join(messages[:5])
        for label, messages in sorted(findings.failures.items())
    )
    assert not findings.failures, f"the fuzz run found problems:\n{report}"
