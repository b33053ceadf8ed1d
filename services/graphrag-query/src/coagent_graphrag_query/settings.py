"""GraphRAG query settings (``GRAPHRAG_QUERY_*``, fleet-wide values from ``COAGENT_*``)."""

from typing import ClassVar

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from coagent_graphstore.settings import GraphStoreSettings


class GraphragQuerySettings(GraphStoreSettings):
    """Where graphrag-query listens and where the graph store is; it owns no database."""

    model_config = SettingsConfigDict(env_prefix="GRAPHRAG_QUERY_")
    service_name: ClassVar[str] = "graphrag-query"
    external_secrets: ClassVar[frozenset[str]] = GraphStoreSettings.external_secrets | {
        "llm_api_key"  # the model provider's key, whatever its format
    }

    port: int = 8105
    #: An OpenAI-compatible endpoint that writes answers; without a key the offline extractive
    #: composer answers from the passages' own sentences.
    llm_api_key: SecretStr | None = None
    llm_base_url: str | None = None
    llm_model: str = "gpt-4o-mini"
    llm_timeout_s: float = Field(default=60.0, gt=0.0, le=600.0)
