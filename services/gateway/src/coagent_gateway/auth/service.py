"""Login, session probe, refresh with rotation and reuse detection, logout, impersonation."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from coagent_gateway.auth.domain import (
    REFRESH_TTL,
    AlreadyImpersonating,
    InactiveUser,
    InvalidCredentials,
    InvalidToken,
    LoginThrottled,
    NotImpersonating,
    RefreshRejected,
    RefreshReused,
    RefreshToken,
    Session,
    hash_token,
    new_refresh_secret,
)
from coagent_gateway.auth.ports import (
    AccountStore,
    AuditLog,
    LoginThrottle,
    PasswordHasher,
    RefreshTokenStore,
    SessionRevocations,
)
from coagent_gateway.auth.tokens import AccessTokenCodec
from coagent_gateway.domain import PlatformRole, User
from coagent_gateway.policy import Action, Kind, Resource, require
from coagent_kit.errors import Forbidden, NotFound

#: Failed logins allowed per window, per account and per client address.
ACCOUNT_LIMIT = 10
ADDRESS_LIMIT = 50


@dataclass(frozen=True)
class AuthPorts:
    """Everything :class:`AuthService` talks to."""

    accounts: AccountStore
    refresh_tokens: RefreshTokenStore
    revocations: SessionRevocations
    throttle: LoginThrottle
    audit: AuditLog
    hasher: PasswordHasher


class AuthService:
    """Owns user sessions: every way in and out goes through here."""

    def __init__(self, ports: AuthPorts, codec: AccessTokenCodec) -> None:
        self._p = ports
        self._codec = codec

    async def login(self, login: str, password: str, ip: str | None) -> Session:
        """Check credentials (throttled per account and address) and open a session."""
        keys = {f"acct:{login.strip().lower()}": ACCOUNT_LIMIT, f"addr:{ip or '-'}": ADDRESS_LIMIT}
        wait = await self._p.throttle.retry_after(keys)
        if wait is not None:
            await self._p.audit.record(
                "login_throttled", actor_id=None, ip=ip, details={"login": login}
            )
            raise LoginThrottled(wait)
        account = await self._p.accounts.find_by_login(login.strip())
        if account is None or not await self._password_ok(account.password_hash, password):
            await self._p.throttle.record_failure(keys)
            subject = account.user.id if account else None
            await self._p.audit.record(
                "login_failed", actor_id=None, subject_id=subject, ip=ip, details={"login": login}
            )
            raise InvalidCredentials("Incorrect username/email or password")
        if not account.user.is_active:
            raise InactiveUser("Inactive user")
        await self._p.throttle.clear(next(iter(keys)))
        await self._rehash_if_needed(account.user.id, account.password_hash, password)
        session = await self._open(account.user, str(uuid.uuid4()), impersonator_id=None)
        await self._p.audit.record("login", actor_id=account.user.id, ip=ip)
        return session

    async def _password_ok(self, password_hash: str | None, password: str) -> bool:
        # argon2 is deliberately slow and releases the GIL: run it off the event loop so
        # logins use both cores and never stall other requests or sockets.
        if password_hash is None:
            return False
        return await asyncio.to_thread(self._p.hasher.verify, password_hash, password)

    async def _rehash_if_needed(
        self, user_id: str, password_hash: str | None, password: str
    ) -> None:
        if password_hash is not None and self._p.hasher.needs_rehash(password_hash):
            new_hash = await asyncio.to_thread(self._p.hasher.hash, password)
            await self._p.accounts.set_password_hash(user_id, new_hash)

    async def authenticate(self, access_token: str) -> User:
        """The active user an access token belongs to; 401 for anything else."""
        claims = self._codec.verify(access_token)
        if await self._p.revocations.is_revoked(claims.session_id):
            raise InvalidToken("Session ended", code="session_revoked")
        account = await self._p.accounts.get(claims.user_id)
        if account is None or not account.user.is_active:
            raise InvalidToken("User not found or inactive")
        return account.user

    async def refresh_would_succeed(self, raw_refresh: str) -> bool:
        """Whether :meth:`refresh` would accept this token (the session probe's 401 rule)."""
        token = await self._p.refresh_tokens.find(hash_token(raw_refresh))
        now = datetime.now(UTC)
        if token is None or not (token.usable(now) or token.within_grace(now)):
            return False
        account = await self._p.accounts.get(token.user_id)
        return account is not None and account.user.is_active

    async def refresh(self, raw_refresh: str, ip: str | None) -> Session:
        """Rotate: the presented token is spent and a new one issued in the same session.

        A token presented again after the grace window means it leaked: the whole session is
        revoked, so neither the thief nor the owner can continue with it.
        """
        now = datetime.now(UTC)
        digest = hash_token(raw_refresh)
        token = await self._p.refresh_tokens.consume(digest, now)
        if token is None:
            token = await self._reuse_or_reject(digest, now, ip)
        account = await self._p.accounts.get(token.user_id)
        if account is None or not account.user.is_active:
            raise RefreshRejected("User not found or inactive")
        return await self._open(account.user, token.session_id, token.impersonator_id)

    async def _reuse_or_reject(self, digest: str, now: datetime, ip: str | None) -> RefreshToken:
        token = await self._p.refresh_tokens.find(digest)
        if token is None or token.revoked_at is not None or now >= token.expires_at:
            raise RefreshRejected("Invalid refresh token")
        if token.within_grace(now):
            return token
        await self.end_session(token.session_id, token.user_id, ip, reason="refresh_token_reused")
        raise RefreshReused("Refresh token already used; the session was revoked")

    async def logout(
        self, access_token: str | None, raw_refresh: str | None, ip: str | None
    ) -> None:
        """End the session named by either token; unknown or expired tokens are ignored."""
        session_id, user_id = await self._session_of(access_token, raw_refresh)
        if session_id is not None:
            await self.end_session(session_id, user_id, ip, reason="logout")

    async def _session_of(
        self, access_token: str | None, raw_refresh: str | None
    ) -> tuple[str | None, str | None]:
        if raw_refresh:
            token = await self._p.refresh_tokens.find(hash_token(raw_refresh))
            if token is not None:
                return token.session_id, token.user_id
        if access_token:
            try:
                claims = self._codec.verify(access_token)
            except InvalidToken:
                return None, None
            return claims.session_id, claims.user_id
        return None, None

    async def end_session(
        self, session_id: str, user_id: str | None, ip: str | None, *, reason: str
    ) -> None:
        """Revoke the refresh chain and every access token of a session."""
        await self._revoke(session_id)
        await self._p.audit.record(reason, actor_id=user_id, ip=ip, details={"session": session_id})

    async def end_user_sessions(self, user_id: str) -> None:
        """End every session of a user (the account was deactivated or its password reset)."""
        for session_id in await self._p.refresh_tokens.revoke_user(user_id, datetime.now(UTC)):
            await self._p.revocations.revoke(session_id, int(self._codec.ttl.total_seconds()) + 60)

    async def _revoke(self, session_id: str) -> None:
        await self._p.refresh_tokens.revoke_session(session_id, datetime.now(UTC))
        await self._p.revocations.revoke(session_id, int(self._codec.ttl.total_seconds()) + 60)

    async def impersonate(self, access_token: str, target_id: str, ip: str | None) -> Session:
        """Open a session as ``target_id`` for a super admin; its tokens name the impersonator.

        The admin's own session stays alive (the caller keeps its refresh token to restore it).
        No nesting, only active targets, and never another super admin.
        """
        claims = self._codec.verify(access_token)
        if claims.impersonator_id is not None:
            raise AlreadyImpersonating("Already impersonating; stop first")
        actor = await self.authenticate(access_token)
        require(actor, Action.USER_IMPERSONATE, Resource(Kind.USER))
        account = await self._p.accounts.get(target_id)
        if account is None:
            raise NotFound("User not found", code="user_not_found")
        target = account.user
        require(
            actor,
            Action.USER_IMPERSONATE,
            Resource(Kind.USER, id=target.id, target_role=target.platform_role),
        )
        if target.platform_role is PlatformRole.SUPER_ADMIN:
            raise Forbidden("A super admin cannot be impersonated", code="cannot_impersonate")
        if not target.is_active:
            raise InactiveUser("Cannot impersonate an inactive user")
        session = await self._open(target, str(uuid.uuid4()), impersonator_id=actor.id)
        await self._p.audit.record(
            "impersonation_started", actor_id=actor.id, subject_id=target.id, ip=ip
        )
        return session

    async def stop_impersonation(
        self,
        access_token: str | None,
        raw_refresh: str | None,
        admin_refresh: str | None,
        ip: str | None,
    ) -> Session:
        """End the impersonation session and resume the admin's own (by its refresh token)."""
        session_id, user_id, impersonator_id = await self._impersonation_of(
            access_token, raw_refresh
        )
        if session_id is None or impersonator_id is None:
            raise NotImpersonating("Not impersonating")
        await self._revoke(session_id)
        await self._p.audit.record(
            "impersonation_stopped", actor_id=impersonator_id, subject_id=user_id, ip=ip
        )
        if not admin_refresh:
            raise RefreshRejected("The original session is gone; log in again")
        restored = await self.refresh(admin_refresh, ip)
        if restored.user.id != impersonator_id:
            raise RefreshRejected("The original session does not belong to the impersonator")
        return restored

    async def _impersonation_of(
        self, access_token: str | None, raw_refresh: str | None
    ) -> tuple[str | None, str | None, str | None]:
        if access_token:
            try:
                claims = self._codec.verify(access_token)
            except InvalidToken:
                pass
            else:
                return claims.session_id, claims.user_id, claims.impersonator_id
        if raw_refresh:
            token = await self._p.refresh_tokens.find(hash_token(raw_refresh))
            if token is not None and token.usable(datetime.now(UTC)):
                return token.session_id, token.user_id, token.impersonator_id
        return None, None, None

    async def _open(self, user: User, session_id: str, impersonator_id: str | None) -> Session:
        now = datetime.now(UTC)
        raw = new_refresh_secret()
        refresh = RefreshToken(
            id=str(uuid.uuid4()),
            session_id=session_id,
            user_id=user.id,
            token_hash=hash_token(raw),
            issued_at=now,
            expires_at=now + REFRESH_TTL,
            impersonator_id=impersonator_id,
        )
        await self._p.refresh_tokens.add(refresh)
        access, access_expires = self._codec.issue(user.id, session_id, impersonator_id)
        return Session(user, access, access_expires, raw, refresh.expires_at)
