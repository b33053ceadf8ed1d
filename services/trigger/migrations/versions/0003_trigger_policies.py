"""trigger policies, the firing log and per-room match counters

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 16:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Policies; firings unique by firing key (one run per firing); message_count counters."""
    op.create_table(
        'trigger_policies',
        sa.Column('id', sa.String(length=64), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('event_type', sa.String(length=32), nullable=False),
        sa.Column('conditions', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('target_workflow_id', sa.String(length=64), nullable=False),
        sa.Column('scope_session_id', sa.String(length=64), nullable=True),
        sa.Column('is_active', sa.Boolean(), nullable=False),
        sa.Column('created_by', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('secret_cipher', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_trigger_policies')),
    )
    op.create_index(
        op.f('ix_trigger_policies_created_by'), 'trigger_policies', ['created_by'], unique=False
    )
    op.create_index(
        op.f('ix_trigger_policies_event_type'), 'trigger_policies', ['event_type'], unique=False
    )
    op.create_index(
        op.f('ix_trigger_policies_scope_session_id'),
        'trigger_policies',
        ['scope_session_id'],
        unique=False,
    )
    op.create_table(
        'firings',
        sa.Column('id', sa.String(length=64), nullable=False),
        sa.Column('firing_key', sa.String(length=255), nullable=False),
        sa.Column('policy_id', sa.String(length=64), nullable=False),
        sa.Column('event_type', sa.String(length=32), nullable=False),
        sa.Column('outcome', sa.String(length=16), nullable=False),
        sa.Column('room_id', sa.String(length=64), nullable=True),
        sa.Column('source_event_id', sa.String(length=64), nullable=True),
        sa.Column('fired_by', sa.String(length=64), nullable=True),
        sa.Column('detail', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['policy_id'],
            ['trigger_policies.id'],
            name=op.f('fk_firings_policy_id_trigger_policies'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_firings')),
        sa.UniqueConstraint('firing_key', name=op.f('uq_firings_firing_key')),
    )
    op.create_index(op.f('ix_firings_policy_id'), 'firings', ['policy_id'], unique=False)
    op.create_table(
        'policy_counters',
        sa.Column('policy_id', sa.String(length=64), nullable=False),
        sa.Column('room_id', sa.String(length=64), nullable=False),
        sa.Column('matched', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ['policy_id'],
            ['trigger_policies.id'],
            name=op.f('fk_policy_counters_policy_id_trigger_policies'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('policy_id', 'room_id', name=op.f('pk_policy_counters')),
    )


def downgrade() -> None:
    """Drop everything :func:`upgrade` created."""
    op.drop_table('policy_counters')
    op.drop_index(op.f('ix_firings_policy_id'), table_name='firings')
    op.drop_table('firings')
    op.drop_index(op.f('ix_trigger_policies_scope_session_id'), table_name='trigger_policies')
    op.drop_index(op.f('ix_trigger_policies_event_type'), table_name='trigger_policies')
    op.drop_index(op.f('ix_trigger_policies_created_by'), table_name='trigger_policies')
    op.drop_table('trigger_policies')
