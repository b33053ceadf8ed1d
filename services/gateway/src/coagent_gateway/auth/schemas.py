"""HTTP shapes of the auth routes."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from coagent_gateway.domain import User


class UserRead(BaseModel):
    """A user as every client sees it: never a password hash or another secret."""

    model_config = ConfigDict(frozen=True)

    id: str
    email: str
    username: str
    full_name: str | None
    role: str
    is_active: bool
    avatar_url: str | None

    @classmethod
    def of(cls, user: User) -> UserRead:
        """The public view of ``user``."""
        return cls(
            id=user.id,
            email=user.email,
            username=user.username,
            full_name=user.full_name,
            role=user.platform_role.value,
            is_active=user.is_active,
            avatar_url=user.avatar_url,
        )


class TokenPair(BaseModel):
    """Tokens for programs that do not use cookies (``Authorization: Bearer``)."""

    access_token: str
    token_type: str = "bearer"
    expires_in: int
