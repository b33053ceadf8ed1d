"""GraphRAG query settings (``GRAPHRAG_QUERY_*``, fleet-wide values from ``COAGENT_*``)."""

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from coagent_kit.settings import ServiceSettings


class GraphragQuerySettings(ServiceSettings):
    """Where graphrag-query listens and where the graph store is; it owns no database."""

    model_config = SettingsConfigDict(env_prefix="GRAPHRAG_QUERY_")
    service_name: ClassVar[str] = "graphrag-query"

    port: int = 8105
    #: The FalkorDB server (a Redis server with the graph module); fleet-wide, so it is read
    #: from ``COAGENT_GRAPH_URL`` unless ``GRAPHRAG_QUERY_GRAPH_URL`` overrides it.
    graph_url: str = "redis://127.0.0.1:6379"
