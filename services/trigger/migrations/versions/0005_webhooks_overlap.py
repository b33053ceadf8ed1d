"""overlap projection (runs in progress per policy and room, held-back firings), owner roles

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 18:41:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Tracked runs (from run lifecycle events), the one buffered firing per slot, and the
    owner's role on each policy (existing policies get none: only their own workflows run)."""
    op.add_column('trigger_policies', sa.Column('owner_role', sa.String(length=32), nullable=True))
    op.create_table(
        'tracked_runs',
        sa.Column('firing_key', sa.String(length=255), nullable=False),
        sa.Column('policy_id', sa.String(length=64), nullable=False),
        sa.Column('room_key', sa.String(length=64), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('run_id', sa.String(length=64), nullable=True),
        sa.Column('cancel_requested', sa.Boolean(), nullable=False),
        sa.Column('cancel_sent', sa.Boolean(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('firing_key', name=op.f('pk_tracked_runs')),
    )
    op.create_index('ix_tracked_runs_slot', 'tracked_runs', ['policy_id', 'room_key'])
    op.create_table(
        'buffered_firings',
        sa.Column('policy_id', sa.String(length=64), nullable=False),
        sa.Column('room_key', sa.String(length=64), nullable=False),
        sa.Column('firing_key', sa.String(length=255), nullable=False),
        sa.Column('event_data', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['policy_id'],
            ['trigger_policies.id'],
            name=op.f('fk_buffered_firings_policy_id_trigger_policies'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('policy_id', 'room_key', name=op.f('pk_buffered_firings')),
    )


def downgrade() -> None:
    """Drop everything :func:`upgrade` created."""
    op.drop_table('buffered_firings')
    op.drop_index('ix_tracked_runs_slot', table_name='tracked_runs')
    op.drop_table('tracked_runs')
    op.drop_column('trigger_policies', 'owner_role')
