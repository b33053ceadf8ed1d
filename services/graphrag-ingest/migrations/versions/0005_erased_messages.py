"""erased messages: a post delivered after its tombstone must not revive the message

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 01:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the erased-messages table."""
    op.create_table(
        "ingest_erased_messages",
        sa.Column("room_id", sa.String(length=64), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column(
            "erased_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("room_id", "message_id", name=op.f("pk_ingest_erased_messages")),
    )


def downgrade() -> None:
    """Drop everything ``upgrade`` created."""
    op.drop_table("ingest_erased_messages")
