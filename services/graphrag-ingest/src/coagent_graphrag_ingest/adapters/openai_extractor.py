"""Extraction through an OpenAI-compatible chat model, with instructor's structured output.

instructor sends the ``Extraction`` schema, validates the reply with pydantic and, when it does
not fit, re-asks with the validation error up to ``max_retries`` times (schema repair), which is
what weak local models need. Official OpenAI gets tool calling; other endpoints (vLLM, Ollama,
LM Studio …) get plain JSON mode, which more of them support. Used only when a key is set; its
tests talk to a scripted fake server through an in-process transport, never to a model.
"""

from __future__ import annotations

import httpx2

from coagent_graphrag_ingest.adapters.openai_client import endpoint_fingerprint, structured_client
from coagent_graphrag_ingest.chunking import TextChunk
from coagent_graphrag_ingest.extraction import SYSTEM_PROMPT, Extraction


class ExtractionFailed(RuntimeError):
    """The model did not produce a valid extraction (after repair) or could not be reached."""


class OpenAIExtractor:
    """``Extractor`` backed by a chat-completions endpoint."""

    def __init__(
        self,
        *,
        api_key: str,
        model: str,
        base_url: str | None = None,
        max_retries: int = 2,
        timeout_s: float = 60.0,
        http_client: httpx2.AsyncClient | None = None,
    ) -> None:
        self._client = structured_client(
            api_key=api_key, base_url=base_url, timeout_s=timeout_s, http_client=http_client
        )
        self._model = model
        self._max_retries = max_retries
        # The endpoint is part of the identity: another model may extract differently.
        where = endpoint_fingerprint(base_url, model)
        self._version = f"openai-{where}"

    @property
    def version(self) -> str:
        return self._version

    async def extract(self, chunk: TextChunk) -> Extraction:
        messages = [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": f"Extract from this conversation:\n\n{chunk.text}"},
        ]
        try:
            result: Extraction = await self._client.chat.completions.create(
                model=self._model,
                response_model=Extraction,
                messages=messages,  # type: ignore[arg-type]
                max_retries=self._max_retries,
                temperature=0,
            )
        except Exception as exc:  # SDK, transport and validation errors alike
            raise ExtractionFailed(f"extraction by {self._model} failed: {exc}") from exc
        return result
