"""room history: remember erased messages, so a late post cannot bring one back

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-25 01:30:00

Hand-written to match ``coagent_workflow_engine.adapters.postgres`` (a test compares models and
schema).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Erased message ids per room (chat's tombstones)."""
    op.create_table(
        "room_history_erased",
        sa.Column("room_id", sa.String(length=64), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column(
            "erased_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("room_id", "message_id", name=op.f("pk_room_history_erased")),
    )


def downgrade() -> None:
    op.drop_table("room_history_erased")
