"""who attached a room's workflow (the room fallback runs with their authority)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 21:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Rooms attached before this have no recorded attacher: their fallback stays off until
    someone attaches the workflow again."""
    op.add_column('rooms', sa.Column('attached_by', sa.String(length=64), nullable=True))


def downgrade() -> None:
    """Drop the column :func:`upgrade` added."""
    op.drop_column('rooms', 'attached_by')
