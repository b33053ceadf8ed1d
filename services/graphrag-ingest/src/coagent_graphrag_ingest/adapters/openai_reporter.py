"""Community reports through an OpenAI-compatible chat model, with instructor's structured output.

Like the extractor: the ``ReportDraft`` schema is sent with the prompt, a reply that does not
fit is sent back with the validation error (schema repair), tool calling on official OpenAI and
JSON mode elsewhere. Findings cite fact numbers; unknown numbers are dropped afterwards.
"""

from __future__ import annotations

import httpx2

from coagent_graphrag_ingest.adapters.openai_client import endpoint_fingerprint, structured_client
from coagent_graphrag_ingest.reports import REPORT_PROMPT, ReportDraft, ReportInput


class ReportFailed(RuntimeError):
    """The model did not produce a valid report (after repair) or could not be reached."""


class OpenAIReporter:
    """``Reporter`` backed by a chat-completions endpoint."""

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
        where = endpoint_fingerprint(base_url, model)
        self._version = f"openai-report-{where}"

    @property
    def version(self) -> str:
        return self._version

    async def report(self, facts: ReportInput) -> ReportDraft:
        messages = [
            {"role": "system", "content": REPORT_PROMPT},
            {"role": "user", "content": facts.prompt()},
        ]
        try:
            result: ReportDraft = await self._client.chat.completions.create(
                model=self._model,
                response_model=ReportDraft,
                messages=messages,  # type: ignore[arg-type]
                max_retries=self._max_retries,
                temperature=0,
            )
        except Exception as exc:  # SDK, transport and validation errors alike
            raise ReportFailed(f"report by {self._model} failed: {exc}") from exc
        return result
