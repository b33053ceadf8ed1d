"""Users and platform roles: pure types and rules."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from enum import StrEnum

from coagent_kit.errors import Unprocessable

MIN_PASSWORD_CHARS = 8


class PlatformRole(StrEnum):
    SUPER_ADMIN = "super_admin"
    ADMIN = "admin"
    TEACHER = "teacher"
    TA = "ta"
    STUDENT = "student"
    GUEST = "guest"


class InvalidAdminSettings(Unprocessable):
    code = "invalid_admin_settings"


@dataclass(frozen=True)
class User:
    """A person (or program) known to the platform."""

    id: str
    email: str
    username: str
    platform_role: PlatformRole
    full_name: str | None = None
    is_active: bool = True
    avatar_url: str | None = None


@dataclass(frozen=True)
class AdminBootstrap:
    """The outcome of first start: who the super admin is and a generated password, if any."""

    user: User
    created: bool
    generated_password: str | None = None


def admin_identity(email: str, username: str | None) -> tuple[str, str]:
    """Normalised (email, username); the username defaults to the email's local part."""
    email = email.strip().lower()
    local, sep, domain = email.partition("@")
    if not sep or not local or "." not in domain:
        raise InvalidAdminSettings(f"COAGENT_ADMIN_EMAIL is not an email address: {email!r}")
    return email, (username or local).strip()


def admin_password(given: str | None) -> tuple[str, bool]:
    """The password to set and whether it was generated (never a fixed default)."""
    if given is None or given == "":
        return secrets.token_urlsafe(18), True
    if len(given) < MIN_PASSWORD_CHARS:
        raise InvalidAdminSettings(
            f"COAGENT_ADMIN_PASSWORD must have at least {MIN_PASSWORD_CHARS} characters"
        )
    return given, False
