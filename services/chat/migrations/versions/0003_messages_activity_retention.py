"""messages: agent metadata and idempotency keys; room activity and retention settings

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('messages', sa.Column('agent_type', sa.String(length=64), nullable=True))
    op.add_column('messages', sa.Column('run_id', sa.String(length=64), nullable=True))
    op.add_column(
        'messages',
        sa.Column('offline', sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column('messages', sa.Column('stream_id', sa.String(length=64), nullable=True))
    op.add_column('messages', sa.Column('client_msg_id', sa.String(length=128), nullable=True))
    # NULL client_msg_id never conflicts: PostgreSQL treats NULLs as distinct in unique constraints.
    op.create_unique_constraint(
        'uq_messages_client_msg_id', 'messages', ['room_id', 'sender_id', 'client_msg_id']
    )
    # The pruner scans by age per room.
    op.create_index('ix_messages_room_created', 'messages', ['room_id', 'created_at'])
    op.create_table(
        'room_activity',
        sa.Column('room_id', sa.String(length=64), nullable=False),
        sa.Column('last_message_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_human_message_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_agent_message_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('message_count', sa.BigInteger(), server_default='0', nullable=False),
        sa.Column('human_message_count', sa.BigInteger(), server_default='0', nullable=False),
        sa.Column('agent_message_count', sa.BigInteger(), server_default='0', nullable=False),
        sa.Column('last_seq', sa.BigInteger(), server_default='0', nullable=False),
        sa.Column('last_sender_kind', sa.String(length=16), nullable=True),
        sa.PrimaryKeyConstraint('room_id', name=op.f('pk_room_activity')),
    )
    op.create_table(
        'room_retention',
        sa.Column('room_id', sa.String(length=64), nullable=False),
        sa.Column('max_age_days', sa.Float(), nullable=True),
        sa.Column('max_messages', sa.Integer(), nullable=True),
        sa.Column(
            'updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False
        ),
        sa.Column('updated_by', sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint('room_id', name=op.f('pk_room_retention')),
    )


def downgrade() -> None:
    op.drop_table('room_retention')
    op.drop_table('room_activity')
    op.drop_index('ix_messages_room_created', table_name='messages')
    op.drop_constraint('uq_messages_client_msg_id', 'messages', type_='unique')
    op.drop_column('messages', 'client_msg_id')
    op.drop_column('messages', 'stream_id')
    op.drop_column('messages', 'offline')
    op.drop_column('messages', 'run_id')
    op.drop_column('messages', 'agent_type')
