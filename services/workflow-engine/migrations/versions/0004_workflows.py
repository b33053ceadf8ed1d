"""workflows: documents and immutable versions, room attachment, run steps, room history, leases

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 14:00:00

Hand-written to match ``coagent_workflow_engine.adapters.postgres`` (runs) and
``coagent_workflow_engine.adapters.postgres_engine`` (a test compares models and schema).
LangGraph's checkpoint tables are not here: ``AsyncPostgresSaver.setup()`` owns and migrates them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSONB = postgresql.JSONB(astext_type=sa.Text())
ID = sa.String(length=64)


def _now(name: str) -> sa.Column:
    return sa.Column(
        name, sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def upgrade() -> None:
    """Create the workflow tables and add execution columns to runs."""
    op.create_table(
        "workflows",
        sa.Column("id", ID, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_by", ID, nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("current_version", sa.Integer(), nullable=False),
        sa.Column("limits", JSONB, nullable=False),
        _now("created_at"),
        _now("updated_at"),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workflows")),
    )
    op.create_index("ix_workflows_created_by_updated_at", "workflows", ["created_by", "updated_at"])
    op.create_table(
        "workflow_versions",
        sa.Column("workflow_id", ID, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("graph", JSONB, nullable=False),
        sa.Column("created_by", ID, nullable=True),
        _now("created_at"),
        sa.ForeignKeyConstraint(
            ["workflow_id"],
            ["workflows.id"],
            name=op.f("fk_workflow_versions_workflow_id_workflows"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workflow_id", "version", name=op.f("pk_workflow_versions")),
    )
    op.create_table(
        "room_workflows",
        sa.Column("room_id", ID, nullable=False),
        sa.Column("workflow_id", ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["workflow_id"],
            ["workflows.id"],
            name=op.f("fk_room_workflows_workflow_id_workflows"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("room_id", name=op.f("pk_room_workflows")),
    )
    op.create_table(
        "run_steps",
        sa.Column("run_id", ID, nullable=False),
        sa.Column("node_id", sa.String(length=128), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("node_type", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("input", JSONB, nullable=False),
        sa.Column("output", JSONB, nullable=False),
        sa.Column("tokens", sa.Integer(), nullable=False),
        sa.Column("cost", sa.Float(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_run_steps_run_id_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("run_id", "node_id", "step", name=op.f("pk_run_steps")),
    )
    op.create_table(
        "room_history",
        sa.Column("room_id", ID, nullable=False),
        sa.Column("message_id", ID, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("sender_kind", sa.String(length=16), nullable=False),
        sa.Column("sender_name", sa.String(length=200), nullable=True),
        sa.Column("agent_id", ID, nullable=True),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("room_id", "message_id", name=op.f("pk_room_history")),
    )
    op.create_index("ix_room_history_room_id_seq", "room_history", ["room_id", "seq"])

    op.add_column("runs", sa.Column("error_code", sa.String(length=64), nullable=True))
    op.add_column("runs", sa.Column("created_by", ID, nullable=True))
    op.add_column(
        "runs",
        sa.Column("input", JSONB, server_default=sa.text("'{}'::jsonb"), nullable=False),
    )
    op.add_column("runs", sa.Column("idempotency_key", sa.String(length=255), nullable=True))
    op.add_column("runs", sa.Column("lease_owner", sa.String(length=128), nullable=True))
    op.add_column("runs", sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "runs", sa.Column("attempt", sa.Integer(), server_default=sa.text("0"), nullable=False)
    )
    op.add_column(
        "runs",
        sa.Column(
            "cancel_requested", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
    )
    op.add_column("runs", sa.Column("pending_input", JSONB, nullable=True))
    op.add_column("runs", sa.Column("resume", JSONB, nullable=True))
    op.add_column("runs", sa.Column("output", JSONB, nullable=True))
    op.create_index("ix_runs_status_lease_expires_at", "runs", ["status", "lease_expires_at"])
    op.create_unique_constraint(
        "uq_runs_idempotency", "runs", ["workflow_id", "created_by", "idempotency_key"]
    )


def downgrade() -> None:
    """Drop everything :func:`upgrade` created."""
    op.drop_constraint("uq_runs_idempotency", "runs", type_="unique")
    op.drop_index("ix_runs_status_lease_expires_at", table_name="runs")
    for column in (
        "output",
        "resume",
        "pending_input",
        "cancel_requested",
        "attempt",
        "lease_expires_at",
        "lease_owner",
        "idempotency_key",
        "input",
        "created_by",
        "error_code",
    ):
        op.drop_column("runs", column)
    op.drop_index("ix_room_history_room_id_seq", table_name="room_history")
    op.drop_table("room_history")
    op.drop_table("run_steps")
    op.drop_table("room_workflows")
    op.drop_table("workflow_versions")
    op.drop_index("ix_workflows_created_by_updated_at", table_name="workflows")
    op.drop_table("workflows")
