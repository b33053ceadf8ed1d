"""The storage settings both GraphRAG services share (they must agree: ingest writes where query
reads), as a base for their settings classes.

Every field here is fleet-wide: read from ``COAGENT_<FIELD>`` unless the service's own prefix
overrides it (see :class:`coagent_kit.settings.ServiceSettings`).
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, SecretStr

from coagent_graphstore.factory import StorageConfig
from coagent_kit.settings import ServiceSettings


class GraphStoreSettings(ServiceSettings):
    """Where the graph and the vectors live: FalkorDB by default, Neo4j and Qdrant when set."""

    #: Credentials of external stores: their servers decide how strong they must be (Neo4j
    #: wants 8+ characters), so the fleet's 32-character rule for its own secrets is not theirs.
    external_secrets: ClassVar[frozenset[str]] = frozenset({"neo4j_password", "qdrant_api_key"})

    #: The FalkorDB server (a Redis server with the graph module).
    graph_url: str = "redis://127.0.0.1:6379"
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
        return [(n, v) for n, v in super().secret_fields() if n not in self.external_secrets]

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
