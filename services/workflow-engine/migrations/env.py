"""Alembic environment of the workflow-engine database."""

from coagent_kit.db import run_migrations
from coagent_workflow_engine.adapters.postgres import metadata

run_migrations(metadata)
