"""agent_threads, thread_messages: sandbox conversations of a user with one agent

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-09 10:00:00

Hand-written to match ``coagent_workflow_engine.threads.postgres`` (a test compares models and
schema).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Threads listed per user by activity; messages read per thread in order."""
    op.create_table(
        "agent_threads",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("agent_id", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("metadata_json", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_threads")),
    )
    op.create_index(
        "ix_agent_threads_user_id_updated_at", "agent_threads", ["user_id", "updated_at"]
    )
    op.create_table(
        "thread_messages",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("thread_id", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("metadata_json", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["thread_id"],
            ["agent_threads.id"],
            name=op.f("fk_thread_messages_thread_id_agent_threads"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_thread_messages")),
    )
    op.create_index(
        "ix_thread_messages_thread_id_created_at",
        "thread_messages",
        ["thread_id", "created_at", "id"],
    )


def downgrade() -> None:
    """Drop what :func:`upgrade` created."""
    op.drop_index("ix_thread_messages_thread_id_created_at", table_name="thread_messages")
    op.drop_table("thread_messages")
    op.drop_index("ix_agent_threads_user_id_updated_at", table_name="agent_threads")
    op.drop_table("agent_threads")
