"""Trigger service settings (``TRIGGER_*``, fleet-wide values from ``COAGENT_*``)."""

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from coagent_kit.settings import ServiceSettings


class TriggerSettings(ServiceSettings):
    """Where the trigger service listens and which database it owns."""

    model_config = SettingsConfigDict(env_prefix="TRIGGER_")
    service_name: ClassVar[str] = "trigger"

    port: int = 8103
    database_url: str = "postgresql+asyncpg://coagent_trigger@127.0.0.1:5432/coagent_trigger"
