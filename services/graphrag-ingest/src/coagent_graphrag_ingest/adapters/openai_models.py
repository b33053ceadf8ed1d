"""Adjudication and summaries through an OpenAI-compatible chat model, with instructor.

Both answer a whole batch in one call: the numbered items go in one user message and the
reply is a structured list keyed by item number (instructor sends the schema, validates the
reply and re-asks with the validation error when it does not fit). Items the reply leaves
out are ``unsure`` (adjudication) or left for a later pass (summaries), never guessed. Tool
calling on official OpenAI, JSON mode on other endpoints, as for extraction. Used only when a
key is set; tests talk to a scripted fake server through an in-process transport.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, Field

from coagent_graphrag_ingest.adapters.openai_client import (
    ModelCallFailed,
    StructuredChatModel,
)
from coagent_graphrag_ingest.adjudication import (
    ADJUDICATION_PROMPT,
    PairQuestion,
    Verdict,
    pair_prompt,
)
from coagent_graphrag_ingest.summaries import SUMMARY_PROMPT, SummaryRequest, summary_prompt

__all__ = ["ModelCallFailed", "OpenAIAdjudicator", "OpenAISummariser"]


class PairDecision(BaseModel):
    pair: int = Field(ge=0, description="The pair's number")
    decision: Literal["same", "different", "unsure"]
    reason: str = Field(default="", max_length=300, description="Why, in a few words")


class PairDecisions(BaseModel):
    """One decision per numbered pair."""

    decisions: list[PairDecision] = Field(default_factory=list)


class ItemSummary(BaseModel):
    item: int = Field(ge=0, description="The item's number")
    summary: str = Field(min_length=1, max_length=1200)


class ItemSummaries(BaseModel):
    """One summary per numbered item."""

    summaries: list[ItemSummary] = Field(default_factory=list)


class OpenAIAdjudicator(StructuredChatModel):
    """``Adjudicator`` backed by a chat-completions endpoint: one call per batch."""

    async def decide(self, pairs: Sequence[PairQuestion]) -> list[Verdict]:
        if not pairs:
            return []
        reply = await self._ask(ADJUDICATION_PROMPT, pair_prompt(pairs), PairDecisions)
        answered = {d.pair: d for d in reply.decisions if d.pair < len(pairs)}
        verdicts = []
        for number in range(len(pairs)):
            decision = answered.get(number)
            if decision is None:
                verdicts.append(Verdict("unsure", "the model did not answer this pair"))
            else:
                verdicts.append(Verdict(decision.decision, decision.reason or "model"))
        return verdicts


class OpenAISummariser(StructuredChatModel):
    """``Summariser`` backed by a chat-completions endpoint: one call per batch."""

    async def summarise(self, requests: Sequence[SummaryRequest]) -> list[str | None]:
        if not requests:
            return []
        reply = await self._ask(SUMMARY_PROMPT, summary_prompt(requests), ItemSummaries)
        made = {s.item: s.summary.strip() for s in reply.summaries if s.summary.strip()}
        return [made.get(number) for number in range(len(requests))]
