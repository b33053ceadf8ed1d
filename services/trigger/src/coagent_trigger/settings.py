"""Trigger service settings (``TRIGGER_*``, fleet-wide values from ``COAGENT_*``)."""

from typing import ClassVar

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from coagent_kit.settings import ServiceSettings


class TriggerSettings(ServiceSettings):
    """Where the trigger service listens and which database it owns."""

    model_config = SettingsConfigDict(env_prefix="TRIGGER_")
    service_name: ClassVar[str] = "trigger"

    port: int = 8103
    database_url: str = "postgresql+asyncpg://coagent_trigger@127.0.0.1:5432/coagent_trigger"
    chat_url: str = "http://127.0.0.1:8101"
    """Chat's internal API (a room's recent messages, for dry runs)."""
    gateway_url: str = "http://127.0.0.1:8000"
    """The gateway's internal API: whether a user may act on a room now (unscoped policies and
    room fallbacks fire only where their owner may act)."""
    access_cache_ttl_s: float = Field(default=30.0, ge=0)
    """How long a room-access answer is reused (room and membership events drop it sooner)."""
    webhook_secret_key: SecretStr | None = None
    """Encrypts webhook signing secrets at rest; defaults to a key derived from the internal
    token secret (set its own value in production so rotating one does not break the other)."""

    def webhook_key_material(self) -> str:
        """What :class:`~coagent_trigger.secrets_box.SecretBox` derives its key from."""
        key = self.webhook_secret_key or self.internal_token_secret
        return "webhook:" + key.get_secret_value()
