"""the runs of a policy: firing and run facts on the overlap projection's tracked runs

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 21:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = (
    ('workflow_id', sa.String(length=64)),
    ('kind', sa.String(length=32)),
    ('fired_event_id', sa.String(length=64)),
    ('fired_at', sa.DateTime(timezone=True)),
    ('status', sa.String(length=16)),
    ('started_at', sa.DateTime(timezone=True)),
    ('finished_at', sa.DateTime(timezone=True)),
    ('error', sa.Text()),
)


def upgrade() -> None:
    """What ``GET /api/v1/triggers/{id}/runs`` shows (rows tracked before are listed without
    it), and the index that lists a policy's runs newest first."""
    for name, type_ in _COLUMNS:
        op.add_column('tracked_runs', sa.Column(name, type_, nullable=True))
    op.create_index('ix_tracked_runs_policy_fired', 'tracked_runs', ['policy_id', 'fired_at'])


def downgrade() -> None:
    """Drop everything :func:`upgrade` created."""
    op.drop_index('ix_tracked_runs_policy_fired', table_name='tracked_runs')
    for name, _ in reversed(_COLUMNS):
        op.drop_column('tracked_runs', name)
