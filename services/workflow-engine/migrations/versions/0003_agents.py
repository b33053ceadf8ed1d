"""agents: configurations, versions, per-agent keys, types, room assignments, user key wallet

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 10:00:00

Hand-written to match ``coagent_workflow_engine.adapters.postgres_agents`` (a test compares the
models with the migrated schema). Seeds the four system agent types.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSONB = postgresql.JSONB(astext_type=sa.Text())

# Same rows (and ids) as ``coagent_workflow_engine.agents.domain.SYSTEM_TYPES``.
SYSTEM_TYPES = (
    ("4f1e4a52-6c0e-5b2a-9f6a-2f0c1d7b0001", "teacher", "Teacher", "instructor"),
    ("4f1e4a52-6c0e-5b2a-9f6a-2f0c1d7b0002", "student", "Student", "participant"),
    ("4f1e4a52-6c0e-5b2a-9f6a-2f0c1d7b0003", "design", "Design", "utility"),
    ("4f1e4a52-6c0e-5b2a-9f6a-2f0c1d7b0004", "analytics", "Analytics", "utility"),
)


def _now(name: str) -> sa.Column:
    return sa.Column(
        name, sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def upgrade() -> None:
    """Create the agents tables and seed the system agent types."""
    op.create_table(
        "agents",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("system_prompt", sa.Text(), nullable=False),
        sa.Column("model_provider", sa.String(length=32), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("context_window", sa.Integer(), nullable=False),
        sa.Column("context_strategy", sa.String(length=16), nullable=False),
        sa.Column("settings", JSONB, nullable=False),
        sa.Column("trigger_config", JSONB, nullable=True),
        sa.Column("schedule_config", JSONB, nullable=True),
        sa.Column("user_key_ids", JSONB, nullable=False),
        sa.Column("is_external", sa.Boolean(), nullable=False),
        sa.Column("external_config", JSONB, nullable=True),
        sa.Column("project_id", sa.String(length=64), nullable=True),
        sa.Column("is_template", sa.Boolean(), nullable=False),
        sa.Column("is_system", sa.Boolean(), nullable=False),
        sa.Column("parent_config_id", sa.String(length=36), nullable=True),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("capabilities", JSONB, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("api_key", sa.Text(), nullable=True),
        sa.Column("external_token", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        _now("created_at"),
        _now("updated_at"),
        sa.ForeignKeyConstraint(
            ["parent_config_id"],
            ["agents.id"],
            name=op.f("fk_agents_parent_config_id_agents"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agents")),
    )
    op.create_index("ix_agents_project_id_type", "agents", ["project_id", "type"], unique=False)
    op.create_index("ix_agents_created_by", "agents", ["created_by"], unique=False)

    op.create_table(
        "agent_versions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("agent_id", sa.String(length=36), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("version_label", sa.String(length=100), nullable=False),
        sa.Column("system_prompt", sa.Text(), nullable=False),
        sa.Column("model_provider", sa.String(length=32), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=True),
        sa.Column("settings", JSONB, nullable=False),
        sa.Column("context_window", sa.Integer(), nullable=False),
        sa.Column("context_strategy", sa.String(length=16), nullable=False),
        sa.Column("trigger_config", JSONB, nullable=True),
        sa.Column("schedule_config", JSONB, nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        _now("created_at"),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_agent_versions_agent_id_agents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_versions")),
        sa.UniqueConstraint("agent_id", "number", name=op.f("uq_agent_versions_agent_id")),
    )

    op.create_table(
        "agent_keys",
        sa.Column("agent_id", sa.String(length=36), nullable=False),
        sa.Column("key_type", sa.String(length=64), nullable=False),
        sa.Column("ciphertext", sa.Text(), nullable=False),
        _now("updated_at"),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_agent_keys_agent_id_agents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("agent_id", "key_type", name=op.f("pk_agent_keys")),
    )

    agent_types = op.create_table(
        "agent_types",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("type_name", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("icon", sa.String(length=100), nullable=True),
        sa.Column("color", sa.String(length=32), nullable=True),
        sa.Column("default_system_prompt", sa.Text(), nullable=True),
        sa.Column("default_model_provider", sa.String(length=32), nullable=False),
        sa.Column("default_model", sa.String(length=200), nullable=True),
        sa.Column("default_settings", JSONB, nullable=False),
        sa.Column("default_capabilities", JSONB, nullable=False),
        sa.Column("is_system", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        _now("created_at"),
        _now("updated_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_types")),
        sa.UniqueConstraint("type_name", name=op.f("uq_agent_types_type_name")),
    )

    op.create_table(
        "room_agents",
        sa.Column("room_id", sa.String(length=64), nullable=False),
        sa.Column("agent_id", sa.String(length=36), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("settings", JSONB, nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        _now("created_at"),
        _now("updated_at"),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_room_agents_agent_id_agents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("room_id", "agent_id", name=op.f("pk_room_agents")),
    )
    op.create_index("ix_room_agents_agent_id", "room_agents", ["agent_id"], unique=False)

    op.create_table(
        "user_keys",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("alias", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("ciphertext", sa.Text(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("schedule_config", JSONB, nullable=True),
        _now("created_at"),
        _now("updated_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_keys")),
        sa.UniqueConstraint("user_id", "alias", name=op.f("uq_user_keys_user_id")),
    )

    op.bulk_insert(
        agent_types,
        [
            {
                "id": type_id,
                "type_name": name,
                "display_name": display,
                "category": category,
                "default_model_provider": "gemini",
                "default_settings": {},
                "default_capabilities": [],
                "is_system": True,
            }
            for type_id, name, display, category in SYSTEM_TYPES
        ],
    )


def downgrade() -> None:
    """Drop everything :func:`upgrade` created."""
    op.drop_table("user_keys")
    op.drop_index("ix_room_agents_agent_id", table_name="room_agents")
    op.drop_table("room_agents")
    op.drop_table("agent_types")
    op.drop_table("agent_keys")
    op.drop_table("agent_versions")
    op.drop_index("ix_agents_created_by", table_name="agents")
    op.drop_index("ix_agents_project_id_type", table_name="agents")
    op.drop_table("agents")
