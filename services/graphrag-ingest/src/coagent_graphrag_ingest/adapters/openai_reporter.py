"""Community reports through an OpenAI-compatible chat model, with instructor's structured output.

Like the extractor: the ``ReportDraft`` schema is sent with the prompt, a reply that does not
fit is sent back with the validation error (schema repair), tool calling on official OpenAI and
JSON mode elsewhere. Findings cite fact numbers; unknown numbers are dropped afterwards.
"""

from __future__ import annotations

from coagent_graphrag_ingest.adapters.openai_client import ModelCallFailed, StructuredChatModel
from coagent_graphrag_ingest.reports import REPORT_PROMPT, ReportDraft, ReportInput


class ReportFailed(ModelCallFailed):
    """The model did not produce a valid report (after repair) or could not be reached."""


class OpenAIReporter(StructuredChatModel):
    """``Reporter`` backed by a chat-completions endpoint."""

    failure = ReportFailed

    @property
    def version(self) -> str:
        return f"openai-report-{self.endpoint}"

    async def report(self, facts: ReportInput) -> ReportDraft:
        return await self._ask(REPORT_PROMPT, facts.prompt(), ReportDraft, "report")
