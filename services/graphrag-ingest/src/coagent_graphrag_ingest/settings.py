"""GraphRAG ingest settings (``GRAPHRAG_INGEST_*``, fleet-wide values from ``COAGENT_*``)."""

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from coagent_kit.settings import ServiceSettings


class GraphragIngestSettings(ServiceSettings):
    """Where graphrag-ingest listens, which database it owns and where the graph store is."""

    model_config = SettingsConfigDict(env_prefix="GRAPHRAG_INGEST_")
    service_name: ClassVar[str] = "graphrag-ingest"

    port: int = 8104
    database_url: str = (
        "postgresql+asyncpg://coagent_graphrag_ingest@127.0.0.1:5432/coagent_graphrag_ingest"
    )
    #: The FalkorDB server (a Redis server with the graph module); fleet-wide, so it is read
    #: from ``COAGENT_GRAPH_URL`` unless ``GRAPHRAG_INGEST_GRAPH_URL`` overrides it.
    graph_url: str = "redis://127.0.0.1:6379"
