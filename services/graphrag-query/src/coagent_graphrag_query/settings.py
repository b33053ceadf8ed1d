"""GraphRAG query settings (``GRAPHRAG_QUERY_*``, fleet-wide values from ``COAGENT_*``)."""

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from coagent_graphstore.settings import GraphStoreSettings


class GraphragQuerySettings(GraphStoreSettings):
    """Where graphrag-query listens and where the graph store is; it owns no database."""

    model_config = SettingsConfigDict(env_prefix="GRAPHRAG_QUERY_")
    service_name: ClassVar[str] = "graphrag-query"

    port: int = 8105
