"""The whole action × platform role × membership matrix of :mod:`coagent_gateway.policy`.

The expectations are written out as tables (who is always allowed, which memberships allow),
independently of the rules, so a change to a rule has to be a change to this table too.
"""

from __future__ import annotations

import dataclasses

import pytest

from coagent_gateway.domain import PlatformRole, User
from coagent_gateway.policy import Action, Kind, Resource, can

R = PlatformRole
A = Action
ALL_ROLES = frozenset(R)
ADMINS = frozenset({R.SUPER_ADMIN, R.ADMIN})
ME = "me"

# Scenarios: (name, resource) for the caller ``ME``.
COURSE_SCENARIOS = {
    "none": Resource(Kind.COURSE, "c", owner_id="someone"),
    "student": Resource(Kind.COURSE, "c", owner_id="someone", membership="student"),
    "ta": Resource(Kind.COURSE, "c", owner_id="someone", membership="ta"),
    "teacher": Resource(Kind.COURSE, "c", owner_id="someone", membership="teacher"),
    "owner": Resource(Kind.COURSE, "c", owner_id=ME),
}
ORG_SCENARIOS = {
    m: Resource(Kind.ORGANIZATION, "o", membership=m) for m in ("member", "admin", "owner")
}
ORG_SCENARIOS["none"] = Resource(Kind.ORGANIZATION, "o")
PROJECT_SCENARIOS = {
    m: Resource(Kind.PROJECT, "p", membership=m) for m in ("member", "editor", "admin", "owner")
}
PROJECT_SCENARIOS["none"] = Resource(Kind.PROJECT, "p")
USER_SCENARIOS = {
    "self": Resource(Kind.USER, ME, target_role=None),
    "other_student": Resource(Kind.USER, "u", target_role=R.STUDENT),
    "other_admin": Resource(Kind.USER, "u", target_role=R.ADMIN),
    "grant_admin": Resource(Kind.USER, "u", target_role=R.STUDENT, new_role=R.ADMIN),
}
PLATFORM_SCENARIOS = {"platform": Resource(Kind.PLATFORM)}

ROOM_KIND = {a: Kind.ROOM for a in A if a.value.startswith("room.")}

MEMBERS = frozenset({"student", "ta", "teacher", "owner"})
STAFF = frozenset({"ta", "teacher", "owner"})
TEACHERS = frozenset({"teacher", "owner"})

#: action → (scenarios, platform roles always allowed, scenarios that allow anyone else)
MATRIX: dict[Action, tuple[dict[str, Resource], frozenset[R], frozenset[str]]] = {
    A.COURSE_CREATE: (PLATFORM_SCENARIOS, ADMINS | {R.TEACHER}, frozenset()),
    A.COURSE_READ: (COURSE_SCENARIOS, ADMINS, MEMBERS),
    A.COURSE_UPDATE: (COURSE_SCENARIOS, ADMINS, TEACHERS),
    A.COURSE_DELETE: (COURSE_SCENARIOS, ADMINS, TEACHERS),
    A.COURSE_MEMBERS_READ: (COURSE_SCENARIOS, ADMINS, MEMBERS),
    A.COURSE_MEMBERS_MANAGE: (COURSE_SCENARIOS, ADMINS, STAFF),
    A.ANNOUNCEMENT_READ: (COURSE_SCENARIOS, ADMINS, MEMBERS),
    A.ANNOUNCEMENT_CREATE: (COURSE_SCENARIOS, ADMINS, STAFF),
    A.ROOM_READ: (COURSE_SCENARIOS, ADMINS, MEMBERS),
    A.ROOM_CHAT: (COURSE_SCENARIOS, ADMINS, MEMBERS),
    A.ROOM_CREATE: (COURSE_SCENARIOS, ADMINS, STAFF),
    A.ROOM_UPDATE: (COURSE_SCENARIOS, ADMINS, STAFF),
    A.ROOM_DELETE: (COURSE_SCENARIOS, ADMINS, STAFF),
    A.ROOM_ASSIGN: (COURSE_SCENARIOS, ADMINS, STAFF),
    A.ROOM_MANAGE_AGENTS: (COURSE_SCENARIOS, ADMINS, STAFF),
    A.ORG_CREATE: (PLATFORM_SCENARIOS, ALL_ROLES - {R.GUEST}, frozenset()),
    A.ORG_READ: (ORG_SCENARIOS, ADMINS, frozenset({"member", "admin", "owner"})),
    A.ORG_MANAGE: (ORG_SCENARIOS, ADMINS, frozenset({"admin", "owner"})),
    A.PROJECT_CREATE: (ORG_SCENARIOS, ADMINS, frozenset({"member", "admin", "owner"})),
    A.PROJECT_READ: (PROJECT_SCENARIOS, ADMINS, frozenset({"member", "editor", "admin", "owner"})),
    A.PROJECT_MANAGE: (PROJECT_SCENARIOS, ADMINS, frozenset({"admin", "owner"})),
    # Students cannot enumerate emails: searching people is for teachers and course staff.
    A.USER_SEARCH: (COURSE_SCENARIOS, ADMINS | {R.TEACHER}, frozenset({"ta", "teacher"})),
    A.USER_LIST: (PLATFORM_SCENARIOS, ADMINS, frozenset()),
    A.AUDIT_READ: (PLATFORM_SCENARIOS, ADMINS, frozenset()),
    A.ADMIN_DB_READ: (PLATFORM_SCENARIOS, frozenset({R.SUPER_ADMIN}), frozenset()),
    A.DEAD_LETTERS_MANAGE: (PLATFORM_SCENARIOS, ADMINS, frozenset()),
}

