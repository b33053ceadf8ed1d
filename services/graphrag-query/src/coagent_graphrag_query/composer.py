"""Which composer writes answers: the configured model, else the offline extractive one."""

from __future__ import annotations

from coagent_graphrag_query.adapters.extractive import ExtractiveChatModel
from coagent_graphrag_query.ports import ChatModel
from coagent_graphrag_query.settings import GraphragQuerySettings
from coagent_kit.settings import ServiceSettings


def chat_model(settings: ServiceSettings) -> ChatModel:
    """The OpenAI-compatible model when a key is configured, else the extractive composer."""
    if not isinstance(settings, GraphragQuerySettings) or settings.llm_api_key is None:
        return ExtractiveChatModel()
    # Imported here so a keyless deployment never loads the SDK.
    from coagent_graphrag_query.adapters.openai_chat import OpenAIChatModel

    return OpenAIChatModel(
        api_key=settings.llm_api_key.get_secret_value(),
        model=settings.llm_model,
        base_url=settings.llm_base_url,
        timeout_s=settings.llm_timeout_s,
    )
