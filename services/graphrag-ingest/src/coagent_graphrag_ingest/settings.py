"""GraphRAG ingest settings (``GRAPHRAG_INGEST_*``, fleet-wide values from ``COAGENT_*``)."""

from typing import ClassVar

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from coagent_graphstore.factory import StorageConfig
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
    # Production stores. Like ``graph_url`` these are fleet-wide (``COAGENT_NEO4J_URI`` …): ingest
    # writes where query reads, so both services must pick the same ones.
    #: Neo4j for the graph instead of FalkorDB (``bolt://`` or ``neo4j://``); unset = FalkorDB.
    neo4j_uri: str | None = None
    neo4j_user: str = "neo4j"
    neo4j_password: SecretStr | None = None
    neo4j_database: str | None = None
    #: Qdrant for vectors instead of FalkorDB's vector index; unset = FalkorDB.
    qdrant_url: str | None = None
    qdrant_api_key: SecretStr | None = None
    #: Size of the embedding vectors (the embedder's output); fixed per vector index.
    vector_dimension: int = Field(default=256, ge=1, le=4096)

    def secret_fields(self) -> list[tuple[str, str]]:
        # Credentials of external stores: their servers decide how strong they must be (Neo4j
        # wants 8+ characters), so the fleet's 32-character rule for its own secrets is not theirs.
        external = {"neo4j_password", "qdrant_api_key"}
        return [(n, v) for n, v in super().secret_fields() if n not in external]

    def storage(self) -> StorageConfig:
        """Where the graph and vector adapters connect."""
        return StorageConfig(
            graph_url=self.graph_url,
            vector_dimension=self.vector_dimension,
            neo4j_uri=self.neo4j_uri,
            neo4j_user=self.neo4j_user,
            neo4j_password=self.neo4j_password.get_secret_value() if self.neo4j_password else "",
            neo4j_database=self.neo4j_database,
            qdrant_url=self.qdrant_url,
            qdrant_api_key=self.qdrant_api_key.get_secret_value() if self.qdrant_api_key else None,
        )
