"""analytics_reports: course reports written by the system analytics agent

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08 10:00:00

Hand-written to match ``coagent_workflow_engine.adapters.postgres_analytics`` (a test compares
models and schema).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``analytics_reports`` (queued → succeeded | failed), listed per course by date."""
    op.create_table(
        "analytics_reports",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("course_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("content", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_reports")),
    )
    op.create_index(
        "ix_analytics_reports_course_id_created_at",
        "analytics_reports",
        ["course_id", "created_at"],
    )


def downgrade() -> None:
    """Drop what :func:`upgrade` created."""
    op.drop_index("ix_analytics_reports_course_id_created_at", table_name="analytics_reports")
    op.drop_table("analytics_reports")