#: User-management actions depend on the caller's role *and* the target: written out in full.
USER_MATRIX: dict[Action, dict[str, frozenset[R]]] = {
    A.USER_READ: {
        "self": ALL_ROLES,
        "other_student": ADMINS,
        "other_admin": ADMINS,
        "grant_admin": ADMINS,
    },
    A.USER_CREATE: {
        "self": ADMINS,
        "other_student": ADMINS,
        "other_admin": frozenset({R.SUPER_ADMIN}),
        "grant_admin": frozenset({R.SUPER_ADMIN}),
    },
    A.USER_UPDATE: {
        "self": ALL_ROLES,
        "other_student": ADMINS,
        "other_admin": frozenset({R.SUPER_ADMIN}),
        "grant_admin": frozenset({R.SUPER_ADMIN}),
    },
    # Nobody sets their own platform role (no self-promotion, no super admin locking themself out).
    A.USER_SET_ROLE: {
        "self": frozenset(),
        "other_student": ADMINS,
        "other_admin": frozenset({R.SUPER_ADMIN}),
        "grant_admin": frozenset({R.SUPER_ADMIN}),
    },
    A.USER_DELETE: {
        "self": frozenset(),
        "other_student": ADMINS,
        "other_admin": frozenset({R.SUPER_ADMIN}),
        "grant_admin": frozenset({R.SUPER_ADMIN}),
    },
    A.USER_IMPERSONATE: {s: frozenset({R.SUPER_ADMIN}) for s in USER_SCENARIOS},
}


def _cases() -> list[tuple[Action, R, str, Resource, bool]]:
    cases = []
    for action, (scenarios, always, memberships) in MATRIX.items():
        kind = ROOM_KIND.get(action)
        for role in R:
            for name, resource in scenarios.items():
                if kind is not None and resource.kind is Kind.COURSE:
                    resource = dataclasses.replace(resource, kind=kind)
                cases.append((action, role, name, resource, role in always or name in memberships))
    for action, by_scenario in USER_MATRIX.items():
        for role in R:
            for name, allowed in by_scenario.items():
                cases.append((action, role, name, USER_SCENARIOS[name], role in allowed))
    return cases


CASES = _cases()


def test_the_matrix_covers_every_action() -> None:
    assert {c[0] for c in CASES} == set(Action)


@pytest.mark.parametrize(
    ("action", "role", "scenario", "resource", "allowed"),
    CASES,
    ids=[f"{a.value}-{r.value}-{s}" for a, r, s, _, _ in CASES],
)
def test_policy_matrix(
    action: Action, role: R, scenario: str, resource: Resource, allowed: bool
) -> None:
    user = User(ME, "me@example.org", "me", role)
    assert can(user, action, resource) is allowed
    inactive = dataclasses.replace(user, is_active=False)
    assert can(inactive, action, resource) is False
