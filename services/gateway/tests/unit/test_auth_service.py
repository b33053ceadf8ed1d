"""Sessions: login, probing, rotation with reuse detection, logout, throttling."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from coagent_gateway.auth.domain import (
    REUSE_GRACE,
    InactiveUser,
    InvalidCredentials,
    InvalidToken,
    LoginThrottled,
    RefreshRejected,
    RefreshReused,
    hash_token,
)
from coagent_gateway.auth.service import ACCOUNT_LIMIT

from ..conftest import AuthKit


async def test_login_by_username_or_email_opens_a_session(auth: AuthKit) -> None:
    user = auth.add_user()
    by_name = await auth.service.login("ada", "correct-horse", "10.0.0.1")
    by_email = await auth.service.login("ADA@example.org", "correct-horse", "10.0.0.1")
    assert by_name.user == by_email.user == user
    assert await auth.service.authenticate(by_name.access_token) == user
    assert auth.audit.actions() == ["login", "login"]


async def test_wrong_password_and_unknown_user_look_the_same(auth: AuthKit) -> None:
    auth.add_user()
    with pytest.raises(InvalidCredentials) as wrong:
        await auth.service.login("ada", "nope", None)
    with pytest.raises(InvalidCredentials) as unknown:
        await auth.service.login("nobody", "nope", None)
    assert wrong.value.detail == unknown.value.detail
    assert wrong.value.status == 400
    assert auth.audit.actions() == ["login_failed", "login_failed"]


async def test_inactive_users_cannot_log_in(auth: AuthKit) -> None:
    auth.add_user(active=False)
    with pytest.raises(InactiveUser):
        await auth.service.login("ada", "correct-horse", None)


async def test_failures_are_throttled_per_account(auth: AuthKit) -> None:
    auth.add_user()
    for _ in range(ACCOUNT_LIMIT):
        with pytest.raises(InvalidCredentials):
            await auth.service.login("ada", "nope", "10.0.0.9")
    with pytest.raises(LoginThrottled) as throttled:
        await auth.service.login("ada", "correct-horse", "10.0.0.9")
    assert throttled.value.status == 429
    assert throttled.value.headers() == {"Retry-After": str(auth.throttle.window_s)}


async def test_success_clears_the_account_counter(auth: AuthKit) -> None:
    auth.add_user()
    for _ in range(ACCOUNT_LIMIT - 1):
        with pytest.raises(InvalidCredentials):
            await auth.service.login("ada", "nope", None)
    await auth.service.login("ada", "correct-horse", None)
    with pytest.raises(InvalidCredentials):
        await auth.service.login("ada", "nope", None)  # counting starts again: not throttled


async def test_refresh_rotates_and_the_new_token_works(auth: AuthKit) -> None:
    auth.add_user()
    first = await auth.service.login("ada", "correct-horse", None)
    second = await auth.service.refresh(first.refresh_token, None)
    assert second.refresh_token != first.refresh_token
    third = await auth.service.refresh(second.refresh_token, None)
    assert await auth.service.authenticate(third.access_token) == first.user


async def test_reuse_after_the_grace_window_revokes_the_whole_session(auth: AuthKit) -> None:
    auth.add_user()
    first = await auth.service.login("ada", "correct-horse", None)
    second = await auth.service.refresh(first.refresh_token, None)
    _age_token(auth, first.refresh_token, REUSE_GRACE + timedelta(seconds=1))

    with pytest.raises(RefreshReused):
        await auth.service.refresh(first.refresh_token, None)
    with pytest.raises(RefreshRejected):
        await auth.service.refresh(second.refresh_token, None)  # the thief's chain is dead too
    with pytest.raises(InvalidToken):
        await auth.service.authenticate(second.access_token)
    assert "refresh_token_reused" in auth.audit.actions()


async def test_concurrent_refresh_within_the_grace_window_keeps_the_session(auth: AuthKit) -> None:
    auth.add_user()
    first = await auth.service.login("ada", "correct-horse", None)
    a = await auth.service.refresh(first.refresh_token, None)
    b = await auth.service.refresh(first.refresh_token, None)  # a parallel request's refresh
    assert a.refresh_token != b.refresh_token
    await auth.service.refresh(a.refresh_token, None)
    await auth.service.refresh(b.refresh_token, None)


async def test_logout_revokes_access_and_refresh(auth: AuthKit) -> None:
    auth.add_user()
    session = await auth.service.login("ada", "correct-horse", None)
    await auth.service.logout(session.access_token, session.refresh_token, None)
    with pytest.raises(InvalidToken) as access:
        await auth.service.authenticate(session.access_token)
    assert access.value.code == "session_revoked"
    with pytest.raises(RefreshRejected):
        await auth.service.refresh(session.refresh_token, None)
    assert not await auth.service.refresh_would_succeed(session.refresh_token)


async def test_deactivated_user_loses_access_at_once(auth: AuthKit) -> None:
    user = auth.add_user()
    session = await auth.service.login("ada", "correct-horse", None)
    account = auth.accounts.accounts[user.id]
    auth.accounts.accounts[user.id] = dataclasses.replace(
        account, user=dataclasses.replace(user, is_active=False)
    )
    with pytest.raises(InvalidToken):
        await auth.service.authenticate(session.access_token)
    with pytest.raises(RefreshRejected):
        await auth.service.refresh(session.refresh_token, None)


async def test_expired_refresh_token_is_rejected(auth: AuthKit) -> None:
    auth.add_user()
    session = await auth.service.login("ada", "correct-horse", None)
    digest = hash_token(session.refresh_token)
    auth.tokens.tokens[digest] = dataclasses.replace(
        auth.tokens.tokens[digest], expires_at=datetime.now(UTC) - timedelta(seconds=1)
    )
    assert not await auth.service.refresh_would_succeed(session.refresh_token)
    with pytest.raises(RefreshRejected):
        await auth.service.refresh(session.refresh_token, None)


async def test_a_refresh_token_is_not_an_access_token(auth: AuthKit) -> None:
    auth.add_user()
    session = await auth.service.login("ada", "correct-horse", None)
    with pytest.raises(InvalidToken):
        await auth.service.authenticate(session.refresh_token)


def _age_token(auth: AuthKit, raw: str, age: timedelta) -> None:
    digest = hash_token(raw)
    token = auth.tokens.tokens[digest]
    assert token.used_at is not None
    auth.tokens.tokens[digest] = dataclasses.replace(token, used_at=token.used_at - age)
