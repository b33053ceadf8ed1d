"""Workflow-engine settings (``WORKFLOW_ENGINE_*``, fleet-wide values from ``COAGENT_*``)."""

import ipaddress
from typing import Annotated, ClassVar, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from coagent_kit.settings import ConfigurationError, ServiceSettings


class WorkflowEngineSettings(ServiceSettings):
    """Where the workflow engine listens and which database it owns."""

    model_config = SettingsConfigDict(env_prefix="WORKFLOW_ENGINE_")
    service_name: ClassVar[str] = "workflow-engine"

    port: int = 8102
    database_url: str = (
        "postgresql+asyncpg://coagent_workflow_engine@127.0.0.1:5432/coagent_workflow_engine"
    )
    #: Fernet keys for provider keys at rest, comma-separated; the first encrypts, all decrypt
    #: (rotation: prepend a new key). Empty in dev/test: derived from the internal token secret.
    encryption_keys: Annotated[list[SecretStr], NoDecode] = []
    #: Runs executed at once by this process (each is an asyncio task, mostly awaiting models).
    worker_concurrency: int = Field(default=4, ge=0, le=256)
    #: A run's lease: a worker that stops renewing it (crash, kill -9) loses the run to another
    #: worker after at most this long (+ one poll), which resumes it from its checkpoint.
    lease_s: float = Field(default=15.0, gt=0.5, le=600)
    #: How often idle workers look for queued runs queued by other processes.
    poll_s: float = Field(default=0.5, gt=0, le=30)

    #: Networks ``http``/``tool`` nodes may call although they are not public (CIDR, comma-
    #: separated), e.g. an internal API. Loopback and link-local (metadata) networks are
    #: accepted only when COAGENT_ENV is dev or test (local test servers).
    http_allow_networks: Annotated[list[str], NoDecode] = []
    #: Largest response body an ``http``/``tool`` node reads.
    http_max_response_bytes: int = Field(default=1024 * 1024, ge=1024, le=64 * 1024 * 1024)

    @field_validator("http_allow_networks", mode="before")
    @classmethod
    def _split_networks(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @model_validator(mode="after")
    def _check_networks(self) -> Self:
        for entry in self.http_allow_networks:
            try:
                network = ipaddress.ip_network(entry, strict=False)
            except ValueError as exc:
                raise ConfigurationError(
                    f"{self.env_name('http_allow_networks')}: {entry!r} is not a network"
                ) from exc
            local = network.is_loopback or network.is_link_local or network.is_unspecified
            if local and self.env not in ("dev", "test"):
                raise ConfigurationError(
                    f"{self.env_name('http_allow_networks')}: {entry} may be allowed only "
                    "when COAGENT_ENV is dev or test"
                )
        return self

    @field_validator("encryption_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @model_validator(mode="after")
    def _require_encryption_keys(self) -> Self:
        # Outside dev/test the keys must be the operator's own: a key derived from another
        # secret would tie every stored provider key to that secret's rotation.
        if self.env not in ("dev", "test") and not self.encryption_keys:
            raise ConfigurationError(
                f"{self.env_name('encryption_keys')} must be set when COAGENT_ENV={self.env}"
            )
        return self
