"""Chat service settings (``CHAT_*``, fleet-wide values from ``COAGENT_*``)."""

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from coagent_kit.settings import ServiceSettings


class ChatSettings(ServiceSettings):
    """Where the chat service listens and which database it owns."""

    model_config = SettingsConfigDict(env_prefix="CHAT_")
    service_name: ClassVar[str] = "chat"

    port: int = 8101
    database_url: str = "postgresql+asyncpg://coagent_chat@127.0.0.1:5432/coagent_chat"
