"""room projection: the course of each room, and the rooms deleted at the gateway

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 00:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the room projection table."""
    op.create_table(
        "ingest_rooms",
        sa.Column("room_id", sa.String(length=64), nullable=False),
        sa.Column("course_id", sa.String(length=64), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("room_id", name=op.f("pk_ingest_rooms")),
    )


def downgrade() -> None:
    """Drop everything ``upgrade`` created."""
    op.drop_table("ingest_rooms")
