"""PostgreSQL adapter of the gateway: users, memberships, the outbox and the inbox."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    func,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from coagent_contracts.gateway import UserCreatedV1
from coagent_gateway.domain import PlatformRole, User
from coagent_kit.db import new_metadata
from coagent_kit.outbox import add_event, inbox_table, outbox_table

metadata = new_metadata()
outbox = outbox_table(metadata)
inbox = inbox_table(metadata)

users = Table(
    "users",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("username", String(100), nullable=False, unique=True),
    Column("hashed_password", String(255), nullable=False),
    Column("platform_role", String(32), nullable=False, index=True),
    Column("full_name", String(255)),
    Column("is_active", Boolean, nullable=False, server_default=text("true")),
    Column("avatar_url", String(512)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # Emails are unique whatever their case: "Ada@x.org" and "ada@x.org" are one person.
    Index("uq_users_email_lower", func.lower(text("email")), unique=True),
)

refresh_tokens = Table(
    "refresh_tokens",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("session_id", String(64), nullable=False, index=True),
    Column("user_id", String(64), nullable=False, index=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
    Column("impersonator_id", String(64)),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now(), index=True),
    Column("action", String(64), nullable=False, index=True),
    Column("actor_id", String(64), index=True),
    Column("subject_id", String(64), index=True),
    Column("ip", String(64)),
    Column("details", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
)


class PostgresUserStore:
    """Users in the gateway database; every write commits with its outbox event."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], on_commit: Callable[[], None]
    ) -> None:
        self._sessions = sessions
        self._on_commit = on_commit

    async def find_super_admin(self) -> User | None:
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(users)
                    .where(users.c.platform_role == PlatformRole.SUPER_ADMIN)
                    .order_by(users.c.created_at)
                    .limit(1)
                )
            ).first()
        if row is None:
            return None
        return User(row.id, row.email, row.username, PlatformRole(row.platform_role))

    async def create_user(
        self,
        email: str,
        username: str,
        password_hash: str,
        role: PlatformRole,
        event: UserCreatedV1,
    ) -> User:
        user_id = event.data.user_id
        async with self._sessions() as session, session.begin():
            await session.execute(
                users.insert().values(
                    id=user_id,
                    email=email,
                    username=username,
                    hashed_password=password_hash,
                    platform_role=role.value,
                )
            )
            await add_event(session, outbox, event)
        self._on_commit()
        return User(user_id, email, username, role)


# --- Membership: organizations, projects, courses, announcements, rooms ----------------------
# Link rows cascade with both ends, so deleting a course, room or user never trips a foreign key.


def _member_table(name: str, parent: str, parent_table: str) -> Table:
    return Table(
        name,
        metadata,
        Column(
            parent,
            String(64),
            ForeignKey(f"{parent_table}.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        Column(
            "user_id",
            String(64),
            ForeignKey("users.id", ondelete="CASCADE"),
            primary_key=True,
            index=True,
        ),
        Column("role", String(32), nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


organizations = Table(
    "organizations",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("description", Text),
    Column("owner_id", String(64), ForeignKey("users.id", ondelete="SET NULL")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
organization_members = _member_table("organization_members", "organization_id", "organizations")

projects = Table(
    "projects",
    metadata,
    Column("id", String(64), primary_key=True),
    Column(
        "organization_id",
        String(64),
        ForeignKey("organizations.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("name", String(255), nullable=False),
    Column("description", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
project_members = _member_table("project_members", "project_id", "projects")

courses = Table(
    "courses",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("title", String(255), nullable=False),
    Column("description", Text),
    Column("owner_id", String(64), ForeignKey("users.id", ondelete="SET NULL"), index=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
course_members = _member_table("course_members", "course_id", "courses")

announcements = Table(
    "announcements",
    metadata,
    Column("id", String(64), primary_key=True),
    Column(
        "course_id",
        String(64),
        ForeignKey("courses.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("title", String(255), nullable=False),
    Column("content", Text, nullable=False),
    Column("author_id", String(64), ForeignKey("users.id", ondelete="SET NULL")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

rooms = Table(
    "rooms",
    metadata,
    Column("id", String(64), primary_key=True),
    Column(
        "course_id",
        String(64),
        ForeignKey("courses.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("name", String(255), nullable=False),
    Column("description", Text),
    Column("is_ai_active", Boolean, nullable=False, server_default=text("true")),
    Column("ai_frequency", Float, nullable=False, server_default=text("0.5")),
    Column("ai_mode", String(32), nullable=False, server_default=text("'teacher_only'")),
    Column("is_analytics_active", Boolean, nullable=False, server_default=text("false")),
    # The workflow lives in the workflows service's database: a reference, not a foreign key.
    Column("attached_workflow_id", String(64)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # Who attached the workflow: the room's fallback runs with their authority.
    Column("attached_by", String(64)),
)
room_members = _member_table("room_members", "room_id", "rooms")


# --- Personal API keys ----------------------------------------------------------------------
# Only a SHA-256 of each key is stored (256 random bits: nothing to brute-force).

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(64), primary_key=True),
    Column(
        "user_id",
        String(64),
        ForeignKey("users.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("name", String(100), nullable=False),
    Column("prefix", String(16), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("scopes", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True)),
    Column("last_used_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
)
