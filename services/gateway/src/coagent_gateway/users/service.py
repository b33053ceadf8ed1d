"""Managing users: every decision goes through the policy, every change is audited."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from coagent_contracts.gateway import (
    UserCreatedData,
    UserCreatedV1,
    UserForgottenData,
    UserForgottenV1,
)
from coagent_gateway.auth.api_keys import ApiKeyStore
from coagent_gateway.auth.ports import AuditLog, PasswordHasher
from coagent_gateway.domain import PlatformRole, User
from coagent_gateway.policy import Action, Kind, Resource, require
from coagent_gateway.users.avatars import OUTPUT_EXT, normalise_avatar
from coagent_gateway.users.domain import (
    AuditEntry,
    EmailTaken,
    Forgotten,
    NewUser,
    UserChanges,
    UsernameTaken,
    UserNotFound,
    check_password,
    check_username,
    normalise_email,
)
from coagent_gateway.users.ports import (
    AuditReader,
    AvatarStore,
    SessionTerminator,
    UserDirectory,
)
from coagent_kit.errors import Unprocessable

PRODUCER = "gateway"
SEARCH_LIMIT = 20


@dataclass(frozen=True)
class UserPorts:
    """Everything :class:`UserService` talks to."""

    directory: UserDirectory
    hasher: PasswordHasher
    audit: AuditLog
    audit_reader: AuditReader
    avatars: AvatarStore
    api_keys: ApiKeyStore
    sessions: SessionTerminator


@dataclass(frozen=True)
class Profile:
    """What a user may change about themself (never their role)."""

    full_name: str | None = None
    username: str | None = None
    password: str | None = None
    avatar_url: str | None = None
    #: Whether ``avatar_url`` was sent (a ``null`` then removes the avatar).
    avatar_url_set: bool = False


@dataclass(frozen=True)
class AdminEdit:
    """What an administrator may change about a user."""

    full_name: str | None = None
    username: str | None = None
    password: str | None = None
    role: PlatformRole | None = None
    is_active: bool | None = None


def _user(user_id: str, role: PlatformRole | None = None) -> Resource:
    return Resource(Kind.USER, id=user_id, target_role=role)


class UserService:
    """The user directory's use cases."""

    def __init__(self, ports: UserPorts) -> None:
        self._p = ports

    async def list(self, actor: User, skip: int, limit: int, search: str | None) -> Sequence[User]:
        """Every user (admins)."""
        require(actor, Action.USER_LIST)
        return await self._p.directory.list(skip, limit, (search or "").strip() or None)

    async def search(
        self, actor: User, text: str, limit: int, course_role: str | None = None
    ) -> Sequence[User]:
        """People to pick (staff only: students cannot enumerate emails).

        ``course_role`` is the actor's role in the course they search for (a TA enrols people
        into their course without being a teacher on the platform).
        """
        require(actor, Action.USER_SEARCH, Resource(Kind.USER, membership=course_role))
        text = text.strip()
        if not text:
            return []
        return await self._p.directory.search(text, min(limit, SEARCH_LIMIT))

    async def get(self, actor: User, user_id: str) -> User:
        """One user: oneself, or anyone for admins."""
        require(actor, Action.USER_READ, _user(user_id))
        return await self._existing(user_id)

    async def _existing(self, user_id: str) -> User:
        user = await self._p.directory.get(user_id)
        if user is None:
            raise UserNotFound("User not found")
        return user

    async def create(
        self,
        actor: User,
        email: str,
        username: str | None,
        password: str,
        full_name: str | None,
        role: PlatformRole,
        ip: str | None,
    ) -> User:
        """A new account; only super admins create admins."""
        require(actor, Action.USER_CREATE, Resource(Kind.USER, new_role=role))
        email = normalise_email(email)
        check_password(password)
        if username and username.strip():
            name = check_username(username)
            if await self._p.directory.username_taken(name):
                raise UsernameTaken("Username already taken")
        else:
            name = await self._free_name(email)
        if await self._p.directory.email_taken(email):
            raise EmailTaken("A user with this email already exists")
        new = NewUser(email, name, self._p.hasher.hash(password), role, full_name)
        event = UserCreatedV1(
            producer=PRODUCER,
            data=UserCreatedData(
                user_id=str(uuid.uuid4()), email=email, username=name, platform_role=role.value
            ),
        )
        user = await self._p.directory.create(new, event)
        await self._p.audit.record(
            "user_created", actor_id=actor.id, subject_id=user.id, ip=ip, details={"role": role}
        )
        return user

    async def _free_name(self, email: str) -> str:
        base = "".join(c for c in email.partition("@")[0] if not c.isspace())[:90] or "user"
        if not await self._p.directory.username_taken(base):
            return base
        return f"{base}-{secrets.token_hex(3)}"

    async def update_me(self, actor: User, profile: Profile, ip: str | None) -> User:
        """Change one's own profile; the role is not part of it."""
        avatar_changed = profile.avatar_url_set and profile.avatar_url != actor.avatar_url
        if avatar_changed and profile.avatar_url is not None:
            # Only the upload sets an avatar: pointing at another file (someone else's avatar,
            # an outside URL) would let the next upload delete a file that is not ours.
            raise Unprocessable(
                "avatar_url can only be kept or cleared; upload an image to change it",
                code="invalid_avatar_url",
            )
        changes = UserChanges(
            full_name=profile.full_name,
            username=await self._username(actor.id, profile.username),
            password_hash=self._password_hash(profile.password),
            clear_avatar=avatar_changed,
        )
        return await self._apply(actor, actor, changes, ip)

    async def update(self, actor: User, user_id: str, edit: AdminEdit, ip: str | None) -> User:
        """Change a user; a role change needs ``USER_SET_ROLE`` (never one's own)."""
        require(actor, Action.USER_UPDATE, _user(user_id))
        target = await self._existing(user_id)
        require(actor, Action.USER_UPDATE, _user(user_id, target.platform_role))
        role = edit.role if edit.role is not None and edit.role != target.platform_role else None
        if role is not None:
            require(
                actor,
                Action.USER_SET_ROLE,
                Resource(Kind.USER, id=user_id, target_role=target.platform_role, new_role=role),
            )
        active = edit.is_active if edit.is_active != target.is_active else None
        if active is not None:
            require(actor, Action.USER_DELETE, _user(user_id, target.platform_role))
        changes = UserChanges(
            full_name=edit.full_name,
            username=await self._username(user_id, edit.username),
            password_hash=self._password_hash(edit.password),
            role=role,
            is_active=active,
        )
        updated = await self._apply(actor, target, changes, ip)
        if role is not None:
            await self._p.audit.record(
                "user_role_changed",
                actor_id=actor.id,
                subject_id=user_id,
                ip=ip,
                details={"from": target.platform_role, "to": role},
            )
        if active is False:
            await self._end_access(user_id)
        return updated

    async def deactivate(self, actor: User, user_id: str, ip: str | None) -> User:
        """ "Delete" a user: deactivate the account so nothing it authored loses its author.

        Its sessions and API keys stop working at once (both check ``is_active``), and both are
        revoked too, so re-activating the account does not bring them back.
        """
        require(actor, Action.USER_DELETE, _user(user_id))
        target = await self._existing(user_id)
        require(actor, Action.USER_DELETE, _user(user_id, target.platform_role))
        updated = await self._p.directory.update(user_id, UserChanges(is_active=False))
        await self._end_access(user_id)
        await self._p.audit.record(
            "user_deactivated",
            actor_id=actor.id,
            subject_id=user_id,
            ip=ip,
            details={"role": target.platform_role},
        )
        return updated or target

    async def forget(self, actor: User, user_id: str, ip: str | None) -> UserForgottenV1:
        """Forget a user: deactivate and anonymise the account and queue ``UserForgottenV1``.

        Same authority as deactivating (never oneself). The owners of what the user wrote erase
        it when the event reaches them, so the answer only says the erasure is under way.
        Asking again is harmless: the account stays anonymous and the erasure re-runs.
        """
        require(actor, Action.USER_DELETE, _user(user_id))
        target = await self._existing(user_id)
        require(actor, Action.USER_DELETE, _user(user_id, target.platform_role))
        event = UserForgottenV1(
            producer=PRODUCER, data=UserForgottenData(user_id=user_id, forgotten_by=actor.id)
        )
        profile = Forgotten.of(user_id, self._p.hasher.hash(secrets.token_urlsafe(32)))
        if await self._p.directory.forget(user_id, profile, event) is None:
            raise UserNotFound("User not found")
        await self._end_access(user_id)
        if target.avatar_url:
            await self._p.avatars.delete(target.avatar_url)
        await self._p.audit.record(
            "user_forgotten",
            actor_id=actor.id,
            subject_id=user_id,
            ip=ip,
            details={"role": target.platform_role, "event_id": event.event_id},
        )
        return event

    async def _end_access(self, user_id: str) -> None:
        # Deactivation already locks the account out; revoking makes it stick after re-activation.
        await self._p.sessions.end_user_sessions(user_id)
        await self._p.api_keys.revoke_all(user_id, datetime.now(UTC))

    async def set_avatar(self, actor: User, data: bytes, ip: str | None) -> User:
        """Store a re-encoded avatar and drop the previous file."""
        image = normalise_avatar(data)
        url = await self._p.avatars.save(image, OUTPUT_EXT)
        updated = await self._p.directory.update(actor.id, UserChanges(avatar_url=url))
        if updated is None:
            await self._p.avatars.delete(url)
            raise UserNotFound("User not found")
        if actor.avatar_url and actor.avatar_url != url:
            await self._p.avatars.delete(actor.avatar_url)
        await self._p.audit.record("avatar_changed", actor_id=actor.id, subject_id=actor.id, ip=ip)
        return updated

    async def audit_log(
        self,
        actor: User,
        limit: int,
        before: str | None,
        action: str | None,
        actor_id: str | None,
    ) -> Sequence[AuditEntry]:
        """Audit entries, newest first (admins)."""
        require(actor, Action.AUDIT_READ)
        return await self._p.audit_reader.entries(limit, before, action, actor_id)

    async def _username(self, user_id: str, username: str | None) -> str | None:
        if not (username or "").strip():
            return None
        name = check_username(username or "")
        if await self._p.directory.username_taken(name, except_id=user_id):
            raise UsernameTaken("Username already taken")
        return name

    def _password_hash(self, password: str | None) -> str | None:
        return self._p.hasher.hash(check_password(password)) if password else None

    async def _apply(self, actor: User, target: User, changes: UserChanges, ip: str | None) -> User:
        updated = await self._p.directory.update(target.id, changes)
        if updated is None:
            raise UserNotFound("User not found")
        if changes.clear_avatar and target.avatar_url:
            await self._p.avatars.delete(target.avatar_url)
        fields = _changed_fields(changes)
        if fields:
            await self._p.audit.record(
                "user_updated",
                actor_id=actor.id,
                subject_id=target.id,
                ip=ip,
                details={"fields": fields},
            )
        return updated


def _changed_fields(changes: UserChanges) -> list[str]:
    """Names of the changed fields (never their values: one of them may be a password hash)."""
    names = ["full_name", "username", "password_hash", "role", "is_active", "avatar_url"]
    fields = [n for n in names if getattr(changes, n) is not None]
    if changes.clear_avatar:
        fields.append("avatar_url")
    return ["password" if f == "password_hash" else f for f in fields]
