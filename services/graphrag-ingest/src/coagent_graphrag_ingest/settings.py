"""GraphRAG ingest settings (``GRAPHRAG_INGEST_*``, fleet-wide values from ``COAGENT_*``)."""

from typing import ClassVar, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from coagent_graphstore.settings import GraphStoreSettings


class GraphragIngestSettings(GraphStoreSettings):
    """Where graphrag-ingest listens, which database it owns and where the graph store is."""

    model_config = SettingsConfigDict(env_prefix="GRAPHRAG_INGEST_")
    service_name: ClassVar[str] = "graphrag-ingest"
    external_secrets: ClassVar[frozenset[str]] = GraphStoreSettings.external_secrets | {
        "llm_api_key"  # the model provider's key, whatever its format
    }

    port: int = 8104
    database_url: str = (
        "postgresql+asyncpg://coagent_graphrag_ingest@127.0.0.1:5432/coagent_graphrag_ingest"
    )
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
    #: Entity resolution (name and alias always run): the fuzzy step and its spelling ratio …
    resolve_fuzzy: bool = True
    resolve_fuzzy_ratio: float = Field(default=0.88, ge=0.5, le=1.0)
    #: … same-type embedding neighbours at least this similar (cosine) become candidates …
    resolve_embedding: bool = True
    resolve_embedding_threshold: float = Field(default=0.8, ge=0.0, le=1.0)
    resolve_embedding_neighbours: int = Field(default=5, ge=1, le=100)
    #: … which are decided in batches (the model with a key, conservative rules without).
    resolve_adjudication: bool = True
    resolve_adjudication_batch: int = Field(default=20, ge=1, le=500)
    #: Entities and relations whose fragments changed, summarised per summariser call.
    summary_batch: int = Field(default=10, ge=1, le=200)
    #: Communities are re-clustered once the room's passes have been quiet this long …
    community_quiet_s: float = Field(default=10.0, ge=0.0, le=3600.0)
    #: … but no later than this after the first pass that changed the graph.
    community_max_wait_s: float = Field(default=120.0, ge=0.0, le=86_400.0)
    #: Communities larger than this are split one level further down.
    community_max_cluster_size: int = Field(default=10, ge=2, le=10_000)
    #: Characters of facts one community report is written from (~4 per token).
    report_chars: int = Field(default=6000, ge=500, le=100_000)
    #: Ack wait of the build commands: a build whose process died is taken over this long after
    #: its last heartbeat (heartbeats go out every third of it).
    build_ack_wait_s: float = Field(default=30.0, ge=1.0, le=3600.0)

    @model_validator(mode="after")
    def _debounce_is_consistent(self) -> Self:
        if self.debounce_max_wait_s < self.debounce_quiet_s:
            raise ValueError(
                "GRAPHRAG_INGEST_DEBOUNCE_MAX_WAIT_S must not be shorter than "
                "GRAPHRAG_INGEST_DEBOUNCE_QUIET_S"
            )
        if self.community_max_wait_s < self.community_quiet_s:
            raise ValueError(
                "GRAPHRAG_INGEST_COMMUNITY_MAX_WAIT_S must not be shorter than "
                "GRAPHRAG_INGEST_COMMUNITY_QUIET_S"
            )
        return self
