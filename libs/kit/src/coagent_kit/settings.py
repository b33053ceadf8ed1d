"""Typed settings shared by every service.

Each service subclasses :class:`ServiceSettings` with its own env prefix (``CHAT_``, ``TRIGGER_``
…). Fleet-wide values (broker URL, secrets, tracing) are read from ``COAGENT_*`` variables, and any
of them can be overridden for one service with its prefix (``CHAT_NATS_URL`` beats
``COAGENT_NATS_URL``).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

Environment = Literal["dev", "test", "prod"]

#: Secrets that ship as defaults so that `make run` works with no configuration. They are refused
#: outside ``COAGENT_ENV=dev``/``test`` so a production deploy cannot run on a published secret.
PLACEHOLDER_SECRETS = frozenset(
    {
        "dev-internal-token-secret-not-for-production",
        "dev-jwt-signing-secret-not-for-production",
        "",
        "changeme",
    }
)

SHARED_PREFIX = "COAGENT_"
#: HS256 keys shorter than the hash (32 bytes) are weak (RFC 7518 §3.2).
MIN_SECRET_CHARS = 32


class ConfigurationError(ValueError):
    """Settings that cannot work; the message names the variable and the problem in one line."""


class ServiceSettings(BaseSettings):
    """Base of every service's settings: the fleet-wide part."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True)

    #: The service name: also the OpenTelemetry service name and the internal-token audience.
    service_name: ClassVar[str] = "service"
    #: Fields that stay per-service: a ``COAGENT_`` value never leaks into them (own port each).
    per_service_fields: ClassVar[frozenset[str]] = frozenset({"host", "port", "database_url"})

    env: Environment = "dev"
    host: str = "127.0.0.1"
    port: int = Field(default=8100, ge=0, le=65535)
    nats_url: str = "nats://127.0.0.1:4222"
    redis_url: str = "redis://127.0.0.1:6379/0"
    internal_token_secret: SecretStr = SecretStr("dev-internal-token-secret-not-for-production")
    otlp_endpoint: str = ""
    log_level: str = "INFO"
    migrate_on_start: bool = True
    #: Seconds to wait for a dependency (broker, database) before giving up at start-up.
    connect_timeout_s: float = Field(default=5.0, gt=0)
    #: Copies of every JetStream stream kept by a NATS cluster (``COAGENT_STREAM_REPLICAS``): 1 for
    #: a single server, 3 on a three-node cluster so a stream survives the loss of one node.
    stream_replicas: int = Field(default=1, ge=1, le=5)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        shared = _SharedEnvSource(settings_cls, cls.per_service_fields)
        return (init_settings, env_settings, shared, file_secret_settings)

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> ServiceSettings:
        if self.env in ("dev", "test"):
            return self
        for name, value in self.secret_fields():
            if value in PLACEHOLDER_SECRETS or len(value) < MIN_SECRET_CHARS:
                raise ConfigurationError(
                    f"{self.env_name(name)} must be set to a real secret "
                    f"({MIN_SECRET_CHARS}+ characters) when COAGENT_ENV={self.env}"
                )
        return self

    def secret_fields(self) -> list[tuple[str, str]]:
        """Every ``SecretStr`` field as (name, plain value)."""
        return [
            (name, value.get_secret_value())
            for name in type(self).model_fields
            if isinstance(value := getattr(self, name), SecretStr)
        ]

    @classmethod
    def env_name(cls, field: str) -> str:
        """The variable a user sets for ``field``: the shared name where the field is fleet-wide."""
        prefix = cls.model_config.get("env_prefix", "")
        if field in cls.per_service_fields or field not in ServiceSettings.model_fields:
            return f"{prefix}{field}".upper()
        return f"{SHARED_PREFIX}{field}".upper()


class _SharedEnvSource(EnvSettingsSource):
    """Reads ``COAGENT_<FIELD>`` for the fleet-wide fields only."""

    def __init__(self, settings_cls: type[BaseSettings], excluded: frozenset[str]) -> None:
        super().__init__(settings_cls, env_prefix=SHARED_PREFIX, case_sensitive=False)
        self._excluded = excluded

    def __call__(self) -> dict[str, object]:
        values = super().__call__()
        return {key: value for key, value in values.items() if key not in self._excluded}
