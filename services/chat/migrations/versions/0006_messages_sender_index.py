"""messages by sender: forgetting a user finds everything they wrote in every room

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 01:20:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_messages_sender', 'messages', ['sender_id'])


def downgrade() -> None:
    op.drop_index('ix_messages_sender', table_name='messages')
