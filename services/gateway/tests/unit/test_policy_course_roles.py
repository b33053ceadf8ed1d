"""``may_assign_course_role``: who may give which course role to whom (closes F9)."""

from __future__ import annotations

import pytest

from coagent_gateway.domain import PlatformRole, User
from coagent_gateway.policy import Kind, Resource, may_assign_course_role

R = PlatformRole
ROLES = ("student", "ta", "teacher")

# (caller's platform role, caller's course role) → allowed (current, new) pairs
TEACHER_OR_ADMIN = {(c, n) for c in (None, *ROLES) for n in ROLES}
TA = {(None, "student"), ("student", "student")}
CASES = {
    (R.SUPER_ADMIN, None): TEACHER_OR_ADMIN,
    (R.ADMIN, None): TEACHER_OR_ADMIN,
    (R.STUDENT, "teacher"): TEACHER_OR_ADMIN,
    (R.TEACHER, "ta"): TA,
    (R.STUDENT, "ta"): TA,
    (R.TEACHER, "student"): set(),
    (R.TEACHER, None): set(),
    (R.GUEST, None): set(),
}


@pytest.mark.parametrize(("caller", "allowed"), CASES.items(), ids=[f"{r}-{m}" for r, m in CASES])
def test_course_role_assignment(caller: tuple[R, str | None], allowed: set[object]) -> None:
    role, membership = caller
    user = User("me", "me@example.org", "me", role)
    course = Resource(Kind.COURSE, "c", owner_id="owner", membership=membership)
    for current in (None, *ROLES):
        for new in ROLES:
            expected = (current, new) in allowed
            assert may_assign_course_role(user, course, current, new) is expected, (current, new)


def test_unknown_course_roles_are_never_assigned() -> None:
    admin = User("me", "me@example.org", "me", R.SUPER_ADMIN)
    assert not may_assign_course_role(admin, Resource(Kind.COURSE, "c"), None, "owner")


def test_the_owner_assigns_like_a_teacher() -> None:
    owner = User("me", "me@example.org", "me", R.TEACHER)
    course = Resource(Kind.COURSE, "c", owner_id="me")
    assert may_assign_course_role(owner, course, "ta", "teacher")
