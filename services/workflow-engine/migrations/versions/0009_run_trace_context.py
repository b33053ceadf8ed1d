"""runs: the trace context of whoever queued the run

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24 21:45:00

Hand-written to match ``coagent_workflow_engine.adapters.postgres`` (a test compares models and
schema).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """A claimed run continues the trace of the firing or request that queued it."""
    op.add_column("runs", sa.Column("trace_context", postgresql.JSONB(), nullable=True))


def downgrade() -> None:
    op.drop_column("runs", "trace_context")
