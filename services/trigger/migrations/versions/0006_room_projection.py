"""rooms projection (attached workflow, attacher, course) and room fallback firings

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 21:35:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """A row per room known from the gateway's room events; the firing log also records a
    room's fallback firings, which belong to no policy (``policy_id`` null, ``kind``)."""
    op.create_table(
        "rooms",
        sa.Column("room_id", sa.String(length=64), nullable=False),
        sa.Column("course_id", sa.String(length=64), nullable=False),
        sa.Column("attached_workflow_id", sa.String(length=64), nullable=True),
        sa.Column("attached_by", sa.String(length=64), nullable=True),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("room_id", name=op.f("pk_rooms")),
    )
    op.alter_column("firings", "policy_id", existing_type=sa.String(length=64), nullable=True)
    op.add_column(
        "firings",
        sa.Column("kind", sa.String(length=16), nullable=False, server_default="policy"),
    )
    op.create_index("ix_firings_room_id_kind", "firings", ["room_id", "kind"])


def downgrade() -> None:
    """Drop everything :func:`upgrade` created (fallback firings go with the column)."""
    op.drop_index("ix_firings_room_id_kind", table_name="firings")
    op.execute("DELETE FROM firings WHERE policy_id IS NULL")
    op.drop_column("firings", "kind")
    op.alter_column("firings", "policy_id", existing_type=sa.String(length=64), nullable=False)
    op.drop_table("rooms")
