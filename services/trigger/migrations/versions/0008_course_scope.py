"""policies scoped to a course: trigger_policies.scope_course_id, and rooms looked up by course

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 00:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """A policy may cover every room of one course: the column is matched against a room's
    course on every message, and a course's rooms are listed when a silence policy is armed."""
    op.add_column(
        'trigger_policies', sa.Column('scope_course_id', sa.String(length=64), nullable=True)
    )
    op.create_index(
        op.f('ix_trigger_policies_scope_course_id'),
        'trigger_policies',
        ['scope_course_id'],
        unique=False,
    )
    op.create_index(op.f('ix_rooms_course_id'), 'rooms', ['course_id'], unique=False)


def downgrade() -> None:
    """Drop everything :func:`upgrade` created."""
    op.drop_index(op.f('ix_rooms_course_id'), table_name='rooms')
    op.drop_index(op.f('ix_trigger_policies_scope_course_id'), table_name='trigger_policies')
    op.drop_column('trigger_policies', 'scope_course_id')
