"""GraphRAG ingest settings (``GRAPHRAG_INGEST_*``, fleet-wide values from ``COAGENT_*``)."""

from typing import ClassVar, Self

from pydantic import Field, SecretStr, model_validator
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
    #: Characters per chunk (~4 per token); a turn is never split unless longer than this.
    chunk_chars: int = Field(default=2000, ge=200, le=32_000)
    #: A room is ingested once quiet this long after its last event …
    debounce_quiet_s: float = Field(default=2.0, ge=0.0, le=600.0)
    #: … but no later than this after the first event of a burst (no starvation).
    debounce_max_wait_s: float = Field(default=20.0, ge=0.0, le=3600.0)
    #: An OpenAI-compatible endpoint for extraction; without a key the offline rules extract.
    llm_api_key: SecretStr | None = None
    llm_base_url: str | None = None
    llm_model: str = "gpt-4o-mini"
    #: Schema-repair rounds: a reply that does not fit is sent back with the validation error.
    llm_max_retries: int = Field(default=2, ge=0, le=5)
    llm_timeout_s: float = Field(default=60.0, gt=0.0, le=600.0)

    @model_validator(mode="after")
    def _debounce_is_consistent(self) -> Self:
        if self.debounce_max_wait_s < self.debounce_quiet_s:
            raise ValueError(
                "GRAPHRAG_INGEST_DEBOUNCE_MAX_WAIT_S must not be shorter than "
                "GRAPHRAG_INGEST_DEBOUNCE_QUIET_S"
            )
        return self

    def secret_fields(self) -> list[tuple[str, str]]:
        # Credentials of external stores: their servers decide how strong they must be (Neo4j
        # wants 8+ characters), so the fleet's 32-character rule for its own secrets is not theirs.
        external = {"neo4j_password", "qdrant_api_key", "llm_api_key"}
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
