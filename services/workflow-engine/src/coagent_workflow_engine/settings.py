"""Workflow-engine settings (``WORKFLOW_ENGINE_*``, fleet-wide values from ``COAGENT_*``)."""

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from coagent_kit.settings import ServiceSettings


class WorkflowEngineSettings(ServiceSettings):
    """Where the workflow engine listens and which database it owns."""

    model_config = SettingsConfigDict(env_prefix="WORKFLOW_ENGINE_")
    service_name: ClassVar[str] = "workflow-engine"

    port: int = 8102
    database_url: str = (
        "postgresql+asyncpg://coagent_workflow_engine@127.0.0.1:5432/coagent_workflow_engine"
    )
