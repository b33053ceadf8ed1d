"""Gateway settings: ``GATEWAY_*`` plus the fleet-wide ``COAGENT_*`` (including host and port)."""

from pathlib import Path
from typing import ClassVar

from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from coagent_kit.settings import ServiceSettings

INTERNAL_SERVICES = ("chat", "workflow-engine", "trigger", "graphrag-ingest", "graphrag-query")


class GatewaySettings(ServiceSettings):
    """The public ingress: it listens on ``COAGENT_HOST``/``COAGENT_PORT``."""

    model_config = SettingsConfigDict(env_prefix="GATEWAY_")
    service_name: ClassVar[str] = "gateway"
    # Host and port are the fleet's public address, so they are read from COAGENT_HOST/COAGENT_PORT.
    per_service_fields: ClassVar[frozenset[str]] = frozenset({"database_url"})

    port: int = 8000
    database_url: str = "postgresql+asyncpg://coagent_gateway@127.0.0.1:5432/coagent_gateway"
    jwt_secret: SecretStr = SecretStr("dev-jwt-signing-secret-not-for-production")
    admin_email: str = "admin@coagent.local"
    admin_password: SecretStr | None = None
    admin_username: str | None = None
    chat_url: str = "http://127.0.0.1:8101"
    workflow_engine_url: str = "http://127.0.0.1:8102"
    trigger_url: str = "http://127.0.0.1:8103"
    graphrag_ingest_url: str = "http://127.0.0.1:8104"
    graphrag_query_url: str = "http://127.0.0.1:8105"
    web_dir: str | None = None
    #: Mark session cookies Secure (set it when the gateway is served over HTTPS).
    secure_cookies: bool = False
    #: Browser origins, besides the gateway's own, whose pages may open WebSockets here.
    allowed_origins: list[str] = []
    #: The fleet's data directory (``COAGENT_DATA_DIR``).
    data_dir: str = ".data"
    #: Uploaded media (avatars); defaults to ``<data_dir>/media``.
    media_dir: str | None = None

    def media_root(self) -> Path:
        """Where uploaded media is stored."""
        return Path(self.media_dir) if self.media_dir else Path(self.data_dir) / "media"

    def service_urls(self) -> dict[str, str]:
        """Base URL of every internal service, by service name."""
        return {name: getattr(self, f"{name.replace('-', '_')}_url") for name in INTERNAL_SERVICES}

    def secret_fields(self) -> list[tuple[str, str]]:
        # The admin password is a user's choice, not a deployment secret: domain rules check it.
        return [(n, v) for n, v in super().secret_fields() if n != "admin_password"]
