"""runs: parent run of subworkflow child runs and the budgets they inherit

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24 19:00:00

Hand-written to match ``coagent_workflow_engine.adapters.postgres`` (a test compares models and
schema).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Link child runs to their parent; keep the budgets a child got from its parent."""
    op.add_column("runs", sa.Column("parent_run_id", sa.String(length=64), nullable=True))
    op.add_column("runs", sa.Column("limits", postgresql.JSONB(), nullable=True))
    op.create_index("ix_runs_parent_run_id", "runs", ["parent_run_id"])


def downgrade() -> None:
    op.drop_index("ix_runs_parent_run_id", table_name="runs")
    op.drop_column("runs", "limits")
    op.drop_column("runs", "parent_run_id")
