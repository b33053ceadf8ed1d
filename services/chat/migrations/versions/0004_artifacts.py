"""artifacts: room board tasks, docs and process diagrams with their version history

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'artifacts',
        sa.Column('id', sa.String(length=64), nullable=False),
        sa.Column('room_id', sa.String(length=64), nullable=False),
        sa.Column('type', sa.String(length=16), nullable=False),
        sa.Column('title', sa.String(length=500), nullable=False),
        sa.Column('content', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('parent_artifact_id', sa.String(length=64), nullable=True),
        sa.Column('created_by', sa.String(length=64), nullable=False),
        sa.Column('last_modified_by', sa.String(length=64), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('is_deleted', sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column('idempotency_key', sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(
            ['parent_artifact_id'],
            ['artifacts.id'],
            name=op.f('fk_artifacts_parent_artifact_id_artifacts'),
            ondelete='SET NULL',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_artifacts')),
        sa.UniqueConstraint(
            'room_id', 'created_by', 'idempotency_key', name='uq_artifacts_idempotency_key'
        ),
    )
    op.create_index('ix_artifacts_room_created', 'artifacts', ['room_id', 'created_at'])
    op.create_index(
        op.f('ix_artifacts_parent_artifact_id'), 'artifacts', ['parent_artifact_id']
    )
    op.create_table(
        'artifact_versions',
        sa.Column('artifact_id', sa.String(length=64), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('title', sa.String(length=500), nullable=False),
        sa.Column('content', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('changed_by', sa.String(length=64), nullable=True),
        sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['artifact_id'],
            ['artifacts.id'],
            name=op.f('fk_artifact_versions_artifact_id_artifacts'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('artifact_id', 'version', name='pk_artifact_versions'),
    )


def downgrade() -> None:
    op.drop_table('artifact_versions')
    op.drop_index(op.f('ix_artifacts_parent_artifact_id'), table_name='artifacts')
    op.drop_index('ix_artifacts_room_created', table_name='artifacts')
    op.drop_table('artifacts')
