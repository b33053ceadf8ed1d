"""The agents tables on the workflow-engine ``metadata`` (migration 0003).

Secrets are stored only as Fernet ciphertext (``api_key``, ``external_token``, ``ciphertext``
columns). Deleting an agent cascades to its versions, per-agent keys and room assignments in the
database itself, so no code path can leave orphans behind.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB

from coagent_workflow_engine.adapters.postgres import metadata

_ID = String(36)
_USER = String(64)


def _now_column(name: str) -> Column[Any]:
    return Column(name, DateTime(timezone=True), nullable=False, server_default=func.now())


agents = Table(
    "agents",
    metadata,
    Column("id", _ID, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("type", String(64), nullable=False),
    Column("system_prompt", Text, nullable=False),
    Column("model_provider", String(32), nullable=False),
    Column("model", String(200)),
    Column("is_active", Boolean, nullable=False),
    Column("context_window", Integer, nullable=False),
    Column("context_strategy", String(16), nullable=False),
    Column("settings", JSONB, nullable=False),
    Column("trigger_config", JSONB),
    Column("schedule_config", JSONB),
    Column("user_key_ids", JSONB, nullable=False),
    Column("is_external", Boolean, nullable=False),
    Column("external_config", JSONB),
    Column("project_id", String(64)),
    Column("is_template", Boolean, nullable=False),
    Column("is_system", Boolean, nullable=False),
    Column("parent_config_id", _ID, ForeignKey("agents.id", ondelete="SET NULL")),
    Column("category", String(64), nullable=False),
    Column("capabilities", JSONB, nullable=False),
    Column("version", Integer, nullable=False),
    Column("api_key", Text),
    Column("external_token", Text),
    Column("created_by", _USER),
    # Migration 0005: hex SHA-256 of the A2A callback token (the token itself is never stored).
    Column("callback_token_hash", String(64)),
    _now_column("created_at"),
    _now_column("updated_at"),
    Index("ix_agents_project_id_type", "project_id", "type"),
    Index("ix_agents_created_by", "created_by"),
)

agent_versions = Table(
    "agent_versions",
    metadata,
    Column("id", _ID, primary_key=True),
    Column("agent_id", _ID, ForeignKey("agents.id", ondelete="CASCADE"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("version_label", String(100), nullable=False),
    Column("system_prompt", Text, nullable=False),
    Column("model_provider", String(32), nullable=False),
    Column("model", String(200)),
    Column("settings", JSONB, nullable=False),
    Column("context_window", Integer, nullable=False),
    Column("context_strategy", String(16), nullable=False),
    Column("trigger_config", JSONB),
    Column("schedule_config", JSONB),
    Column("created_by", _USER),
    _now_column("created_at"),
    UniqueConstraint("agent_id", "number"),
)

agent_keys = Table(
    "agent_keys",
    metadata,
    Column("agent_id", _ID, ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True),
    Column("key_type", String(64), primary_key=True),
    Column("ciphertext", Text, nullable=False),
    _now_column("updated_at"),
)

agent_types = Table(
    "agent_types",
    metadata,
    Column("id", _ID, primary_key=True),
    Column("type_name", String(64), nullable=False, unique=True),
    Column("display_name", String(200), nullable=False),
    Column("description", Text),
    Column("category", String(64), nullable=False),
    Column("icon", String(100)),
    Column("color", String(32)),
    Column("default_system_prompt", Text),
    Column("default_model_provider", String(32), nullable=False),
    Column("default_model", String(200)),
    Column("default_settings", JSONB, nullable=False),
    Column("default_capabilities", JSONB, nullable=False),
    Column("is_system", Boolean, nullable=False),
    Column("created_by", _USER),
    _now_column("created_at"),
    _now_column("updated_at"),
)

room_agents = Table(
    "room_agents",
    metadata,
    Column("room_id", String(64), primary_key=True),
    Column("agent_id", _ID, ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True),
    Column("is_active", Boolean, nullable=False),
    Column("position", Integer, nullable=False),
    Column("settings", JSONB, nullable=False),
    Column("created_by", _USER, nullable=False),
    Column("updated_by", _USER, nullable=False),
    _now_column("created_at"),
    _now_column("updated_at"),
    Index("ix_room_agents_agent_id", "agent_id"),
)

user_keys = Table(
    "user_keys",
    metadata,
    Column("id", _ID, primary_key=True),
    Column("user_id", _USER, nullable=False),
    Column("provider", String(64), nullable=False),
    Column("alias", String(100), nullable=False),
    Column("description", Text),
    Column("ciphertext", Text, nullable=False),
    Column("is_active", Boolean, nullable=False),
    Column("schedule_config", JSONB),
    _now_column("created_at"),
    _now_column("updated_at"),
    # Per-user alias uniqueness in the database, not only in code (concurrent adds).
    UniqueConstraint("user_id", "alias"),
)
