"""First-start bootstrap of the super admin on the memory adapters."""

from __future__ import annotations

import pytest

from coagent_contracts.gateway import UserCreatedV1
from coagent_gateway.adapters.memory import MemoryUserStore, PlainHasher
from coagent_gateway.domain import MIN_PASSWORD_CHARS, InvalidAdminSettings, PlatformRole
from coagent_gateway.service import ensure_super_admin


@pytest.fixture
def users() -> MemoryUserStore:
    return MemoryUserStore()


async def test_a_password_is_generated_when_none_is_given(users: MemoryUserStore) -> None:
    outcome = await ensure_super_admin(users, PlainHasher(), "root@example.org", None, None)

    assert outcome.created is True
    assert outcome.generated_password is not None
    assert len(outcome.generated_password) >= 16
    assert users.hashes[outcome.user.id] == f"plain:{outcome.generated_password}"
    assert outcome.user.platform_role == PlatformRole.SUPER_ADMIN


async def test_generated_passwords_differ(users: MemoryUserStore) -> None:
    first = await ensure_super_admin(users, PlainHasher(), "a@example.org", None, "")
    other = await ensure_super_admin(MemoryUserStore(), PlainHasher(), "a@example.org", None, "")

    assert first.generated_password
    assert other.generated_password
    assert first.generated_password != other.generated_password


async def test_the_given_password_is_used_and_not_returned(users: MemoryUserStore) -> None:
    outcome = await ensure_super_admin(
        users, PlainHasher(), "root@example.org", "boss", "correct horse battery"
    )

    assert outcome.created is True
    assert outcome.generated_password is None
    assert users.hashes[outcome.user.id] == "plain:correct horse battery"
    assert outcome.user.username == "boss"


async def test_a_second_call_creates_nothing(users: MemoryUserStore) -> None:
    first = await ensure_super_admin(users, PlainHasher(), "root@example.org", None, None)
    second = await ensure_super_admin(users, PlainHasher(), "other@example.org", "x", None)

    assert second.created is False
    assert second.generated_password is None
    assert second.user == first.user
    assert len(users.users) == 1
    assert len(users.published) == 1


async def test_the_username_defaults_to_the_email_local_part(users: MemoryUserStore) -> None:
    outcome = await ensure_super_admin(users, PlainHasher(), "  Ada.L@Example.ORG ", None, None)

    assert outcome.user.email == "ada.l@example.org"
    assert outcome.user.username == "ada.l"


@pytest.mark.parametrize("email", ["not-an-email", "@example.org", "root@localhost", ""], ids=str)
async def test_an_invalid_email_is_refused(users: MemoryUserStore, email: str) -> None:
    with pytest.raises(InvalidAdminSettings) as info:
        await ensure_super_admin(users, PlainHasher(), email, None, None)

    assert info.value.code == "invalid_admin_settings"
    assert users.users == []


async def test_a_short_password_is_refused(users: MemoryUserStore) -> None:
    with pytest.raises(InvalidAdminSettings) as info:
        await ensure_super_admin(
            users, PlainHasher(), "root@example.org", None, "x" * (MIN_PASSWORD_CHARS - 1)
        )

    assert info.value.code == "invalid_admin_settings"
    assert users.users == []
    assert users.published == []


async def test_the_user_created_event_is_queued(users: MemoryUserStore) -> None:
    outcome = await ensure_super_admin(users, PlainHasher(), "root@example.org", None, None)

    assert len(users.published) == 1
    event = users.published[0]
    assert isinstance(event, UserCreatedV1)
    assert event.producer == "gateway"
    assert event.data.user_id == outcome.user.id
    assert (event.data.email, event.data.username) == ("root@example.org", "root")
    assert event.data.platform_role == "super_admin"
    assert event.subject == f"gateway.user.{outcome.user.id}.created.v1"
