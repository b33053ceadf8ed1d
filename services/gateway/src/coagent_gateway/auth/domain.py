"""Sessions and their rules: pure types, token hashing, the errors clients see."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from coagent_gateway.domain import User
from coagent_kit.errors import BadRequest, TooManyRequests, Unauthorized

#: Access tokens are short-lived; the refresh token keeps the session going.
ACCESS_TTL = timedelta(minutes=15)
REFRESH_TTL = timedelta(days=14)
#: A refresh token presented again within this window is a concurrent refresh from the same
#: client (several tabs or parallel requests after one 401), not theft: it gets a sibling token.
REUSE_GRACE = timedelta(seconds=30)


class InvalidCredentials(BadRequest):
    # 400, not 401: a 401 on the login form would send the web client into a refresh attempt.
    code = "invalid_credentials"


class InactiveUser(BadRequest):
    code = "inactive_user"


class NotAuthenticated(Unauthorized):
    code = "not_authenticated"


class InvalidToken(Unauthorized):
    code = "token_invalid"


class RefreshRejected(Unauthorized):
    code = "refresh_rejected"


class RefreshReused(Unauthorized):
    code = "refresh_token_reused"


class AlreadyImpersonating(BadRequest):
    code = "already_impersonating"


class NotImpersonating(BadRequest):
    code = "not_impersonating"


class LoginThrottled(TooManyRequests):
    code = "too_many_login_attempts"

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"Too many login attempts; try again in {retry_after_s} seconds")
        self.retry_after_s = retry_after_s

    def headers(self) -> dict[str, str] | None:
        return {"Retry-After": str(self.retry_after_s)}


@dataclass(frozen=True)
class Account:
    """A user with what login needs to know; never leaves the auth feature."""

    user: User
    password_hash: str | None


@dataclass(frozen=True)
class AccessClaims:
    """What a verified access token says."""

    user_id: str
    session_id: str
    expires_at: datetime
    impersonator_id: str | None = None


@dataclass(frozen=True)
class RefreshToken:
    """One link of a session's rotation chain; only its hash is stored."""

    id: str
    session_id: str
    user_id: str
    token_hash: str
    issued_at: datetime
    expires_at: datetime
    used_at: datetime | None = None
    revoked_at: datetime | None = None
    impersonator_id: str | None = None

    def usable(self, now: datetime) -> bool:
        """Neither used, revoked nor expired."""
        return self.used_at is None and self.revoked_at is None and now < self.expires_at

    def within_grace(self, now: datetime) -> bool:
        """Used moments ago (a concurrent refresh), and the session is still alive."""
        return (
            self.used_at is not None
            and self.revoked_at is None
            and now - self.used_at <= REUSE_GRACE
            and now < self.expires_at
        )


@dataclass(frozen=True)
class Session:
    """What a successful login or refresh hands the client (as cookies or JSON)."""

    user: User
    access_token: str
    access_expires_at: datetime
    refresh_token: str
    refresh_expires_at: datetime


def new_refresh_secret() -> str:
    """An unguessable opaque refresh token (256 bits)."""
    return secrets.token_urlsafe(32)


def hash_token(raw: str) -> str:
    """SHA-256 of a high-entropy token: enough, since it cannot be brute-forced like a password."""
    return hashlib.sha256(raw.encode()).hexdigest()
