"""Extraction through an OpenAI-compatible chat model, with instructor's structured output.

instructor sends the ``Extraction`` schema, validates the reply with pydantic and, when it does
not fit, re-asks with the validation error up to ``max_retries`` times (schema repair), which is
what weak local models need. Official OpenAI gets tool calling; other endpoints (vLLM, Ollama,
LM Studio …) get plain JSON mode, which more of them support. Used only when a key is set; its
tests talk to a scripted fake server through an in-process transport, never to a model.
"""

from __future__ import annotations

from coagent_graphrag_ingest.adapters.openai_client import ModelCallFailed, StructuredChatModel
from coagent_graphrag_ingest.chunking import TextChunk
from coagent_graphrag_ingest.extraction import SYSTEM_PROMPT, Extraction


class ExtractionFailed(ModelCallFailed):
    """The model did not produce a valid extraction (after repair) or could not be reached."""


class OpenAIExtractor(StructuredChatModel):
    """``Extractor`` backed by a chat-completions endpoint."""

    failure = ExtractionFailed

    @property
    def version(self) -> str:
        # The endpoint is part of the identity: another model may extract differently.
        return f"openai-{self.endpoint}"

    async def extract(self, chunk: TextChunk) -> Extraction:
        user = f"Extract from this conversation:\n\n{chunk.text}"
        return await self._ask(SYSTEM_PROMPT, user, Extraction, "extraction")
