"""outbox position: publish in insertion order

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 15:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Rows already waiting get positions in table order; new rows in insertion order.
    op.add_column(
        'outbox',
        sa.Column('position', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    )
    op.create_index(op.f('ix_outbox_position'), 'outbox', ['position'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_outbox_position'), table_name='outbox')
    op.drop_column('outbox', 'position')
