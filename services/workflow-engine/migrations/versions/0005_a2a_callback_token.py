"""agents: the A2A callback token of an external agent, stored as a SHA-256 hash

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 10:00:00

Hand-written to match ``coagent_workflow_engine.adapters.postgres_agents`` (a test compares
models and schema). Only the hash is kept: the token is shown once, when issued.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ``agents.callback_token_hash`` (hex SHA-256, null: no token issued)."""
    op.add_column("agents", sa.Column("callback_token_hash", sa.String(length=64), nullable=True))


def downgrade() -> None:
    """Drop the column :func:`upgrade` added."""
    op.drop_column("agents", "callback_token_hash")
