"""Which extractor, reporter, resolution policy, adjudicator and summariser the settings ask for.

The model-backed ones need a key; without one the offline rules decide and summarise, so the
whole pipeline runs with no model at all.
"""

from __future__ import annotations

from typing import Any

from coagent_graphrag_ingest.adapters.offline_extractor import OfflineExtractor
from coagent_graphrag_ingest.adjudication import Adjudicator, OfflineAdjudicator
from coagent_graphrag_ingest.cascade import ResolutionPolicy
from coagent_graphrag_ingest.ports import Extractor
from coagent_graphrag_ingest.reports import OfflineReporter, Reporter
from coagent_graphrag_ingest.settings import GraphragIngestSettings
from coagent_graphrag_ingest.summaries import OfflineSummariser, Summariser


def _model_options(cfg: GraphragIngestSettings) -> dict[str, Any]:
    """The endpoint options every model-backed port takes (only called when a key is set)."""
    assert cfg.llm_api_key is not None
    return {
        "api_key": cfg.llm_api_key.get_secret_value(),
        "model": cfg.llm_model,
        "base_url": cfg.llm_base_url,
        "max_retries": cfg.llm_max_retries,
        "timeout_s": cfg.llm_timeout_s,
    }


def extractor(cfg: GraphragIngestSettings) -> Extractor:
    """The model extractor when a key is configured, else the offline rules."""
    if cfg.llm_api_key is None:
        return OfflineExtractor()
    # Imported here so a keyless deployment never loads the SDK.
    from coagent_graphrag_ingest.adapters.openai_extractor import OpenAIExtractor

    return OpenAIExtractor(**_model_options(cfg))


def reporter(cfg: GraphragIngestSettings) -> Reporter:
    """Community reports by the model when a key is configured, else by the offline rules."""
    if cfg.llm_api_key is None:
        return OfflineReporter()
    from coagent_graphrag_ingest.adapters.openai_reporter import OpenAIReporter

    return OpenAIReporter(**_model_options(cfg))


def resolution_policy(cfg: GraphragIngestSettings) -> ResolutionPolicy:
    return ResolutionPolicy(
        fuzzy=cfg.resolve_fuzzy,
        fuzzy_ratio=cfg.resolve_fuzzy_ratio,
        embedding=cfg.resolve_embedding,
        embedding_threshold=cfg.resolve_embedding_threshold,
        embedding_neighbours=cfg.resolve_embedding_neighbours,
        adjudication=cfg.resolve_adjudication,
        adjudication_batch=cfg.resolve_adjudication_batch,
    )


def adjudicator(cfg: GraphragIngestSettings) -> Adjudicator:
    if cfg.llm_api_key is None:
        return OfflineAdjudicator()
    # Imported here so a keyless deployment never loads the SDK.
    from coagent_graphrag_ingest.adapters.openai_models import OpenAIAdjudicator

    return OpenAIAdjudicator(**_model_options(cfg))


def summariser(cfg: GraphragIngestSettings) -> Summariser:
    if cfg.llm_api_key is None:
        return OfflineSummariser()
    from coagent_graphrag_ingest.adapters.openai_models import OpenAISummariser

    return OpenAISummariser(**_model_options(cfg))
