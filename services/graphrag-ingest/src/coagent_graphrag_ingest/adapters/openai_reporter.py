"""Community reports through an OpenAI-compatible chat model, with instructor's structured output.

Like the extractor: the ``ReportDraft`` schema is sent with the prompt, a reply that does not
fit is sent back with the validation error (schema repair), tool calling on official OpenAI and
JSON mode elsewhere. Findings cite fact numbers; unknown numbers are dropped afterwards.
"""

from __future__ import annotations

import hashlib

import httpx2
import instructor
from openai import AsyncOpenAI

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
        client = AsyncOpenAI(
            api_key=api_key,
            base_url=base_url,
            max_retries=1,
            timeout=timeout_s,
            http_client=http_client,
        )
        mode = instructor.Mode.TOOLS if base_url is None else instructor.Mode.JSON
        self._client = instructor.from_openai(client, mode=mode)
        self._model = model
        self._max_retries = max_retries
        where = hashlib.sha256(f"{base_url or 'openai'}|{model}".encode()).hexdigest()[:12]
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
