"""time triggers: the clocks of timer and cron policies and the open debounce windows

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 18:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """One clock row per active timer/cron policy; one window row per debounced (policy, room)."""
    op.create_table(
        "trigger_clocks",
        sa.Column("policy_id", sa.String(length=64), nullable=False),
        sa.Column("anchor_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["policy_id"],
            ["trigger_policies.id"],
            name=op.f("fk_trigger_clocks_policy_id_trigger_policies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("policy_id", name=op.f("pk_trigger_clocks")),
    )
    op.create_table(
        "debounce_bursts",
        sa.Column("policy_id", sa.String(length=64), nullable=False),
        sa.Column("room_id", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("last_event_id", sa.String(length=64), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.ForeignKeyConstraint(
            ["policy_id"],
            ["trigger_policies.id"],
            name=op.f("fk_debounce_bursts_policy_id_trigger_policies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("policy_id", "room_id", name=op.f("pk_debounce_bursts")),
    )


def downgrade() -> None:
    """Drop everything :func:`upgrade` created."""
    op.drop_table("debounce_bursts")
    op.drop_table("trigger_clocks")
