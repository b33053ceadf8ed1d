"""Per-model prices and the in-memory ledger of what each call and each run consumed.

Runs have a token/cost budget (DESIGN §8), so cost must be known per call. Prices are a dated
snapshot of public list prices in USD per 1M tokens; a model missing from the table (local models
behind an OpenAI-compatible URL, new releases) costs 0 and is flagged ``priced=False`` rather than
guessed. Persisting the ledger is another component's job: it reads ``LLMCallRecord`` values.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from coagent_workflow_engine.llm.ports import Usage

PRICES_AS_OF = "2025-06"


@dataclass(frozen=True, slots=True)
class Price:
    """USD per one million input (prompt) and output (completion) tokens."""

    input_per_m: float
    output_per_m: float


#: Keys are model-name prefixes; the longest matching prefix wins (``gpt-4o-mini-2024-07-18``
#: → ``gpt-4o-mini``, not ``gpt-4o``).
PRICE_TABLE: dict[str, Price] = {
    # OpenAI
    "gpt-5": Price(1.25, 10.00),
    "gpt-5-mini": Price(0.25, 2.00),
    "gpt-5-nano": Price(0.05, 0.40),
    "gpt-4.1": Price(2.00, 8.00),
    "gpt-4.1-mini": Price(0.40, 1.60),
    "gpt-4.1-nano": Price(0.10, 0.40),
    "gpt-4o": Price(2.50, 10.00),
    "gpt-4o-mini": Price(0.15, 0.60),
    "gpt-4-turbo": Price(10.00, 30.00),
    "gpt-3.5-turbo": Price(0.50, 1.50),
    "o1": Price(15.00, 60.00),
    "o1-mini": Price(1.10, 4.40),
    "o3": Price(2.00, 8.00),
    "o3-mini": Price(1.10, 4.40),
    "o4-mini": Price(1.10, 4.40),
    # Google Gemini (prompts up to 200k tokens where tiers differ)
    "gemini-2.5-pro": Price(1.25, 10.00),
    "gemini-2.5-flash": Price(0.30, 2.50),
    "gemini-2.5-flash-lite": Price(0.10, 0.40),
    "gemini-2.0-flash": Price(0.10, 0.40),
    "gemini-2.0-flash-lite": Price(0.075, 0.30),
    "gemini-1.5-pro": Price(1.25, 5.00),
    "gemini-1.5-flash": Price(0.075, 0.30),
    "gemini-1.5-flash-8b": Price(0.0375, 0.15),
}


def price_for(model: str, table: dict[str, Price] | None = None) -> Price | None:
    """The price of ``model`` by longest prefix (``models/`` stripped), or ``None`` if unknown."""
    prices = PRICE_TABLE if table is None else table
    name = model.strip().lower().removeprefix("models/")
    best: str | None = None
    for prefix in prices:
        if name.startswith(prefix) and (best is None or len(prefix) > len(best)):
            best = prefix
    return None if best is None else prices[best]


def cost_of(
    model: str, usage: Usage, *, offline: bool = False, table: dict[str, Price] | None = None
) -> tuple[float, bool]:
    """``(cost_usd, priced)`` of one call. Offline calls are free and count as priced."""
    if offline:
        return 0.0, True
    price = price_for(model, table)
    if price is None:
        return 0.0, False
    cost = usage.prompt_tokens * price.input_per_m + usage.completion_tokens * price.output_per_m
    return round(cost / 1_000_000, 10), True


CallKind = Literal["complete", "stream", "structured"]


class LLMCallRecord(BaseModel):
    """One provider call as the ledger stores it (failed calls are recorded too, with ``error``)."""

    model_config = ConfigDict(frozen=True)

    run_id: str | None
    tenant_id: str
    provider: str
    model: str
    kind: CallKind
    usage: Usage
    cost_usd: float
    priced: bool
    offline: bool
    duration_ms: float
    error: str | None = None
    at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class RunTotals(BaseModel):
    """Sums over the calls of one run: what a budget check compares against its limits."""

    model_config = ConfigDict(frozen=True)

    calls: int = 0
    failed_calls: int = 0
    usage: Usage = Usage()
    cost_usd: float = 0.0
    #: True when at least one call used a model missing from the price table.
    has_unpriced: bool = False

    def plus(self, record: LLMCallRecord) -> RunTotals:
        return RunTotals(
            calls=self.calls + 1,
            failed_calls=self.failed_calls + (record.error is not None),
            usage=self.usage + record.usage,
            cost_usd=round(self.cost_usd + record.cost_usd, 10),
            has_unpriced=self.has_unpriced or not record.priced,
        )


class UsageLedger:
    """Accumulates call records per run in memory (single event loop, so no locking needed)."""

    def __init__(self) -> None:
        self._records: list[LLMCallRecord] = []
        self._by_run: dict[str | None, RunTotals] = defaultdict(RunTotals)

    def record(self, record: LLMCallRecord) -> None:
        self._records.append(record)
        self._by_run[record.run_id] = self._by_run[record.run_id].plus(record)

    def records(self, run_id: str | None = None) -> list[LLMCallRecord]:
        """Every record, or those of one run, oldest first."""
        if run_id is None:
            return list(self._records)
        return [r for r in self._records if r.run_id == run_id]

    def run_totals(self, run_id: str | None) -> RunTotals:
        return self._by_run.get(run_id, RunTotals())

    def drain(self) -> list[LLMCallRecord]:
        """Hand every record to a persister and forget them (run totals are kept)."""
        records, self._records = self._records, []
        return records
