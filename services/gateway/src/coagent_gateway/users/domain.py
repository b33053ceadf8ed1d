"""Users as the directory manages them: validation rules, changes and the errors clients see."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from coagent_gateway.domain import MIN_PASSWORD_CHARS, PlatformRole
from coagent_kit.errors import Conflict, NotFound, ServiceError, Unprocessable

MAX_PASSWORD_CHARS = 1024
#: No whitespace and no "@": login accepts an email or a username, so a username must never
#: look like somebody's email (the reference's lookups were ambiguous, F31).
USERNAME_PATTERN = r"^[^\s@]{1,100}$"
AVATAR_URL = re.compile(r"^/static/avatars/(?P<name>[0-9a-f]{32}\.(?:png|webp))$")


class EmailTaken(Conflict):
    code = "email_taken"


class UsernameTaken(Conflict):
    code = "username_taken"


class InvalidUsername(Unprocessable):
    code = "invalid_username"


class UserNotFound(NotFound):
    code = "user_not_found"


class WeakPassword(Unprocessable):
    code = "weak_password"


class InvalidEmail(Unprocessable):
    code = "invalid_email"


class InvalidImage(Unprocessable):
    code = "invalid_image"


class FileTooLarge(ServiceError):
    status, code = 413, "file_too_large"


@dataclass(frozen=True)
class NewUser:
    """A user to create, with the password already hashed."""

    email: str
    username: str
    password_hash: str
    role: PlatformRole
    full_name: str | None = None


@dataclass(frozen=True)
class UserChanges:
    """Fields to change on a user; ``None`` leaves a field as it is."""

    full_name: str | None = None
    username: str | None = None
    password_hash: str | None = None
    role: PlatformRole | None = None
    is_active: bool | None = None
    avatar_url: str | None = None
    #: Remove the avatar (``avatar_url`` cannot say so, ``None`` means "unchanged").
    clear_avatar: bool = False


@dataclass(frozen=True)
class Forgotten:
    """A forgotten account's profile: nothing left that names or reaches the person.

    Email and username stay unique (both columns have unique constraints) because they derive
    from the user id; the password hash is of a random secret nobody knows.
    """

    email: str
    username: str
    password_hash: str

    @classmethod
    def of(cls, user_id: str, password_hash: str) -> Forgotten:
        """The anonymous profile of ``user_id``."""
        return cls(f"{user_id}@forgotten.invalid", f"forgotten-{user_id}", password_hash)


@dataclass(frozen=True)
class AuditEntry:
    """One audit log line."""

    id: str
    at: datetime
    action: str
    actor_id: str | None
    subject_id: str | None
    ip: str | None
    details: dict[str, object]


def normalise_email(email: str) -> str:
    """Trimmed and lower-cased; 422 unless it looks like ``local@domain.tld``."""
    email = email.strip().lower()
    local, sep, domain = email.partition("@")
    if not sep or not local or "." not in domain or any(c.isspace() for c in email):
        raise InvalidEmail(f"Not an email address: {email!r}")
    if domain.startswith(".") or domain.endswith(".") or "@" in domain:
        raise InvalidEmail(f"Not an email address: {email!r}")
    return email


def check_password(password: str) -> str:
    """The password if it is acceptable; 422 otherwise."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise WeakPassword(f"A password needs at least {MIN_PASSWORD_CHARS} characters")
    if len(password) > MAX_PASSWORD_CHARS:
        raise WeakPassword(f"A password has at most {MAX_PASSWORD_CHARS} characters")
    return password


def check_username(username: str) -> str:
    """The trimmed username; 422 if it has whitespace or "@" or is too long."""
    name = username.strip()
    if not re.fullmatch(USERNAME_PATTERN, name):
        raise InvalidUsername("A username has 1-100 characters, no spaces and no '@'")
    return name


def avatar_name(url: str | None) -> str | None:
    """The stored file name of one of our avatar URLs, else None."""
    match = AVATAR_URL.match(url or "")
    return match.group("name") if match else None


def like_pattern(text: str) -> str:
    """A case-insensitive ``LIKE`` pattern matching ``text`` anywhere, wildcards escaped."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
