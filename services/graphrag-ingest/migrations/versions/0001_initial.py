"""Initial schema: ingest jobs and the outbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-24 12:28:58.088850
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the ingest jobs table and the outbox."""
    op.create_table(
        "ingest_jobs",
        sa.Column("job_id", sa.String(length=64), nullable=False),
        sa.Column("room_id", sa.String(length=64), nullable=False),
        sa.Column("source_kind", sa.String(length=16), nullable=False),
        sa.Column("source_id", sa.String(length=64), nullable=False),
        sa.Column("source_event_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "source_kind in ('message', 'artifact', 'document')",
            name=op.f("ck_ingest_jobs_source_kind"),
        ),
        sa.CheckConstraint(
            "status in ('pending', 'running', 'succeeded', 'failed')",
            name=op.f("ck_ingest_jobs_status"),
        ),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_ingest_jobs")),
        sa.UniqueConstraint("source_event_id", name=op.f("uq_ingest_jobs_source_event_id")),
    )
    op.create_index(
        "ix_ingest_jobs_room_created", "ingest_jobs", ["room_id", "created_at"], unique=False
    )
    op.create_table(
        "outbox",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("headers", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_outbox")),
    )
    op.create_index(op.f("ix_outbox_published_at"), "outbox", ["published_at"], unique=False)


def downgrade() -> None:
    """Drop everything ``upgrade`` created."""
    op.drop_index(op.f("ix_outbox_published_at"), table_name="outbox")
    op.drop_table("outbox")
    op.drop_index("ix_ingest_jobs_room_created", table_name="ingest_jobs")
    op.drop_table("ingest_jobs")
