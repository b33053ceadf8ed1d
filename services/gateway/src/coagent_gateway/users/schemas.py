"""HTTP shapes of the users, API-key and audit routes (users are always ``UserRead``)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from coagent_gateway.auth.api_keys import ApiKey, Scope
from coagent_gateway.domain import PlatformRole, User
from coagent_gateway.users.domain import MAX_PASSWORD_CHARS, AuditEntry

FullName = Field(default=None, max_length=255)
Password = Field(default=None, max_length=MAX_PASSWORD_CHARS)


class UserCreate(BaseModel):
    """A new account (admins); the password needs at least 8 characters."""

    model_config = ConfigDict(extra="ignore")

    email: str = Field(max_length=320)
    username: str | None = Field(default=None, max_length=100)
    password: str = Field(max_length=MAX_PASSWORD_CHARS)
    full_name: str | None = FullName
    #: Least privilege unless said otherwise.
    role: PlatformRole = PlatformRole.GUEST


class ForgetAccepted(BaseModel):
    """A forget request was accepted; the erasure of what the user wrote runs in the fleet."""

    user_id: str
    status: str = "forgetting"
    event_id: str
    """Id of the ``gateway.user.forgotten`` event that drives the erasure."""


class UserUpdate(BaseModel):
    """An administrator's edit; an empty ``password`` or ``username`` leaves it unchanged."""

    model_config = ConfigDict(extra="ignore")

    full_name: str | None = FullName
    username: str | None = Field(default=None, max_length=100)
    password: str | None = Password
    role: PlatformRole | None = None
    is_active: bool | None = None


class MeUpdate(BaseModel):
    """One's own profile. There is no ``role``: nobody changes their own role."""

    model_config = ConfigDict(extra="ignore")

    full_name: str | None = FullName
    username: str | None = Field(default=None, max_length=100)
    password: str | None = Password
    avatar_url: str | None = Field(default=None, max_length=512)


class UserSummary(BaseModel):
    """A search hit for people pickers."""

    id: str
    email: str
    full_name: str | None
    username: str

    @classmethod
    def of(cls, user: User) -> UserSummary:
        return cls(id=user.id, email=user.email, full_name=user.full_name, username=user.username)


class ApiKeyCreate(BaseModel):
    """A new personal API key; every key expires."""

    name: str = Field(min_length=1, max_length=100)
    scopes: list[Scope] = Field(default_factory=lambda: [Scope.READ], min_length=1)
    expires_in_days: int = Field(default=90, ge=1, le=366)


class ApiKeyRead(BaseModel):
    """A key as listed: masked, never the secret or its hash."""

    id: str
    name: str
    masked_key: str
    scopes: list[Scope]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None

    @classmethod
    def of(cls, key: ApiKey) -> ApiKeyRead:
        return cls(
            id=key.id,
            name=key.name,
            masked_key=key.masked,
            scopes=list(key.scopes),
            created_at=key.created_at,
            expires_at=key.expires_at,
            last_used_at=key.last_used_at,
        )


class ApiKeyCreated(ApiKeyRead):
    """The creation response: the only time the key itself is shown."""

    key: str


class AuditEntryRead(BaseModel):
    """One audit log entry."""

    id: str
    at: datetime
    action: str
    actor_id: str | None
    subject_id: str | None
    ip: str | None
    details: dict[str, object]

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditEntryRead:
        return cls(
            id=entry.id,
            at=entry.at,
            action=entry.action,
            actor_id=entry.actor_id,
            subject_id=entry.subject_id,
            ip=entry.ip,
            details=entry.details,
        )
