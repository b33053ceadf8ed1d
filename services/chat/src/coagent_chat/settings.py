"""Chat service settings (``CHAT_*``, fleet-wide values from ``COAGENT_*``)."""

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from coagent_chat.domain import MAX_RETENTION_DAYS
from coagent_kit.settings import ServiceSettings


class ChatSettings(ServiceSettings):
    """Where the chat service listens, which database it owns and the default retention."""

    model_config = SettingsConfigDict(env_prefix="CHAT_")
    service_name: ClassVar[str] = "chat"

    port: int = 8101
    database_url: str = "postgresql+asyncpg://coagent_chat@127.0.0.1:5432/coagent_chat"

    retention_max_age_days: float | None = Field(default=None, gt=0, le=MAX_RETENTION_DAYS)
    """Fleet default: messages older than this many days are pruned (a room may override it)."""
    retention_max_messages: int | None = Field(default=None, ge=1)
    """Fleet default: a room keeps at most this many of its newest messages."""
    retention_interval_s: float = Field(default=60.0, gt=0)
    """Seconds between two pruning passes."""
    retention_batch_size: int = Field(default=500, ge=1, le=10_000)
    """Messages erased per transaction (and per tombstone event)."""
